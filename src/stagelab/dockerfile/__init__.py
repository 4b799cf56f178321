"""Parse Dockerfiles with the official BuildKit parser; their stages, graph and build plans."""

from __future__ import annotations

from .instructions import Instruction, escape_char, parse_instructions
from .plan import BUILDERS, plan_stages
from .stages import Edge, Stage, find_stage, resolve_stages, stage_edges
from .variables import expand, global_args

__all__ = ["BUILDERS", "Dockerfile", "Edge", "Instruction", "Stage", "expand",
           "parse_dockerfile"]


class Dockerfile:
    """A parsed Dockerfile: its text, instructions, global ARGs (name -> default) and stages."""

    def __init__(self, text: str):
        self.text = text
        self.escape = escape_char(text)
        self.instructions = parse_instructions(text)
        self.global_args = global_args(self.instructions)
        self.stages = self.resolve()

    def __repr__(self) -> str:
        refs = ", ".join(s.label for s in self.stages)
        return f"<Dockerfile: {len(self.stages)} stages: {refs}>"

    def resolve(self, build_args: dict[str, str] | None = None) -> list[Stage]:
        """Return the stages with FROM and --from resolved under these build args.

        A build arg changes only an ARG declared before the first FROM. Raises DockerfileError
        where the resolved file breaks a rule (see `resolve_stages`).
        """
        args = dict(self.global_args)
        for key, value in (build_args or {}).items():
            if key in args:
                args[key] = value
        return resolve_stages(self.instructions, args, self.escape)

    def stage(self, ref: str | int) -> Stage:
        """Return the stage with this name (any case), ref or index; DockerfileError if none."""
        return find_stage(self.stages, ref)

    def edges(self, build_args: dict[str, str] | None = None) -> list[Edge]:
        """Return every dependency edge: FROM a stage or image, COPY --from, RUN --mount."""
        return stage_edges(self.resolve(build_args))

    def images(self, build_args: dict[str, str] | None = None) -> list[str]:
        """Return the external images this Dockerfile uses, in order of first use."""
        return list(dict.fromkeys(e.source for e in self.edges(build_args) if e.external))

    def plan(self, target: str | None = None, builder: str = "buildkit",
             build_args: dict[str, str] | None = None) -> list[str]:
        """Return the refs of the stages this builder runs for this target, dependencies first.

        `target` is a stage name or index (default: the last stage); `builder` is "buildkit"
        or "classic". Raises ValueError for another builder, DockerfileError for an unknown
        target or a rule the file breaks.
        """
        stages = self.resolve(build_args)
        if builder not in BUILDERS:
            raise ValueError(f"builder must be one of {BUILDERS}, not {builder!r}")
        goal = find_stage(stages, target) if target is not None else stages[-1]
        return plan_stages(stages, goal, builder)


def parse_dockerfile(text: str) -> Dockerfile:
    """Parse Dockerfile text into a Dockerfile; raise DockerfileError naming the line if malformed."""
    return Dockerfile(text)
