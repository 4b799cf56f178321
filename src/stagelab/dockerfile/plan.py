"""Which stages a builder runs for a target, and where it refuses the file first.

The classic builder runs every stage up to the target, one after another; BuildKit runs the
stages the target depends on (FROM, COPY --from, RUN --mount from=, and the ONBUILD triggers of
a stage it starts from), per
https://docs.docker.com/build/building/multi-stage/#differences-between-legacy-builder-and-buildkit
and moby/buildkit frontend/dockerfile/dockerfile2llb/convert.go (`allReachableStages`).
"""

from __future__ import annotations

from ..errors import DockerfileError
from .rules import Resolution
from .stages import Stage

BUILDERS = ("buildkit", "classic")


def goal_stage(resolution: Resolution, target: str | None) -> Stage | None:
    """Return the stage `--target` names for this builder (the last stage without one).

    BuildKit takes the last stage of a repeated name, the classic builder the first; both
    match names in any case and take no index. None when no stage has that name.
    """
    stages = resolution.stages
    if target is None:
        return stages[-1]
    named = [s for s in stages if s.name and s.name.lower() == str(target).lower()]
    if not named:
        return None
    return named[-1] if resolution.builder == "buildkit" else named[0]


def attempt(resolution: Resolution, target: str | None) -> tuple[list[str], DockerfileError | None]:
    """Return the refs of the stages the builder starts for `target`, dependencies first, and
    where it refuses the file (None when it does not).

    The refusal names the line and the builder's own reason: first what it refuses whatever
    the target, then what the stages it needs break. BuildKit then runs nothing; the classic
    builder runs the stages above the one it refuses, and stops there.
    """
    first = next((r for r in resolution.refusals if r.stage is None), None)
    if first is not None:
        return [], DockerfileError(first.message(resolution.builder), line=first.line)
    goal = goal_stage(resolution, target)
    if resolution.builder == "classic":
        needed = resolution.stages[: goal.index + 1]
    else:
        needed = _dependencies_first(resolution.stages, goal)
    indexes = {stage.index for stage in needed}
    refused = sorted(
        (r for r in resolution.refusals if r.stage in indexes),
        key=lambda r: (
            (r.stage, r.line or 0) if resolution.builder == "buildkit" else (r.line or 0,)
        ),
    )
    if not refused:
        return [stage.ref for stage in needed], None
    error = DockerfileError(refused[0].message(resolution.builder), line=refused[0].line)
    if resolution.builder == "classic":
        return [s.ref for s in needed if s.index <= refused[0].stage], error
    return [], error


def plan_stages(resolution: Resolution, target: str | None) -> list[str]:
    """Return the refs of the stages the builder runs for `target`, dependencies first.

    Raises DockerfileError where the builder refuses the file for this target (`attempt`).
    """
    refs, refusal = attempt(resolution, target)
    if refusal is not None:
        raise refusal
    return refs


def _dependencies_first(stages: list[Stage], goal: Stage) -> list[Stage]:
    """Return `goal` and every stage it depends on, each after its dependencies (no recursion:
    a chain of thousands of stages is fine). The resolver has refused cycles already."""
    by_ref = {s.ref: s for s in stages}
    order: list[Stage] = []
    done: set[int] = set()
    stack = [(goal, False)]
    while stack:
        stage, expanded = stack.pop()
        if stage.index in done:
            continue
        if expanded:
            done.add(stage.index)
            order.append(stage)
            continue
        stack.append((stage, True))
        deps = ([stage.parent] if stage.parent else []) + [
            by_ref[s] for s in stage.sources if s in by_ref
        ]
        for dep in sorted(set(deps), key=lambda s: -s.index):
            if dep.index not in done:
                stack.append((dep, False))
    return order
