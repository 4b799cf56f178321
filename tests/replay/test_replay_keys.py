"""The recording key changes with everything that decides a build's outcome, and nothing else."""

import json
from pathlib import Path

import pytest

from stagelab import recording as replay
from stagelab.context import BuildRequest
from stagelab.dockerfile import Dockerfile

DOCKERFILE = """\
ARG BASE=busybox:1.36
FROM ${BASE} AS base
COPY app.txt /app.txt
FROM base AS test
RUN cat /app.txt
FROM busybox:1.36 AS release
COPY --from=base /app.txt /app.txt
"""


def _request(
    context: Path,
    text: str = DOCKERFILE,
    *,
    target: str | None = None,
    builder: str = "buildkit",
    build_args: dict | None = None,
    output: str | None = None,
    tag: str | None = None,
    no_cache: bool = False,
) -> BuildRequest:
    (context / "Dockerfile").write_text(text)
    parsed = Dockerfile(text)
    return BuildRequest(
        parsed,
        context,
        context / "Dockerfile",
        target,
        parsed.stage(target).ref if target else None,
        builder,
        build_args or {},
        tag,
        no_cache,
        output,
    )


@pytest.fixture
def context(tmp_path):
    (tmp_path / "app.txt").write_text("version 1\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.c").write_text("int main(void) { return 0; }\n")
    return tmp_path


def test_the_same_build_has_the_same_key(context, tmp_path_factory):
    other = tmp_path_factory.mktemp("copy")
    (other / "app.txt").write_text("version 1\n")
    (other / "src").mkdir()
    (other / "src" / "main.c").write_text("int main(void) { return 0; }\n")
    # The context's own location and the image's tag do not change what is built.
    assert replay.build_key(_request(context)) == replay.build_key(_request(other, tag="x:1"))


def test_changing_a_context_file_changes_the_key(context):
    before = replay.build_key(_request(context))
    (context / "src" / "main.c").write_text("int main(void) { return 1; }\n")
    assert replay.build_key(_request(context)) != before


def test_adding_renaming_or_making_a_file_executable_changes_the_key(context):
    keys = [replay.build_key(_request(context))]
    (context / "extra.txt").write_text("more\n")
    keys.append(replay.build_key(_request(context)))
    (context / "extra.txt").rename(context / "renamed.txt")
    keys.append(replay.build_key(_request(context)))
    (context / "renamed.txt").chmod(0o755)
    keys.append(replay.build_key(_request(context)))
    assert len(set(keys)) == 4


def test_jupyter_checkpoints_are_not_part_of_the_context(context):
    before = replay.build_key(_request(context))
    (context / ".ipynb_checkpoints").mkdir()
    (context / ".ipynb_checkpoints" / "app-checkpoint.txt").write_text("autosave\n")
    assert replay.build_key(_request(context)) == before


def test_target_builder_build_args_output_and_no_cache_each_change_the_key(context):
    base = replay.build_key(_request(context))
    variants = [
        _request(context, target="test"),
        _request(context, builder="classic"),
        _request(context, build_args={"BASE": "debian:bookworm-slim"}),
        _request(context, build_args={"UNUSED": "1"}),
        _request(context, output=str(context / "out")),
        _request(context, no_cache=True),
        _request(context, DOCKERFILE.replace("cat /app.txt", "cat /app.txt /app.txt")),
    ]
    keys = [replay.build_key(request) for request in variants]
    assert base not in keys
    assert len(set(keys)) == len(keys)


def test_where_a_local_export_goes_does_not_change_the_key(context):
    first = _request(context, output="/tmp/one")
    second = _request(context, output="type=local,dest=/tmp/two")
    assert replay.build_key(first) == replay.build_key(second)


def test_the_key_names_official_images_under_the_build_args(context):
    request = _request(context, build_args={"BASE": "debian:bookworm-slim"})
    identity = replay.build_identity(request)
    assert identity["images"] == ["debian:bookworm-slim", "busybox:1.36"]


def test_call_keys_depend_on_image_and_arguments():
    keys = {
        replay.call_key("run", "sha256:a", {"command": ["ls"]}),
        replay.call_key("run", "sha256:b", {"command": ["ls"]}),
        replay.call_key("run", "sha256:a", {"command": ["ls", "/"]}),
        replay.call_key("files", "sha256:a", {"command": ["ls"]}),
    }
    assert len(keys) == 4


def test_a_missing_recording_names_how_the_nearest_one_differs(
    context, tmp_path_factory, monkeypatch
):
    folder = tmp_path_factory.mktemp("recordings")
    monkeypatch.setenv(replay.DIRECTORY_ENV, str(folder))
    recorded = replay.build_identity(_request(context, target="test"))
    (folder / "one.json").write_text(json.dumps({"identity": recorded}))
    (context / "app.txt").write_text("version 2\n")
    hint = replay.closest_difference(replay.build_identity(_request(context, target="release")))
    assert hint == (
        "The nearest recording differs in target (recorded 'test'); context files app.txt."
    )
    unrelated = replay.build_identity(_request(context, "FROM busybox:1.36\n"))
    assert replay.closest_difference(unrelated) == ""
