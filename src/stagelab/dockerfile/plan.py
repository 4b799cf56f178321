"""Which stages a builder runs for a target (the Docker docs' multi-stage build rules)."""

from __future__ import annotations

from ..errors import DockerfileError
from .stages import Stage

BUILDERS = ("buildkit", "classic")


def plan_stages(stages: list[Stage], goal: Stage, builder: str) -> list[str]:
    """Return the refs of the stages `builder` runs to build `goal`, dependencies first.

    The classic builder runs every stage up to the target; BuildKit runs the stages the target
    depends on (FROM, COPY --from, RUN --mount from=), per
    https://docs.docker.com/build/building/multi-stage/#differences-between-legacy-builder-and-buildkit.
    Raises ValueError for an unknown builder and DockerfileError for a circular dependency.
    """
    if builder not in BUILDERS:
        raise ValueError(f"builder must be one of {BUILDERS}, not {builder!r}")
    if builder == "classic":
        return [s.ref for s in stages[:goal.index + 1]]
    by_ref = {s.ref: s for s in stages}
    order: list[str] = []

    def visit(stage: Stage, path: tuple[str, ...]) -> None:
        if stage.ref in path:
            raise DockerfileError(f"circular dependency: {' -> '.join(path + (stage.ref,))}",
                                  line=stage.lines[0])
        if stage.ref in order:
            return
        deps = [stage.parent] if stage.parent else []
        deps += [by_ref[src] for src in stage.sources if src in by_ref]
        for dep in sorted(set(deps), key=lambda s: s.index):
            visit(dep, path + (stage.ref,))
        order.append(stage.ref)

    visit(goal, ())
    return order
