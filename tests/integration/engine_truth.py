"""What the engine really does with a Dockerfile, read without stagelab's planner or readers.

Each builder runs the file as a user would (`docker buildx build`, `DOCKER_BUILDKIT=0 docker
build`); a stage ran when a step of its own (RUN, COPY) shows in the builder's output, and a
builder refused the file when it failed with no step failing (the line is the one its error
names). Used by test_planner_truth.py, test_planner_property.py and benchmarks/bench_planner.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors

from stagelab import engine, images
from stagelab.command_lines import buildx_build_command, image_contexts

BUSYBOX = "busybox:1.36"
# A step's name: "[stage 2/3] RUN ...", in a build for several platforms "[linux/arm64 stage
# 2/3] ...", or "[linux/amd64->arm64 stage 2/3] ..." for a stage run on the build platform.
_STEP = re.compile(
    r"^\[(?:(?P<platform>[a-z]+/[^\s\]]+) +)?(?:(?P<stage>[^\s\]]+) +)? *\d+/\d+\] (?P<text>.*)$",
    re.DOTALL,
)
_CLASSIC_STEP = re.compile(r"^Step \d+/\d+ : (.*)$")


@dataclass
class Truth:
    """What one real build did: the lines of the steps that ran, or where it was refused."""

    builder: str
    ran_lines: set[int] = field(default_factory=set)
    # (platform prefix as BuildKit names it, or None; the step's text) of each step that ran.
    platform_steps: list[tuple[str | None, str]] = field(default_factory=list)
    refused: bool = False
    failed_step: bool = False
    line: int | None = None
    message: str = ""

    def stages(self, text: str) -> set[int]:
        """Return the indexes of the stages whose steps ran (by position in the file)."""
        starts = [
            n for n, line in enumerate(text.splitlines(), 1) if line.upper().startswith("FROM ")
        ]
        return {sum(1 for start in starts if start <= line) - 1 for line in self.ran_lines}


def standin() -> str:
    """Return the image that serves busybox:1.36 here (the offline stand-in without a registry)."""
    return images.substitutions([BUSYBOX]).get(BUSYBOX, BUSYBOX)


def _step_lines(text: str, step_texts: list[str]) -> set[int]:
    """Map the steps a builder printed back to the Dockerfile lines that wrote them."""
    squashed: dict[str, int | None] = {}
    for number, line in enumerate(text.splitlines(), 1):
        key = " ".join(line.split())
        # A text written on two lines could be either (and BuildKit runs it once): skip it.
        squashed[key] = None if key in squashed else number
    found = set()
    for step in step_texts:
        key = " ".join(step.split("\n", 1)[0].replace(standin(), BUSYBOX).split())
        if squashed.get(key) is not None:
            found.add(squashed[key])
    return found


def buildkit(
    text: str,
    target: str | None = None,
    build_args: dict | None = None,
    platform: str | list[str] | None = None,
    build_contexts: dict[str, str] | None = None,
    docker_host: str | None = None,
    busybox: str | None = None,
) -> Truth:
    """Build with BuildKit, keeping nothing (`--output type=cacheonly`): on the CLI's engine,
    or the one at `docker_host`; `platform` one or several; `build_contexts` named contexts
    (besides busybox's: `busybox`, else the stand-in here)."""
    with tempfile.TemporaryDirectory(prefix="stagelab-truth-") as tmp:
        Path(tmp, "Dockerfile").write_text(text)
        command = buildx_build_command(
            tmp,
            progress="rawjson",
            output="type=cacheonly",
            build_contexts={
                **image_contexts({BUSYBOX: busybox or standin()}),
                **(build_contexts or {}),
            },
            target=target,
            platforms=platform or (),
            build_args=build_args,
        )
        environment = {**os.environ, "DOCKER_HOST": docker_host} if docker_host else None
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=300, check=False, env=environment
        )
    platform_steps = []
    steps, errors, other = [], [], []
    for line in done.stderr.splitlines():
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            other.append(line)
            continue
        for vertex in message.get("vertexes") or []:
            match = _STEP.match(vertex.get("name", ""))
            if match and (vertex.get("started") or vertex.get("cached")):
                steps.append(match["text"])
                platform_steps.append((match["platform"], match["text"]))
            if vertex.get("error") and match:
                errors.append(vertex["error"])
    truth = Truth("buildkit", _step_lines(text, steps), platform_steps=platform_steps)
    if done.returncode != 0:
        truth.failed_step = bool(errors)
        truth.refused = not errors
        located = [int(n) for n in re.findall(r"^\s*Dockerfile:(\d+)", done.stderr, re.M)]
        truth.line = located[0] if located else None
        truth.message = next(
            (line for line in reversed(other) if "ERROR" in line), "\n".join(other[-3:])
        )
    return truth


def classic(text: str, target: str | None = None, build_args: dict | None = None) -> Truth:
    """Build with the classic builder, then remove the images it made."""
    with tempfile.TemporaryDirectory(prefix="stagelab-truth-") as tmp:
        Path(tmp, "Dockerfile").write_text(text.replace(BUSYBOX, standin()))
        command = ["docker", "build", "--rm", "--force-rm"]
        if target is not None:
            command += ["--target", target]
        for key, value in (build_args or {}).items():
            # No named contexts here: the stand-in's name goes wherever the image's would.
            command += ["--build-arg", f"{key}={value.replace(BUSYBOX, standin())}"]
        done = subprocess.run(
            command + [tmp],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
            check=False,
        )
    printed = [
        match.group(1) for match in map(_CLASSIC_STEP.match, done.stdout.splitlines()) if match
    ]
    ran = [step for step in printed if not step.upper().startswith(("FROM ", "ARG "))]
    truth = Truth("classic", _step_lines(text, ran))
    _remove_images(_new_images(done.stdout))
    if done.returncode != 0:
        error = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
        truth.message = error
        truth.failed_step = "returned a non-zero code" in error
        truth.refused = not truth.failed_step
        parsed = re.search(r"parse error on line (\d+)", error)
        last = _step_lines(text, printed[-1:]) if printed else set()
        truth.line = (
            int(parsed.group(1))
            if parsed
            else (min(last) if last and "target stage" not in error else None)
        )
        if "stage name already used" in error:
            # Refused before it prints the FROM of the stage with the name: the next FROM.
            truth.line = _next_from(text, truth.line or 0)
        else:
            truth.ran_lines -= last
    return truth


def _next_from(text: str, after: int) -> int | None:
    return next(
        (
            n
            for n, line in enumerate(text.splitlines(), 1)
            if n > after and line.upper().startswith("FROM ")
        ),
        None,
    )


def _new_images(output: str) -> list[str]:
    """The ids of the images this build's own steps made: not a FROM's image, not a cache hit
    (those belong to whoever built them first)."""
    made, step, cached = [], "", False
    for line in output.splitlines():
        match = _CLASSIC_STEP.match(line)
        if match:
            step, cached = match.group(1).upper(), False
        elif line.startswith(" ---> Using cache"):
            cached = True
        elif (
            re.match(r"^ ---> [0-9a-f]{12}$", line)
            and not cached
            and not step.startswith(("FROM ", "ARG "))
        ):
            made.append(line.split()[-1])
    return made


def _remove_images(ids: list[str]) -> None:
    client = engine.client()
    for image_id in reversed(ids):
        # Shared by a later step, or already gone: not ours to force.
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(image_id, noprune=False)
