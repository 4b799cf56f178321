"""How BuildKit names a build's steps in its progress ("[linux/arm64 build 2/3] RUN make"):
the platform a step is for and runs on, and what that tells of each platform's stages
(vertex_names.py says which stage and instruction a name is)."""

from __future__ import annotations

import re

from .dockerfile import PlatformPlan, Stage
from .vertex_names import stage_by_progress_name

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
