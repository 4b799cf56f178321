"""The classic examples' base images, offline: each stand-in (or official image) builds and runs
what its kind of Dockerfile does with it. Go compiled and shipped FROM scratch, Java compiled on
the JDK and run on the JRE, TypeScript compiled by Node and served by nginx."""

from __future__ import annotations

import time
import urllib.request

import pytest

import stagelab as sl
from stagelab import engine, images

pytestmark = pytest.mark.engine

GO_MAIN = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from Go") }\n'
JAVA_MAIN = (
    "public class Hello {\n"
    '  public static void main(String[] args) { System.out.println("hello from Java"); }\n'
    "}\n"
)
TYPESCRIPT = 'const greeting: string = "hello from TypeScript";\nconsole.log(greeting);\n'


@pytest.fixture(scope="module")
def fetched(docker_engine):
    """Make the five extra images usable (built from Debian packages where missing)."""
    return sl.fetch_images(sl.GOLANG, sl.JRE, sl.JDK, sl.NODE, sl.NGINX, say=lambda line: None)


def test_each_image_is_usable_and_a_stand_in_says_what_made_it(fetched):
    assert [row[0] for row in fetched.rows] == [sl.GOLANG, sl.JRE, sl.JDK, sl.NODE, sl.NGINX]
    for official, served_by, _ in fetched.rows:
        if served_by == official:
            continue  # the official image is on this engine
        labels = engine.client().api.inspect_image(served_by)["Config"]["Labels"]
        assert labels[images.STANDS_IN_LABEL] == official
        assert "not the official image" in labels["org.opencontainers.image.description"]
        assert f"Debian {images.STANDIN_RELEASE} " in labels["io.stagelab.made-from"]
        assert labels["org.opencontainers.image.version"][0].isdigit()


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_go_compiles_a_program_that_runs_from_scratch(fetched, builder):
    result = sl.build(
        f"""
FROM {sl.GOLANG} AS build
WORKDIR /src
COPY go.mod main.go ./
RUN go build -o /hello .
FROM scratch
COPY --from=build /hello /hello
CMD ["/hello"]
""",
        files={"go.mod": "module example.com/hello\n\ngo 1.19\n", "main.go": GO_MAIN},
        builder=builder,
        progress=False,
    )
    assert sl.run(result.image_id).strip() == "hello from Go"
    assert result.size_mb < 5, "a static Go binary alone"


def test_java_compiled_with_the_jdk_runs_on_the_jre(fetched):
    result = sl.build(
        f"""
FROM {sl.JDK} AS build
WORKDIR /src
COPY Hello.java .
RUN javac -d /classes Hello.java
FROM {sl.JRE}
COPY --from=build /classes /app
CMD ["java", "-cp", "/app", "Hello"]
""",
        files={"Hello.java": JAVA_MAIN},
        progress=False,
    )
    assert sl.run(result.image_id).strip() == "hello from Java"
    assert sl.run_status(result.image_id, "javac -version")[0] != 0, "no compiler on the JRE"


def test_typescript_compiled_by_node_is_served_by_nginx(fetched):
    compiled = sl.build(
        f"FROM {sl.NODE}\nWORKDIR /src\nCOPY app.ts .\nRUN tsc --outDir /out app.ts\n"
        'CMD ["node", "/out/app.js"]\n',
        files={"app.ts": TYPESCRIPT},
        progress=False,
    )
    assert sl.run(compiled.image_id).strip() == "hello from TypeScript"
    site = sl.build(
        f"""
FROM {sl.NODE} AS build
WORKDIR /src
COPY app.ts .
RUN tsc --outDir /out app.ts
FROM {sl.NGINX}
COPY --from=build /out/app.js /usr/share/nginx/html/app.js
""",
        files={"app.ts": TYPESCRIPT},
        progress=False,
    )
    assert sl.run_status(site.image_id, "node --version")[0] != 0, "no Node in the runtime"
    container = engine.client().containers.run(
        site.image_id, detach=True, labels=images.labels("container")
    )
    try:
        served = _fetch(container, "/app.js")
    finally:
        container.remove(force=True)
    assert 'greeting = "hello from TypeScript"' in served


def _fetch(container, path: str) -> str:
    """Return what the container's web server answers on port 80 (from this host, over the
    engine's bridge network), waiting up to 30 s for it to listen."""
    deadline = time.monotonic() + 30
    while True:
        container.reload()
        address = container.attrs["NetworkSettings"]["IPAddress"]
        try:
            with urllib.request.urlopen(f"http://{address}{path}", timeout=5) as answer:
                return answer.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
