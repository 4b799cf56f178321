"""How a build request becomes a buildx command line or a classic-builder Dockerfile."""

import io
import tarfile
from pathlib import Path

from stagelab.classic import (
    CLASSIC_DOCKERFILE,
    classic_build_options,
    classic_context,
    classic_dockerfile,
    classic_steps,
)
from stagelab.context import BuildRequest, buildx_command
from stagelab.dockerfile import Dockerfile

TEXT = """\
ARG BASE=busybox:1.36
FROM ${BASE} AS tools
RUN echo tools
FROM gcc:12-bookworm AS build
COPY --from=busybox:1.36 /bin/busybox /busybox
RUN --mount=type=bind,from=busybox:1.36,target=/bb true
FROM tools
"""
SUBSTITUTES = {
    "busybox:1.36": "stagelab/offline-busybox:1.36",
    "gcc:12-bookworm": "stagelab/offline-gcc:12-bookworm",
}


def request(**overrides):
    fields = dict(
        dockerfile=Dockerfile(TEXT),
        context_dir=Path("/ctx"),
        dockerfile_path=Path("/ctx/Dockerfile"),
        target=None,
        target_ref=None,
        builder="buildkit",
        build_args={},
        tag=None,
        no_cache=False,
        output=None,
        substitutions=dict(SUBSTITUTES),
    )
    fields.update(overrides)
    return BuildRequest(**fields)


def test_buildkit_substitutes_through_named_contexts():
    command = buildx_command(
        request(target="build", build_args={"X": "1"}, tag="t:1", no_cache=True),
        iidfile=Path("/tmp/iid"),
    )
    assert command[:4] == ["docker", "buildx", "build", "--progress=rawjson"]
    assert "--build-context" in command
    assert "busybox:1.36=docker-image://stagelab/offline-busybox:1.36" in command
    assert command[command.index("--target") + 1] == "build"
    assert command[command.index("--build-arg") + 1] == "X=1"
    assert "--no-cache" in command and command[-1] == "/ctx"
    assert command[command.index("-t") + 1] == "t:1"
    assert any(c.startswith("io.stagelab.created-by=") for c in command)


def test_output_exports_instead_of_loading_an_image():
    command = buildx_command(request(output="out"), iidfile=Path("/tmp/iid"))
    assert command[command.index("--output") + 1] == "type=local,dest=out"
    assert "--iidfile" not in command and "--label" not in command


def test_a_build_request_is_this_whole_command_line(monkeypatch):
    monkeypatch.setenv("USER", "ada")
    command = buildx_command(
        request(target="build", build_args={"X": "1"}, substitutions={}), iidfile=Path("/t/iid")
    )
    assert command == [
        "docker",
        "buildx",
        "build",
        "--progress=rawjson",
        "-f",
        "/ctx/Dockerfile",
        "--target",
        "build",
        "--build-arg",
        "X=1",
        "--label",
        "io.stagelab.created-by=stagelab",
        "--label",
        "io.stagelab.user=ada",
        "--label",
        "io.stagelab.kind=build",
        "--iidfile",
        "/t/iid",
        "/ctx",
    ]


def test_a_call_only_asks_its_question():
    command = buildx_command(
        request(target="build", build_args={"X": "1"}, tag="t:1", no_cache=True, output="out"),
        call="check,format=json",
    )
    assert command[3:5] == ["--call=check,format=json", "--progress=quiet"]
    assert command[command.index("--target") + 1] == "build"
    assert command[command.index("--build-arg") + 1] == "X=1"
    assert "busybox:1.36=docker-image://stagelab/offline-busybox:1.36" in command
    for flag in ("--no-cache", "--output", "--label", "-t", "--iidfile"):
        assert flag not in command, flag
    assert command[-1] == "/ctx"


def test_an_exporter_spec_goes_to_output_as_written():
    command = buildx_command(request(output="type=tar,dest=out.tar"))
    assert command[command.index("--output") + 1] == "type=tar,dest=out.tar"


def test_the_benchmark_can_ask_for_plain_progress():
    command = buildx_command(request(), iidfile=Path("/t/iid"), progress="plain")
    assert "--progress=plain" in command and "--progress=rawjson" not in command


def test_classic_builder_gets_a_rewritten_dockerfile():
    text = classic_dockerfile(request(builder="classic"))
    lines = [line for line in text.splitlines() if not line.startswith("LABEL ")]
    assert lines[1] == "FROM stagelab/offline-busybox:1.36 AS tools"
    assert lines[3] == "FROM stagelab/offline-gcc:12-bookworm AS build"
    assert lines[4] == "COPY --from=stagelab/offline-busybox:1.36 /bin/busybox /busybox"
    assert "from=stagelab/offline-busybox:1.36,target=/bb" in lines[5]
    assert lines[6] == "FROM tools", "a stage reference is never rewritten"


def test_classic_builder_gets_labels_as_build_options_not_dockerfile_text(monkeypatch):
    # A user name with a quote and a newline must not become Dockerfile text.
    monkeypatch.setenv("USER", 'evil"name\nRUN touch /pwned')
    text = classic_dockerfile(request(builder="classic", substitutions={}))
    assert text == TEXT, "the classic Dockerfile is the learner's, with stand-ins only"
    context = io.BytesIO()
    options = classic_build_options(request(builder="classic"), context)
    assert options["labels"]["io.stagelab.user"] == 'evil"name\nRUN touch /pwned'
    assert options["labels"]["io.stagelab.kind"] == "build"
    assert options["dockerfile"] == CLASSIC_DOCKERFILE and options["fileobj"] is context


def test_classic_from_a_number_names_its_image_in_full():
    # The classic builder takes a name that is no tag for the start of an image ID (measured:
    # `FROM 006` built on the only image whose ID began with 006), BuildKit never does.
    text = "FROM busybox:1.36 AS first\nRUN true\nFROM 0 AS again\nFROM first\n"
    rewritten = classic_dockerfile(
        request(builder="classic", dockerfile=Dockerfile(text), substitutions={})
    ).splitlines()
    assert rewritten[2] == "FROM docker.io/library/0 AS again"
    assert rewritten[0] == "FROM busybox:1.36 AS first" and rewritten[3] == "FROM first"


def test_classic_rewrite_follows_build_args():
    text = classic_dockerfile(request(builder="classic", build_args={"BASE": "gcc:12-bookworm"}))
    assert text.splitlines()[1] == "FROM stagelab/offline-gcc:12-bookworm AS tools"


def test_classic_steps_map_to_the_learners_instructions():
    steps = classic_steps(request(builder="classic", target="tools", target_ref="tools"))
    assert [s.keyword for s in steps] == ["ARG", "FROM", "RUN"]
    assert steps[2].line == 3


def test_the_classic_context_holds_the_kept_files_and_a_dockerfile_under_a_fixed_name(tmp_path):
    # A name that changed each build would change the .dockerignore COPY . . copies.
    (tmp_path / "Dockerfile").write_text(TEXT)
    (tmp_path / ".dockerignore").write_text("secret.txt\n")
    (tmp_path / "secret.txt").write_text("no")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.c").write_text("int main;")
    built = request(builder="classic", context_dir=tmp_path)
    tars = []
    for _ in range(2):
        context = io.BytesIO()
        classic_context(built, context)
        with tarfile.open(fileobj=context) as archive:
            tars.append({m.name: archive.extractfile(m).read() for m in archive if m.isfile()})
    assert tars[0] == tars[1]
    assert set(tars[0]) == {"Dockerfile", ".dockerignore", "app/main.c", CLASSIC_DOCKERFILE}
    assert tars[0][".dockerignore"] == f"secret.txt\n{CLASSIC_DOCKERFILE}\n".encode()
    assert tars[0][CLASSIC_DOCKERFILE].decode() == classic_dockerfile(built)
