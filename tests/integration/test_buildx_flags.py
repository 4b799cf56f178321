"""The buildx command builder against the real buildx: its flags exist, and a build that uses
them does what each says."""

import inspect
import re
import subprocess

import pytest

from stagelab import engine, images
from stagelab.command_lines import buildx_build_command, docker_image, image_contexts

pytestmark = pytest.mark.engine


# One value for every keyword of the builder: a keyword added without a value here fails the
# test below, so every flag the builder can write is checked against the real buildx.
EVERY_KEYWORD = {
    "file": "/ctx/Dockerfile",
    "target": "t",
    "platforms": ["linux/amd64"],
    "build_args": {"A": "1"},
    "build_contexts": {"x": docker_image("busybox:1.36")},
    "secrets": {"id": "s", "src": "/s"},
    "cache_from": "type=local,src=/c",
    "cache_to": "type=local,dest=/c",
    "no_cache": True,
    "output": "type=local,dest=/o",
    "labels": {"k": "v"},
    "tags": "t:1",
    "iidfile": "/iid",
    "metadata_file": "/metadata.json",
    "progress": "quiet",
    "call": "targets",
    "check": True,
}


def _flags(command: list[str]) -> set[str]:
    return {word.split("=", 1)[0] for word in command if word.startswith("-")}


def test_every_flag_the_builder_writes_is_one_buildx_has(docker_engine):
    keywords = set(inspect.signature(buildx_build_command).parameters) - {"context_path"}
    assert keywords == set(EVERY_KEYWORD), "give each keyword of the builder a value here"
    bare = _flags(buildx_build_command("/ctx"))
    for keyword, value in EVERY_KEYWORD.items():
        assert _flags(buildx_build_command("/ctx", **{keyword: value})) - bare, (
            f"{keyword}= writes no flag"
        )
    written = _flags(buildx_build_command("/ctx", **EVERY_KEYWORD))
    done = subprocess.run(
        ["docker", "buildx", "build", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    known = set(re.findall(r"(?m)^\s+(?:(-\w), )?(--[\w-]+)", done.stdout))
    flags = {flag for pair in known for flag in pair if flag}
    assert written <= flags, written - flags


def test_a_build_with_secrets_contexts_args_platform_and_output(docker_engine, tmp_path):
    context = tmp_path / "context"
    extra = tmp_path / "extra"
    context.mkdir()
    extra.mkdir()
    (extra / "note").write_text("from a named context\n")
    # Commas and quotes in paths: the builder quotes them as buildx reads its CSV specs.
    secret = tmp_path / 'token,"1"'
    secret.write_text("s3cret\n")
    out = tmp_path / "out,1"
    (context / "Dockerfile").write_text(
        "FROM busybox:1.36 AS base\n"
        "ARG GREETING\n"
        "RUN --mount=type=secret,id=token cp /run/secrets/token /secret"
        ' && echo "$GREETING" > /greeting\n'
        "COPY --from=extra note /note\n"
        "FROM scratch\n"
        "COPY --from=base /secret /greeting /note /\n"
    )

    def build(no_cache: bool) -> str:
        command = buildx_build_command(
            context,
            progress="plain",
            platforms=[engine.platform()],
            build_args={"GREETING": "hello; $(id)"},
            build_contexts={
                "extra": extra,
                **image_contexts(images.substitutions(["busybox:1.36"])),
            },
            secrets={"id": "token", "src": secret},
            no_cache=no_cache,
            output={"type": "local", "dest": out},
        )
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stderr

    def run_step_cached(log: str) -> bool:
        (vertex,) = re.findall(r"(?m)^#(\d+) \[base \d+/\d+\] RUN ", log)
        return f"#{vertex} CACHED" in log

    build(no_cache=False)
    assert run_step_cached(build(no_cache=False)), "the same build again takes the cache"
    assert not run_step_cached(build(no_cache=True)), "--no-cache runs the step again"
    assert (out / "secret").read_text() == "s3cret\n"
    assert (out / "greeting").read_text() == "hello; $(id)\n"
    assert (out / "note").read_text() == "from a named context\n"
