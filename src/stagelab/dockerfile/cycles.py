"""BuildKit's refusal of stages that reach a cycle of --from and from= uses (convert.go
`validateCircularDependency`), with every line it may report: it walks each stage's uses in Go's
map order, which differs from run to run. Records a Refusal on the Resolution; raises nothing.
"""

from __future__ import annotations

from .resolve import progress_name
from .rules import COMMANDS, Resolution, uses
from .stages import Stage

# How many states of the search `closing_uses` explores before it stops and says so: the
# orders grow as a factorial of the uses, and a Dockerfile has rarely more than a few stages.
ORDER_CAP = 20_000


def refuse_cycles(res: Resolution) -> None:
    """Refuse the file when a stage reaches a cycle of --from and from= uses, as BuildKit's
    own search does (convert.go `validateCircularDependency`, called from
    `buildStageDependencyGraph` before the target's stages are picked, so for any target).

    Its graph is each stage's `deps`: the stages its COPY --from and RUN --mount from= name,
    earlier or later, one command per dependency (the last). A stage's FROM is no edge (its
    base can only be a stage above it): a stage FROM `a` whose `a` copies from it is no cycle
    here; the copy from a later stage is refused when `a` is dispatched. A depth-first search
    starts at each stage in file order, with one `visited` set for all starts; the message
    names the stage it started from (the first that reaches a cycle, not necessarily one in
    it, whatever the order), and buildx shows first the command that closes the cycle.

    BuildKit walks a stage's dependencies in Go's map order, which differs from run to run:
    where two of them lead back into a cycle, the command it shows differs. The refusal's
    `line` is the one the search meets taking uses in file order; its `lines` hold every line
    a search in any order can end on (`closing_uses`), and its advice names them.
    """
    by_ref = {s.ref: s for s in res.stages}
    named = {s.name.lower(): s for s in res.stages if s.name}  # the last of a repeated name
    visited: set[int] = set()
    for start in res.stages:
        # The stages earlier starts visited: whatever the order, all each of them reaches.
        before = set(visited)
        path = _path_to_cycle(start, by_ref, visited)
        if path:
            closing = path[-1]
            on_path = {s.index for s in path}
            used = next(d for d in _deps(closing, by_ref) if d.index in on_path)
            loop = path[path.index(used) :]
            steps = ", ".join(
                f"stage {s.label} uses stage {n.label} at line {_line_using(s, n, named)}"
                for s, n in zip(loop, loop[1:] + [used])
            )
            line = _line_using(closing, used, named)
            pairs, complete = closing_uses(start, by_ref, before, ORDER_CAP)
            by_index = {s.index: s for s in res.stages}
            lines = sorted(
                {line} | {_line_using(by_index[u], by_index[v], named) for u, v in pairs}
            )
            res.refuse(
                line,
                f"circular dependency detected on stage: {progress_name(start)}",
                f"a stage cannot use itself, directly or through other stages: {steps}"
                + _other_lines(lines, complete),
                phase=COMMANDS,
                lines=tuple(lines),
            )
            return


def closing_uses(
    start: Stage, by_ref: dict[str, Stage], visited: set[int], cap: int = ORDER_CAP
) -> tuple[set[tuple[int, int]], bool]:
    """Return every use (stage index, index of the stage it uses) that closes a cycle where a
    depth-first search from `start` ends, under any order of each stage's dependencies, with
    `visited` the stages earlier starts visited; and whether the search of orders completed
    (False: it stopped after `cap` states, and more uses may close it).

    A state is the search's path, the stages it visited and the dependencies each stage on
    the path has yet to try; a dependency visited and off the path is skipped in any order,
    so only the others branch.
    """
    by_index = {s.index: s for s in by_ref.values()}
    found: set[tuple[int, int]] = set()
    todo = [((start.index,), frozenset(visited | {start.index}), (_dep_set(start, by_ref),))]
    explored: set[tuple] = set()
    while todo:
        state = todo.pop()
        if state in explored:
            continue
        if len(explored) >= cap:
            return found, False
        explored.add(state)
        path, seen, left = state
        top = left[-1] - (seen - set(path))
        if not top:
            if len(path) > 1:
                todo.append((path[:-1], seen, left[:-1]))
            continue
        for dep in sorted(top, reverse=True):
            if dep in path:
                found.add((path[-1], dep))
                continue
            rest = left[:-1] + (top - {dep},)
            todo.append((path + (dep,), seen | {dep}, rest + (_dep_set(by_index[dep], by_ref),)))
    return found, True


def _other_lines(lines: list[int], complete: bool) -> str:
    if len(lines) < 2 and complete:
        return ""
    named = [f"line {n}" for n in lines]
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]
    more = "" if complete else f" (at least: stagelab stopped after {ORDER_CAP} search states)"
    return (
        f". BuildKit may report {listed}{more}: it walks each stage's uses in no fixed order, "
        "so the line can change from one build to the next"
    )


def _path_to_cycle(start: Stage, by_ref: dict[str, Stage], visited: set[int]) -> list[Stage]:
    """Return the stages from `start` to the one whose dependency is already on the path (the
    cycle's closing use), taking dependencies in file order, or [] (`visit` in convert.go,
    without recursion)."""
    if start.index in visited:
        return []
    visited.add(start.index)
    path, on_path, stack = [start], {start.index}, [iter(_deps(start, by_ref))]
    while stack:
        dep = next(stack[-1], None)
        if dep is None:
            on_path.discard(path.pop().index)
            stack.pop()
        elif dep.index in on_path:
            return path
        elif dep.index not in visited:
            visited.add(dep.index)
            path.append(dep)
            on_path.add(dep.index)
            stack.append(iter(_deps(dep, by_ref)))
    return []


def _line_using(stage: Stage, dep: Stage, named: dict[str, Stage]) -> int:
    """The line of the last instruction in `stage` that uses `dep` (BuildKit keeps one per
    dependency, the last: convert.go `d.deps[src] = cmd`), or its FROM. A name uses the stage
    `named` gives it (the last of a repeated name, as the sources were resolved), an index
    the stage at that place."""
    lines = [
        ins.line
        for kind, source, ins in uses(stage)
        if kind != "onbuild" and (named.get(source.lower()) is dep or source == str(dep.index))
    ]
    return lines[-1] if lines else stage.lines[0]


def _dep_set(stage: Stage, by_ref: dict[str, Stage]) -> frozenset[int]:
    return frozenset(d.index for d in _deps(stage, by_ref))


def _deps(stage: Stage, by_ref: dict[str, Stage]) -> list[Stage]:
    """The stages `stage`'s COPY --from and RUN --mount from= use, each once, in file order
    (convert.go `d.deps`: no FROM, no ONBUILD trigger)."""
    found = [
        by_ref[s]
        for k, s in zip(stage.source_kinds, stage.sources)
        if s in by_ref and k != "onbuild"
    ]
    return list(dict.fromkeys(found))
