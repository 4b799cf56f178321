"""Why each stage ran or not, from the Dockerfile alone: the edges that make the target need it
(FROM, COPY --from, RUN --mount from=, ONBUILD), with their lines; or the builder's rule that
skips or runs it.

BuildKit runs the target and what it depends on (moby/buildkit
frontend/dockerfile/dockerfile2llb/convert.go `allReachableStages`); the classic builder runs
every stage up to the target, in file order (moby/moby builder/dockerfile/builder.go), as
stagelab.dockerfile.plan models; a stage a named build context replaces does not run.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ..dockerfile import Dockerfile, Stage
from ..dockerfile.rules import uses
from .view import StageWhy, Why

EDGE_WORDS = {
    "from": "FROM",
    "copy": "COPY --from",
    "mount": "RUN --mount from=",
    "onbuild": "ONBUILD COPY --from",
}


@dataclass(frozen=True)
class Use:
    """Stage `child` uses stage `source` through an edge of `kind`, written on `line`."""

    child: str
    source: str
    kind: str
    line: int
    written_in: str | None = None

    def text(self) -> str:
        """Return the edge as the Dockerfile writes it: `FROM build in stage test (line 5)`; an
        ONBUILD trigger is written in the stage `written_in` and runs in the child."""
        joint = " " if self.kind == "from" else "="
        if self.kind == "onbuild":
            return (
                f"{EDGE_WORDS[self.kind]}={self.source} in stage {self.written_in} "
                f"(line {self.line}), a trigger that runs in stage {self.child}"
            )
        return (
            f"{EDGE_WORDS[self.kind]}{joint}{self.source} in stage {self.child} (line {self.line})"
        )


def stage_uses(stages: list[Stage]) -> list[Use]:
    """Return every edge between stages (edges to images left out), in Dockerfile order."""
    refs = {str(stage.index): stage.ref for stage in stages}
    refs.update({stage.name.lower(): stage.ref for stage in reversed(stages) if stage.name})
    found = []
    for stage in stages:
        if stage.parent is not None:
            found.append(Use(stage.ref, stage.parent.ref, "from", stage.lines[0]))
        for kind, source, ins in uses(stage):
            ref = refs.get(source.lower())
            if ref is not None and ref in stage.sources:
                writer = stage.parent.ref if kind == "onbuild" else None
                found.append(Use(stage.ref, ref, kind, ins.line, writer))
    return found


def stage_reasons(
    dockerfile: Dockerfile,
    builder: str,
    target: str | None,
    build_args: dict[str, str],
    replaced: dict[str, str] | None = None,
) -> dict[str, tuple[str, str]]:
    """Return, for every stage ref in Dockerfile order, (role, why in words).

    Roles: "target", "needed" (the target depends on it: the edges are named), "classic order"
    (the classic builder runs it because it comes before the target), "unneeded" (BuildKit
    skips it: nothing the target needs reaches it), "after target" (the classic builder stops
    at the target), "replaced" (`replaced` maps a stage name to the named build context that
    stands in for it). A Dockerfile the builder refuses gives every stage the refusal.
    """
    replaced = {name.lower(): where for name, where in (replaced or {}).items()}
    # The planner drops the edges into a replaced stage: what only it needed is not needed.
    stages = dockerfile.resolve(build_args, builder, contexts=replaced)
    planned, refusal = dockerfile.attempt(target, builder, build_args, contexts=replaced)
    goal = next((s for s in stages if s.ref == target), stages[-1]) if target else stages[-1]
    paths = _paths_to(goal.ref, stage_uses(stages))
    called = goal.label if goal.name else f"(stage {goal.label})"
    found = {}
    for stage in stages:
        name = (stage.name or "").lower()
        if name in replaced:
            found[stage.ref] = (
                "replaced",
                f"replaced by the named build context {replaced[name]}: the builder takes "
                "it from there and does not run this stage",
            )
        elif stage.ref == goal.ref:
            found[stage.ref] = ("target", "the target: the stage whose result this build makes")
        elif stage.ref in paths:
            chain = "; ".join(use.text() for use in paths[stage.ref])
            extra = (
                " (the classic builder would run it anyway: it comes before the target)"
                if builder == "classic"
                else ""
            )
            found[stage.ref] = ("needed", f"needed by the target {called}: {chain}{extra}")
        elif builder == "classic" and stage.index < goal.index:
            found[stage.ref] = (
                "classic order",
                f"the target {called} does not use it, but the classic builder runs every "
                "stage above the target, in file order",
            )
        elif builder == "classic":
            found[stage.ref] = (
                "after target",
                f"skipped: it comes after the target {called}, and the classic builder "
                "stops at the target",
            )
        else:
            found[stage.ref] = (
                "unneeded",
                f"skipped: nothing the target {called} needs reaches it (no FROM, "
                "COPY --from, RUN --mount from= or ONBUILD trigger leads here), and BuildKit "
                "runs only the stages the target depends on",
            )
    if refusal is not None and not planned:
        for ref, (role, text) in found.items():
            found[ref] = (role, f"{text}; but the builder refused the file: {refusal}")
    return found


def _paths_to(goal: str, edges: list[Use]) -> dict[str, list[Use]]:
    """Return, for every stage the goal depends on, the shortest chain of edges from the goal
    down to it (the goal's own edge first)."""
    by_child: dict[str, list[Use]] = {}
    for use in edges:
        by_child.setdefault(use.child, []).append(use)
    paths: dict[str, list[Use]] = {goal: []}
    pending = deque([goal])
    while pending:
        child = pending.popleft()
        for use in by_child.get(child, []):
            if use.source not in paths:
                paths[use.source] = paths[child] + [use]
                pending.append(use.source)
    paths.pop(goal)
    return paths


def outline(
    dockerfile: Dockerfile,
    builder: str,
    target: str | None,
    build_args: dict[str, str],
    statuses: dict[str, str],
    notes: list[str],
) -> Why:
    """Return an explanation of the stages alone (why each ran or not), with `notes` saying why
    its steps have none."""
    stages = {
        ref: StageWhy(ref, statuses.get(ref, "skipped"), role, text)
        for ref, (role, text) in stage_reasons(dockerfile, builder, target, build_args).items()
    }
    return Why(builder, target, stages, list(notes))


def result_outline(result, note: str) -> Why:
    """Return `outline` for a BuildResult (its Dockerfile, builder, target, build args and
    statuses), with `note` saying why its steps have no reasons."""
    return outline(
        result.dockerfile,
        result.builder,
        result.target,
        result.build_args,
        result.stage_status,
        [note],
    )
