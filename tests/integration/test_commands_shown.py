"""A build shows the command that ran it: buildx's own, and for the classic builder (which runs
through the engine's API) the `DOCKER_BUILDKIT=0 docker build` command that does the same:
run by a shell, it makes the same image, and its flags are ones `docker build` has."""

from __future__ import annotations

import inspect
import os
import re
import subprocess

import pytest

import stagelab as sl
from stagelab.command_lines import classic_build_command

pytestmark = pytest.mark.engine

# FROM scratch: no base image, so no stand-in changes the Dockerfile and the shell can run the
# command as shown (with stand-ins it names the rewritten copy, a temporary file).
DOCKERFILE = """\
FROM scratch AS base
COPY a.txt /a.txt
FROM base AS final
ARG NOTE
COPY b.txt /b-$NOTE.txt
FROM scratch AS unused
COPY a.txt /unused.txt
"""
EVERY_KEYWORD = {
    "file": "/ctx/Dockerfile",
    "target": "t",
    "build_args": {"A": "1"},
    "no_cache": True,
    "labels": {"k": "v"},
    "tags": "t:1",
    "force_rm": True,
    "iidfile": "/iid",
}


@pytest.fixture
def context(tmp_path):
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "b.txt").write_text("b\n")
    return tmp_path


def test_the_classic_command_shown_makes_the_same_image(docker_engine, context):
    result = sl.build(
        context, builder="classic", target="final", build_args={"NOTE": "x y"}, progress=False
    )
    assert result.command[:3] == ["DOCKER_BUILDKIT=0", "docker", "build"]
    assert result.command[-1] == str(context) and "--force-rm" in result.command
    done = subprocess.run(
        ["bash", "-c", result.command_line],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "DOCKER_BUILDKIT"},
    )
    assert done.returncode == 0, done.stderr
    built = re.findall(r"Successfully built ([0-9a-f]{12})", done.stdout)
    assert built == [result.image_id.removeprefix("sha256:")[:12]], done.stdout[-2000:]
    assert "Using cache" in done.stdout, "the same steps, so the engine's cache answers"


def test_the_buildkit_command_shown_is_the_one_that_ran(docker_engine, context):
    result = sl.build(context, target="final", build_args={"NOTE": "x"}, progress=False)
    command = result.command
    assert command[:3] == ["docker", "buildx", "build"] and command[-1] == str(context)
    assert command[command.index("--target") :][:2] == ["--target", "final"]
    assert "NOTE=x" in command and "--progress=rawjson" in command


def test_every_flag_of_the_classic_command_is_one_docker_build_has(docker_engine):
    keywords = set(inspect.signature(classic_build_command).parameters) - {"context_path"}
    assert keywords == set(EVERY_KEYWORD), "give each keyword of the builder a value here"
    written = {
        word.split("=", 1)[0]
        for word in classic_build_command("/ctx", **EVERY_KEYWORD)
        if word.startswith("-")
    }
    done = subprocess.run(
        ["docker", "build", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    assert done.returncode == 0, done.stderr
    flags = {
        flag
        for pair in re.findall(r"(?m)^\s+(?:(-\w), )?(--[\w-]+)", done.stdout)
        for flag in pair
        if flag
    }
    assert written <= flags, written - flags
