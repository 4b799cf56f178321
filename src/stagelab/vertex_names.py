"""Which stage and instruction of a Dockerfile a name in BuildKit's progress refers to
(`[build 2/3] RUN make`, `[stage-2 1/1] COPY ...`), and the times it reports: pure, read by
rawjson.py."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from .dockerfile import Instruction, Stage
from .dockerfile.rules import onbuilds

# A variable in an instruction as written: BuildKit names a step with its value in its place.
_VARIABLE = re.compile(r"\\\$(?:\\\{[^}]*\\\}|[A-Za-z_][A-Za-z0-9_]*)")
# Only these instructions give BuildKit a step to print; the others only change metadata.
FILESYSTEM_STEPS = {"RUN", "COPY", "ADD", "WORKDIR"}


def stage_work(stage: Stage) -> tuple:
    """Return what a stage does, from its base image on: equal for stages BuildKit solves as one."""
    base = stage_work(stage.parent) if stage.parent else stage.base
    return base, tuple(squash(ins.original) for ins in stage.steps)


def stage_by_progress_name(stages: list[Stage], name: str | None, text: str = "") -> Stage | None:
    """Return the stage a progress name (`build`, `stage-2`, None for a one-stage file) refers
    to, the step's `text` telling apart stages of one name; None when none matches."""
    if name is None:
        return stages[0] if len(stages) == 1 else None
    # A repeated stage name prints the same for each stage: the step's text tells them apart.
    named = [stage for stage in stages if stage.name and stage.name.lower() == name.lower()]
    for stage in reversed(named):
        if any(squash(ins.original) == squash(text) for ins in stage.steps):
            return stage
    if named:
        return named[-1]
    match = re.fullmatch(r"stage-(\d+)", name)
    if match and int(match.group(1)) < len(stages):
        return stages[int(match.group(1))]
    return None


def squash(text: str) -> str:
    """Return `text` with each run of white space made one space."""
    return " ".join(text.split())


def instruction_for(stage: Stage, text: str, number: int, first: int = 2) -> Instruction | None:
    """Return the instruction of `stage` that BuildKit's step `number` (counted from `first`)
    named `text` refers to, or None when it cannot be told."""
    keyword = text.split(" ", 1)[0].upper()
    if keyword == "ONBUILD":
        # A trigger of the stage it starts from, named as written there ("ONBUILD COPY ..."):
        # its line is the ONBUILD's (convert.go `dispatchOnBuildTriggers`).
        return trigger_for(stage, text.split(" ", 1)[-1])
    same_kind = [ins for ins in stage.instructions if ins.keyword == keyword]
    # BuildKit names a RUN by its text with the variables it sees expanded (convert.go
    # `processCmdEnv`): `RUN echo $NAME` runs as "RUN echo world".
    candidates = [ins for ins in same_kind if squash(ins.original) == squash(text)] or [
        ins
        for ins in same_kind
        if "$" in ins.original
        and re.fullmatch(_VARIABLE.sub(".*?", re.escape(squash(ins.original))), squash(text))
    ]
    if len(candidates) > 1:
        # The same text on several lines: the step number tells them apart. It counts each
        # operation from `first` (convert.go `prefixCommand`, `cmdIndex`).
        # The parent's ONBUILD triggers come first ("[app 1/3] ONBUILD RUN ...").
        operations = [
            ins for ins in onbuilds(stage.parent) if ins.trigger.keyword in FILESYSTEM_STEPS
        ]
        operations += [ins for ins in stage.instructions if ins.keyword in FILESYSTEM_STEPS]
        index = number - first
        if 0 <= index < len(operations) and operations[index] in candidates:
            return operations[index]
    if candidates:
        return candidates[0]
    # The step number counts FROM, except when a named context replaced the base.
    for index in (number - 1, number):
        if index < len(stage.instructions) and stage.instructions[index].keyword == keyword:
            return stage.instructions[index]
    return same_kind[0] if len(same_kind) == 1 else None


def progress_time(text: str | None) -> datetime | None:
    """Return a time as BuildKit's progress writes it (RFC 3339, nanoseconds), or None."""
    if not text:
        return None
    # Go prints nanoseconds; Python parses microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    return datetime.fromisoformat(text)


def build_began(vertices: Iterable) -> datetime | None:
    """Return when this build began, from its vertices (anything with `name` and `started`):
    when it loaded its Dockerfile (else its first start).

    BuildKit runs a step once for every build that needs it at the same time, and reports it
    to each with the time it started for the first: possibly long before this build began.
    Loading the Dockerfile is this build's own (its source is this build's session).
    """
    vertices = list(vertices)
    own = [
        v.started
        for v in vertices
        if v.started and v.name.startswith("[internal] load build definition")
    ]
    return min(own or [v.started for v in vertices if v.started], default=None)


def trigger_for(stage: Stage, text: str) -> Instruction | None:
    """Return the ONBUILD instruction of `stage`'s parent stage whose trigger is `text` (as
    written, or with its variables expanded), or None when none is."""
    for ins in onbuilds(stage.parent):
        written = squash(ins.trigger.original)
        if written == squash(text) or (
            "$" in written and re.fullmatch(_VARIABLE.sub(".*?", re.escape(written)), squash(text))
        ):
            return ins
    return None
