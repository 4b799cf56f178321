"""Real builds on the real engine, both builders: plan() against what the engine reports."""

import contextlib
import io
import os
import signal
import subprocess
import sys
import textwrap
import time

import docker.errors
import pytest
import requests

import stagelab as sl
from stagelab import containers, engine, images

pytestmark = pytest.mark.engine
BUILDERS = ["buildkit", "classic"]

PIPELINE = """\
FROM busybox:1.36 AS base
RUN echo base > /base.txt

FROM base AS build
RUN echo built > /app.txt

FROM busybox:1.36 AS test
RUN echo testing > /test.txt

FROM busybox:1.36
COPY --from=build /app.txt /app.txt
COPY --from=0 /base.txt /b.txt
"""

DIAMOND = """\
ARG FLAVOUR=left
FROM busybox:1.36 AS Shared
RUN echo shared > /shared
FROM shared AS left
RUN echo left > /side
FROM shared AS right
RUN echo right > /side
FROM busybox:1.36 AS tools
COPY --from=shared /shared /tools-shared
FROM ${FLAVOUR} AS chosen
FROM busybox:1.36 AS release
COPY --from=chosen /side /side
"""

MOUNTS = """\
FROM busybox:1.36 AS data
RUN echo payload > /payload
FROM busybox:1.36 AS unrelated
RUN echo never needed
FROM busybox:1.36
RUN --mount=type=bind,from=data,source=/payload,target=/mnt/payload cp /mnt/payload /copied
"""

METADATA_ONLY = """\
ARG MODE=prod
FROM busybox:1.36 AS dev
RUN echo dev > /dev.txt
FROM busybox:1.36 AS prod
CMD ["sh"]
FROM ${MODE}
ENV SHIPPED=1
CMD ["echo", "hi"]
"""

CASES = [
    (PIPELINE, None, None),
    (PIPELINE, "build", None),
    (PIPELINE, "test", None),
    (DIAMOND, None, None),
    (DIAMOND, None, {"FLAVOUR": "right"}),
    (DIAMOND, "tools", None),
    (MOUNTS, None, None),
    (METADATA_ONLY, None, None),
    (METADATA_ONLY, None, {"MODE": "dev"}),
]


def _salted(text: str, salt: str) -> str:
    # A unique ARG per test run keeps the first build honest (nothing cached from earlier runs).
    return text.replace("RUN echo", f"RUN echo {salt} >/dev/null && echo")


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("text, target, build_args", CASES)
def test_engine_runs_exactly_the_planned_stages(docker_engine, builder, text, target, build_args):
    text = _salted(text, f"{time.time_ns()}")
    if builder == "classic" and "--mount" in text:
        with pytest.raises(sl.BuildFailed, match="mount"):
            sl.build(text, target=target, builder=builder, build_args=build_args)
        return  # the classic builder has no RUN --mount
    parsed = sl.parse_dockerfile(text)
    planned = parsed.plan(target, builder, build_args)

    first = sl.build(text, target=target, builder=builder, build_args=build_args)
    assert set(first.ran) == set(planned), first
    assert set(first.skipped) == {s.ref for s in parsed.stages} - set(planned)
    salted = {
        stage.ref
        for stage in parsed.resolve(build_args)
        if stage.ref in planned and any("RUN echo" in step.original for step in stage.steps)
    }
    assert salted <= set(first.built), "a stage with a never-seen RUN is built"
    assert first.image_id and first.size_bytes > 0

    again = sl.build(text, target=target, builder=builder, build_args=build_args)
    assert set(again.ran) == set(planned)
    assert set(again.cached) == set(planned), again
    assert again.image_id == first.image_id


@pytest.mark.parametrize("builder", BUILDERS)
def test_the_default_output_is_the_last_stage(docker_engine, builder):
    result = sl.build(PIPELINE, builder=builder)
    listed = sl.files(result.image_id)
    assert {"/app.txt", "/b.txt", "/bin/busybox"} <= set(listed)
    assert "/test.txt" not in listed and "/base.txt" not in listed
    assert sl.run(result.image_id, ["cat", "/app.txt"]).strip() == "built"


@pytest.mark.parametrize("builder", BUILDERS)
def test_a_tool_from_another_stage_is_not_found(docker_engine, builder):
    text = (
        "FROM busybox:1.36 AS tools\n"
        "RUN printf '#!/bin/sh\\necho hi\\n' > /bin/greet && chmod +x /bin/greet\n"
        "FROM busybox:1.36 AS app\nRUN greet\n"
    )
    with pytest.raises(sl.BuildFailed) as caught:
        sl.build(text, builder=builder, no_cache=True)
    failure = caught.value
    assert failure.exit_code == 127
    assert failure.stage == "app"
    assert failure.line == 4
    assert failure.instruction == "RUN greet"
    assert "not found" in failure.log_tail
    assert "exit code 127" in str(failure) and "line 4" in str(failure)
    assert failure.result.stage_status["app"] == "failed"


@pytest.mark.parametrize("builder", BUILDERS)
def test_a_failing_run_names_stage_line_and_exit_code(docker_engine, builder):
    text = "FROM busybox:1.36 AS check\nRUN echo about to fail && exit 3\n"
    with pytest.raises(sl.BuildFailed) as caught:
        sl.build(text, builder=builder, no_cache=True)
    assert (caught.value.stage, caught.value.line, caught.value.exit_code) == ("check", 2, 3)
    assert "about to fail" in caught.value.log_tail
    assert len(str(caught.value).splitlines()) < 25


def test_malformed_dockerfile_fails_before_the_engine(docker_engine):
    with pytest.raises(sl.DockerfileError, match="line 2"):
        sl.build("FROM busybox:1.36\nCOPPY a b\n")


def test_target_must_be_a_named_stage(docker_engine):
    with pytest.raises(sl.DockerfileError, match="AS name"):
        sl.build(PIPELINE, target="3")


def test_context_directory_and_files(docker_engine, tmp_path):
    (tmp_path / "hello.txt").write_text("from the context\n")
    (tmp_path / "Dockerfile").write_text("FROM busybox:1.36\nCOPY hello.txt /hello.txt\n")
    from_dir = sl.build(tmp_path)
    from_text = sl.build(
        "FROM busybox:1.36\nCOPY hello.txt /hello.txt\n", files={"hello.txt": "from the context\n"}
    )
    assert from_dir.image_id == from_text.image_id
    assert sl.run(from_dir.image_id, "cat /hello.txt") == "from the context\n"


def test_output_exports_files_and_makes_no_image(docker_engine, tmp_path):
    result = sl.build(
        "FROM busybox:1.36 AS make\nRUN echo artefact > /out.txt\n"
        "FROM scratch\nCOPY --from=make /out.txt /\n",
        output=tmp_path / "out",
    )
    assert (tmp_path / "out" / "out.txt").read_text() == "artefact\n"
    assert result.image_id is None


def test_tag_and_labels(docker_engine):
    tag = f"stagelab-test/tagged:{os.getpid()}"
    result = sl.build(PIPELINE, tag=tag)
    try:
        image = engine.client().images.get(tag)
        assert image.id == result.image_id
        assert image.labels[images.LABEL] == "stagelab"
        assert image.labels[images.KIND_LABEL] == "build"
    finally:
        engine.client().images.remove(tag)  # a tag left behind would make the image someone's


def test_substitutions_only_without_registry(docker_engine):
    result = sl.build(PIPELINE)
    if images.registry_answers() or images.present("busybox:1.36"):
        assert result.substitutions == {}
    else:
        assert result.substitutions == {"busybox:1.36": "stagelab/offline-busybox:1.36"}
        assert not images.present("busybox:1.36"), "a stand-in never takes the official name"


@pytest.mark.parametrize("builder", BUILDERS)
def test_a_cached_rebuild_asks_the_engine_only_what_can_change(docker_engine, monkeypatch, builder):
    """What the engine has under an image id, and the stand-ins stagelab made, stay known to
    the process; whether an engine answers and which official images it has are asked again."""
    first = sl.build(PIPELINE, builder=builder, progress=False)
    asked = []
    send = requests.Session.send

    def counted(session, request, **options):
        asked.append(request.path_url.split("/", 2)[-1])  # without the API version
        return send(session, request, **options)

    monkeypatch.setattr(requests.Session, "send", counted)
    again = sl.build(PIPELINE, builder=builder, progress=False)
    assert (again.image_id, again.size_bytes, again.substitutions) == (
        first.image_id,
        first.size_bytes,
        first.substitutions,
    )
    engine_requests = [path for path in asked if not path.startswith("build")]
    assert engine_requests == ["_ping", "images/busybox:1.36/json"]


def test_no_engine_raises_engine_unavailable_with_advice(tmp_path):
    script = textwrap.dedent("""
        import stagelab as sl
        try:
            sl.build("FROM busybox:1.36\\nRUN true\\n")
        except sl.EngineUnavailable as error:
            print("ADVICE:", error)
        """)
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/nowhere.sock"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "ADVICE: No Docker engine answers at unix://" in done.stdout, done.stderr
    assert "DOCKER_HOST" in done.stdout


def test_clean_spares_what_stagelab_did_not_make(docker_engine, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        f"FROM stagelab/offline-busybox:1.36\nRUN echo foreign {time.time_ns()} > /f\n"
    )
    foreign_tag = f"learner/own:{os.getpid()}"
    subprocess.run(
        ["docker", "build", "-q", "-t", foreign_tag, str(tmp_path)], check=True, capture_output=True
    )
    client = engine.client()
    foreign_container = client.containers.create(foreign_tag, command=["true"])
    salt = str(time.time_ns())
    ours = sl.build(_salted(PIPELINE, salt))
    sl.build(_salted(PIPELINE, salt), builder="classic")  # keeps an image of every stage
    try:
        removed = sl.clean()
        assert removed["images"] >= 1
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(ours.image_id)
        left = [
            image.id
            for image in client.images.list(all=True)
            if any(salt in (layer.get("CreatedBy") or "") for layer in _history(image))
        ]
        assert left == [], "every image of every stage stagelab built is gone"
        assert client.images.get(foreign_tag)
        assert client.containers.get(foreign_container.id)
        assert images.present("stagelab/offline-busybox:1.36"), "stand-ins stay without --all"
    finally:
        foreign_container.remove(force=True)
        client.images.remove(foreign_tag, force=True)


def test_remove_tags_takes_off_only_the_tags_stagelab_gave(docker_engine, tmp_path):
    salt = str(time.time_ns())
    ours_tag, foreign_tag = f"stagelab-test/tagged:{salt}", f"learner/own:{salt}"
    ours = sl.build(f"FROM busybox:1.36\nRUN echo {salt} > /s\n", tag=ours_tag)
    client = engine.client()
    client.images.get(ours.image_id).tag(foreign_tag)  # the learner's own name for it
    try:
        assert sl.remove_tags(ours_tag, foreign_tag, "stagelab-test/never:made") == [ours_tag]
        assert not images.present(ours_tag)
        assert client.images.get(foreign_tag).id == ours.image_id, "the learner's name stays"
    finally:
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(foreign_tag, force=True)


def _history(image) -> list[dict]:
    """Return an image's history; none for an image another user of the engine removed since it
    was listed (the engine is shared: what is gone is not left behind)."""
    try:
        return image.history()
    except docker.errors.ImageNotFound:
        return []


INTERRUPT_SCRIPT = """
import stagelab as sl, sys
try:
    sl.build("FROM busybox:1.36\\nRUN echo {salt} && sleep {seconds}\\n", builder="{builder}",
             progress=False)
except KeyboardInterrupt:
    print("INTERRUPTED", flush=True)
"""


@pytest.mark.parametrize("builder", BUILDERS)
def test_interrupt_stops_the_engine_work(docker_engine, builder):
    seconds = 40 + BUILDERS.index(builder)
    script = INTERRUPT_SCRIPT.format(salt=time.time_ns(), seconds=seconds, builder=builder)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _sleeping(seconds):
        time.sleep(0.2)
    assert _sleeping(seconds), "the build never started its RUN"
    began = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    assert "INTERRUPTED" in out
    assert time.monotonic() - began < 30
    time.sleep(2)
    assert not _sleeping(seconds), "the RUN kept going after the interrupt"
    leftovers = engine.client().containers.list(all=True, filters={"status": "running"})
    assert not [c for c in leftovers if "sleep" in " ".join(c.attrs["Args"] or [])]


def _sleeping(seconds: int) -> bool:
    done = subprocess.run(["pgrep", "-f", f"sleep {seconds}$"], capture_output=True, check=False)
    return done.returncode == 0


@pytest.mark.parametrize("builder", BUILDERS)
def test_an_image_nobody_has_says_what_to_do(docker_engine, builder):
    if images.registry_answers():
        pytest.skip("a registry answers here: the engine would pull")
    with pytest.raises(sl.BuildFailed) as caught:
        sl.build("FROM stagelab-test/nowhere:1\nRUN true\n", builder=builder)
    assert "stagelab-test/nowhere:1 is not on this engine" in str(caught.value)
    assert "busybox:1.36" in str(caught.value)


def test_classic_builder_refuses_output(tmp_path):
    with pytest.raises(sl.StagelabError, match="needs BuildKit"):
        sl.build(PIPELINE, builder="classic", output=tmp_path)


def test_files_lists_only_the_image_and_run_reports_a_missing_command(docker_engine):
    result = sl.build("FROM scratch\nCOPY hello.txt /app/hello.txt\n", files={"hello.txt": "hi\n"})
    assert sl.files(result.image_id) == ["/app/hello.txt"]
    assert sl.files(result.image_id, "/app") == ["/app/hello.txt"]
    assert sl.files(result.image_id, "/nowhere") == []
    with pytest.raises(sl.StagelabError) as caught:
        sl.run(result.image_id, "ls /app")
    assert caught.value.exit_code == 127


LISTED = """\
FROM python:3.11-slim-bookworm
WORKDIR /app
COPY . .
RUN ln -s /app/data /linked && mkdir -p /empty/inner && ln -s python3 /usr/local/bin/py \\
    && touch "/app/data/with space.txt" /app/data/.hidden && ln /app/greet.py /app/hard.py
VOLUME /app/data
USER 1000
"""


def test_find_in_a_container_lists_what_an_export_holds(docker_engine):
    """files() lists a large image with busybox's `find` in a container of it: the same paths,
    under every kind of `under`, as the export it replaces (the reference, from the engine)."""
    result = sl.build(
        LISTED,
        files={"greet.py": "print('hi')\n", "data/rows.csv": "a,b\n", "tests/test_x.py": ""},
    )
    assert result.size_bytes > containers.EXPORT_AT_MOST_BYTES
    for under in ["/", "/app", "/app/", "/app/data", "/linked", "/usr/local/bin/py", "/empty",
                  "/app/greet.py", "/nowhere", "/usr/local/bin"]:  # fmt: skip
        found = containers._listed_by_find(result.image_id, under)
        assert found is not None, "this engine mounts images: find runs"
        exported = containers._listed_by_export(result.image_id, under)
        assert containers.image_paths(found, under) == containers.image_paths(exported, under)
    listed = sl.files(result.image_id)
    assert {"/app/data/with space.txt", "/app/hard.py", "/linked", "/app/tests/test_x.py"} <= set(
        listed
    )
    assert not any(path.startswith(containers.TOOLS_AT) for path in listed)


def test_where_find_cannot_run_the_export_lists(docker_engine, monkeypatch):
    result = sl.build(LISTED, files={"greet.py": "", "data/rows.csv": "", "tests/test_x.py": ""})
    monkeypatch.setattr(containers, "_busybox_image", lambda: result.image_id)  # no busybox
    assert containers._listed_by_find(result.image_id, "/app") is None
    assert sl.files(result.image_id, "/app") == [
        "/app/Dockerfile",  # the text goes into the build context, and COPY . . copies it
        "/app/data/.hidden",
        "/app/data/rows.csv",
        "/app/data/with space.txt",
        "/app/greet.py",
        "/app/hard.py",
        "/app/tests/test_x.py",
    ]


def test_after_a_failure_the_stages_that_never_ran_are_not_built(docker_engine):
    text = (
        f"FROM busybox:1.36 AS broken\nRUN echo {time.time_ns()} && exit 4\n"
        "FROM busybox:1.36\nCOPY --from=broken /etc/passwd /copied\n"
    )
    with pytest.raises(sl.BuildFailed) as caught:
        sl.build(text)
    assert caught.value.result.stage_status == {"broken": "failed", "1": "skipped"}


def test_no_image_stands_in_for_a_stage_index_in_classic_from(docker_engine, tmp_path):
    """The classic builder takes a name that is no tag for the start of an image ID: an image
    whose ID alone begins with the digits of `FROM 1` would be built on. stagelab writes such a
    name in full, so `FROM <number>` fails on the classic builder whatever images the engine has.
    Expected values from the engine: the raw classic build builds on our image."""
    client = engine.client()
    busybox = images.STANDINS[sl.BUSYBOX]
    made, prefix = [], ""
    try:
        for attempt in range(60):  # an ID that starts with 3 digits: about 1 in 4
            image, _ = client.images.build(
                fileobj=io.BytesIO(
                    f"FROM {busybox}\nLABEL attempt={attempt}-{time.time()}\n".encode()
                ),
                labels=images.labels("build"),
                rm=True,
            )
            made.append(image.id)
            hex_id = image.id.removeprefix("sha256:")
            prefix = next((hex_id[:n] for n in range(3, 7) if _alone(client, hex_id[:n])), "")
            if prefix:
                break
        assert prefix, "no image ID began with 3 digits of its own in 60 builds"
        text = f"FROM {busybox} AS first\nRUN true\nFROM {prefix} AS again\nRUN true\n"
        (tmp_path / "Dockerfile").write_text(text)
        raw = subprocess.run(
            ["docker", "build", "-q", str(tmp_path)],
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert raw.returncode == 0, raw.stderr  # the engine built on the image with that ID
        made.append(raw.stdout.strip())
        with pytest.raises(sl.BuildFailed) as failed:
            sl.build(text, builder="classic")
        assert failed.value.result.stage_status["again"] == "failed"
        assert failed.value.result.stage_status["first"] != "skipped"
    finally:
        for image_id in reversed(made):
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(image_id, force=True)


def _alone(client, digits: str) -> bool:
    """Tell whether `digits` are digits only and the start of one image ID on the engine."""
    if not digits.isdigit():
        return False
    try:
        return client.images.get(digits).id.removeprefix("sha256:").startswith(digits)
    except docker.errors.APIError:  # no image, or several, begin so
        return False
