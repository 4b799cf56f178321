"""How BuildKit names a build's steps in its progress ("[linux/arm64 build 2/3] RUN make"),
and which stage and instruction of a Dockerfile such a name is."""

from __future__ import annotations

import re

from .dockerfile import Instruction, PlatformPlan, Stage

# "[build 2/3] RUN make"; BuildKit pads the step number in a stage of ten or more steps
# ("[ten  1/10]"), and a single-stage Dockerfile's steps carry no stage name ("[2/2] RUN make").
# In a build for several platforms, or another than the engine's, the platform comes first:
# "[linux/arm64 build 2/3]", or "[linux/amd64->arm64 build 2/3]" for a step that runs on
# the build platform for another (buildx's progress prefixes, measured with buildx 0.29).
VERTEX_NAME = re.compile(
    r"^\[(?:(?P<platform>[a-z0-9]+/[^\s\]]+) +)?(?:(?P<stage>[^\s\]/]+) +)? *"
    r"(?P<step>\d+)/(?P<total>\d+)\] (?P<text>.*)$",
    re.DOTALL,
)
# A variable in an instruction as written: BuildKit names a step with its value in its place.
_VARIABLE = re.compile(r"\\\$(?:\\\{[^}]*\\\}|[A-Za-z_][A-Za-z0-9_]*)")
# Only these instructions give BuildKit a step to print; the others only change metadata.
FILESYSTEM_STEPS = {"RUN", "COPY", "ADD", "WORKDIR"}

_OPERATING_SYSTEMS = {"linux", "windows", "darwin", "freebsd"}


def step_platform(written: str | None) -> tuple[str | None, str | None]:
    """Return (the platform a step builds for, the platform that runs it) from the prefix
    BuildKit gives its name: "linux/arm64" -> both linux/arm64; "linux/amd64->arm64" ->
    (linux/arm64, linux/amd64); None -> (None, None)."""
    if not written:
        return None, None
    runs_on, _, target = written.partition("->")
    if not target:
        return runs_on, runs_on
    if target.split("/")[0] not in _OPERATING_SYSTEMS:  # "arm64", "arm/v7": the same OS
        target = runs_on.split("/")[0] + "/" + target
    return target, runs_on


def stage_by_progress_name(stages: list[Stage], name: str | None, text: str = "") -> Stage | None:
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
    return " ".join(text.split())


def stage_work(stage: Stage) -> tuple:
    """What a stage does, from its base image on: equal for stages BuildKit solves as one."""
    base = stage_work(stage.parent) if stage.parent else stage.base
    return base, tuple(squash(ins.original) for ins in stage.steps)


def from_is_a_step(stages: list[Stage], stage: Stage, names: list[str]) -> bool:
    """Tell whether BuildKit numbered this stage's FROM as step 1, from the build's step
    `names`: only an image it pulls is, not a stage, scratch or a named context (convert.go:
    `prefixCommand` for the source)."""
    matches = [VERTEX_NAME.match(name) for name in names]
    return any(
        m
        and m["text"].upper().startswith("FROM ")
        and stage_by_progress_name(stages, m["stage"]) is stage
        for m in matches
    )


def instruction_for(stage: Stage, text: str, number: int, first: int = 2) -> Instruction | None:
    keyword = text.split(" ", 1)[0].upper()
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
        operations = [ins for ins in stage.instructions if ins.keyword in FILESYSTEM_STEPS]
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


def settle_platform_statuses(
    per_platform: dict[str, dict[str, str]],
    plan: PlatformPlan,
    listed: set[tuple[str | None, str]],
    failed: bool,
) -> None:
    """Complete the stage statuses of a build for several platforms (changed in place).

    A stage whose work is the same for every platform runs once, shown under one platform's
    name: it gets that status for every platform it runs for. A needed stage whose steps
    BuildKit listed for a platform (`listed`: (platform, stage ref)) but never started, in a
    build that did not fail, was found through an equal operation of another platform: cached.
    """
    for ref in plan.shared:
        ran = [s[ref] for s in per_platform.values() if s.get(ref, "skipped") != "skipped"]
        for platform, statuses in per_platform.items():
            if ran and statuses.get(ref) == "skipped" and ref in plan.stages(platform):
                statuses[ref] = ran[0]
    for platform, statuses in per_platform.items():
        for ref in plan.stages(platform):
            if not failed and statuses.get(ref) == "skipped" and (platform, ref) in listed:
                statuses[ref] = "cached"
