"""Which stages a builder runs for a target, and where it refuses the file first.

The classic builder runs every stage up to the target, one after another; BuildKit runs the
stages the target depends on (FROM, COPY --from, RUN --mount from=, and the ONBUILD triggers of
a stage it starts from), per
https://docs.docker.com/build/building/multi-stage/#differences-between-legacy-builder-and-buildkit
and moby/buildkit frontend/dockerfile/dockerfile2llb/convert.go (`allReachableStages`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from ..errors import DockerfileError
from .checks import FIXES
from .rules import Resolution
from .stages import Stage

BUILDERS = ("buildkit", "classic")


class Plan(list):
    """The refs of the stages a builder runs, dependencies first: a list, as `plan()` always
    returned, which also says what the planner cannot know. `caveats` (computed when first
    asked: it asks the engine) lists each image a stage that runs uses and the engine does
    not have; a notebook shows them under the list."""

    def __init__(self, refs: list[str], caveats: Callable[[], list[str]] = list):
        super().__init__(refs)
        self._find_caveats = caveats

    @functools.cached_property
    def caveats(self) -> list[str]:
        """Return what the plan cannot know, one sentence each (empty when nothing)."""
        return self._find_caveats()

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(list.__repr__(self))
        for note in self.caveats:
            printer.break_()
            printer.text(f"# cannot know: {note}")


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

    The refusal names the line and the builder's own reason: the first the builder meets
    (rules.py, the phases). BuildKit then runs nothing; the classic builder runs the stages
    above the step it refuses, and stops there.
    """
    builder = resolution.builder
    whole = sorted(
        (r for r in resolution.refusals if r.stage is None), key=lambda r: (r.phase, r.line or 0)
    )
    goal = goal_stage(resolution, target)
    if goal is None:  # the target names no stage: refused among `whole`
        return [], DockerfileError(whole[0].message(builder), line=whole[0].line)
    needed = _needed(resolution, goal)
    indexes = {stage.index for stage in needed}
    bound = [r for r in resolution.refusals if r.stage in indexes]
    if builder == "buildkit":
        candidates = sorted(
            whole + bound, key=lambda r: (r.phase, -1 if r.stage is None else r.stage, r.line or 0)
        )
    else:  # the whole file's refusals, then the steps in the order it runs them
        candidates = whole + sorted(bound, key=lambda r: (r.line or 0, r.phase))
    if candidates:
        first = candidates[0]
        error = DockerfileError(first.message(builder), line=first.line)
        if builder == "classic" and first.stage is not None:
            return [s.ref for s in needed if s.index <= first.stage], error
        return [], error
    lint = lint_refusal(resolution, indexes)
    if lint is not None:
        return [], lint
    return [stage.ref for stage in needed], None


def _needed(resolution: Resolution, goal: Stage) -> list[Stage]:
    if resolution.builder == "classic":
        return resolution.stages[: goal.index + 1]
    return _dependencies_first(resolution.stages, goal)


def lint_refusal(resolution: Resolution, indexes: set[int]) -> DockerfileError | None:
    """Return BuildKit's refusal of a build whose checks fire under `# check=error=true`: the
    checks of the whole file and of the stages it needs (`indexes`), each with its line, its
    fix and how to skip it (convert.go: `lint.Error()` once every needed stage dispatched)."""
    hits = [h for h in resolution.checks if h.stage is None or h.stage in indexes]
    if not resolution.checks_refuse or not hits:
        return None
    rules = sorted({h.rule for h in hits})
    each = "; ".join(
        f"{h.rule} at line {h.line}: {h.message} ({FIXES.get(h.rule, 'see its page')})"
        for h in sorted(hits, key=lambda h: (h.line or 0, h.rule))
    )
    message = (
        f"BuildKit refuses this: lint violation found for rules: {', '.join(rules)}. "
        "`check=error=true` makes every build check that fires an error, also in stages this "
        f"target does not need: {each}. Fix them, or skip them with "
        f"`# check=skip={','.join(rules)};error=true`"
    )
    return DockerfileError(message, line=min(h.line or 0 for h in hits) or None)


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
    a chain of thousands of stages is fine). A cycle, which the resolver refuses, is cut
    where it closes: the order then still ends, for the refusal to be chosen among them."""
    by_ref = {s.ref: s for s in stages}
    order: list[Stage] = []
    done: set[int] = set()
    open_: set[int] = set()
    stack = [(goal, False)]
    while stack:
        stage, expanded = stack.pop()
        if stage.index in done:
            continue
        if expanded:
            done.add(stage.index)
            order.append(stage)
            continue
        if stage.index in open_:
            continue
        open_.add(stage.index)
        stack.append((stage, True))
        deps = ([stage.parent] if stage.parent else []) + [
            by_ref[s] for s in stage.sources if s in by_ref
        ]
        for dep in sorted(set(deps), key=lambda s: -s.index):
            if dep.index not in done and dep.index not in open_:
                stack.append((dep, False))
    return order
