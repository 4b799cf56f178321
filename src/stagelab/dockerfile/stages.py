"""Stages: from one FROM up to the next, their bases and the stages or images they use."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import DockerfileError
from .instructions import Instruction
from .variables import arg_pairs, expand

STAGE_NAME = re.compile(r"^[a-z][a-z0-9._-]*$")


@dataclass(eq=False)
class Stage:
    """A build stage: its index, optional name, base, the stage it starts FROM, and lines."""

    index: int
    name: str | None
    base: str
    parent: Stage | None
    sources: list[str]
    lines: tuple[int, int]
    instructions: list[Instruction] = field(repr=False)
    written_base: str = field(repr=False, default="")

    @property
    def ref(self) -> str:
        """Return how BuildKit matches this stage: the name lowercased, else the index."""
        return self.name.lower() if self.name else str(self.index)

    @property
    def label(self) -> str:
        """Return the one name tables, graphs and messages give this stage: its ref (an
        unnamed stage is known by its index, as `COPY --from=1` and stage_status name it)."""
        return self.ref

    @property
    def steps(self) -> list[Instruction]:
        """Return the instructions after FROM."""
        return self.instructions[1:]

    def __repr__(self) -> str:
        parent = self.parent.ref if self.parent else None
        return (f"Stage(index={self.index}, name={self.name!r}, base={self.base!r}, "
                f"parent={parent!r}, sources={self.sources!r}, lines={self.lines})")


@dataclass(frozen=True)
class Edge:
    """A dependency of stage `child` on a stage ref or image `source`.

    `kind` is "from" (FROM), "copy" (COPY/ADD --from) or "mount" (RUN --mount from=);
    `external` is true when the source is an image rather than a stage.
    """

    source: str
    child: str
    kind: str
    external: bool


def resolve_stages(instructions: list[Instruction], args: dict[str, str | None],
                   escape: str) -> list[Stage]:
    """Return the stages with FROM and every --from resolved under these ARG values.

    Raises DockerfileError for a duplicate or invalid stage name, a FROM that expands to
    nothing, or a --from that names this or a later stage.
    """
    groups = _split_stages(instructions)
    stages: list[Stage] = []
    by_name: dict[str, Stage] = {}
    for index, group in enumerate(groups):
        stage = _make_stage(index, group, args, by_name, escape)
        if stage.name:
            if stage.ref in by_name:
                raise DockerfileError(f"duplicate stage name {stage.name!r}",
                                      line=group[0].line)
            by_name[stage.ref] = stage
        stages.append(stage)
    for stage in stages:
        stage.sources = [_source_ref(raw, stage, stages, by_name)
                         for raw in _raw_sources(stage, args, escape)]
    return stages


def stage_edges(stages: list[Stage]) -> list[Edge]:
    """Return every dependency edge of these stages: FROM, COPY --from and RUN --mount."""
    refs = {s.ref for s in stages}
    result = []
    for stage in stages:
        if stage.base != "scratch":
            result.append(Edge(stage.parent.ref if stage.parent else stage.base, stage.ref,
                               "from", stage.parent is None))
        kinds = [kind for ins in stage.steps for kind, _ in instruction_sources(ins)]
        for kind, source in zip(kinds, stage.sources):
            result.append(Edge(source, stage.ref, kind, source not in refs))
    return result


def find_stage(stages: list[Stage], ref: str | int) -> Stage:
    """Return the stage with this name (any case), ref or index; DockerfileError when none."""
    key = str(ref).lower()
    for stage in stages:
        if key in (stage.ref, str(stage.index)):
            return stage
    names = ", ".join(s.name for s in stages if s.name) or "none"
    raise DockerfileError(f"no stage named {ref!r}; named stages: {names}")


def instruction_sources(ins: Instruction) -> list[tuple[str, str]]:
    """Return (kind, written source) for each --from of COPY/ADD and from= of RUN --mount."""
    if ins.keyword in ("COPY", "ADD"):
        return [("copy", value) for value in ins.flag("from")]
    if ins.keyword == "RUN":
        found = []
        for mount in ins.flag("mount"):
            options = dict(part.partition("=")[::2] for part in mount.split(","))
            if options.get("from"):
                found.append(("mount", options["from"]))
        return found
    return []


def _split_stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    groups: list[list[Instruction]] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            groups.append([ins])
        elif groups:
            groups[-1].append(ins)
    return groups


def _make_stage(index, group, args, by_name, escape) -> Stage:
    first = group[0]
    words = list(first.value)
    name = None
    if len(words) == 3 and words[1].lower() == "as":
        name = words[2]
        if not STAGE_NAME.match(name.lower()):
            raise DockerfileError(f"invalid stage name {name!r}: start with a letter, then use "
                                  "letters, digits, '-', '_' or '.'", line=first.line)
    elif len(words) != 1:
        raise DockerfileError("FROM takes an image and an optional `AS name`, as in "
                              "`FROM busybox:1.36 AS build`", line=first.line)
    base = expand(words[0], args, escape)
    if not base:
        raise DockerfileError(f"FROM {words[0]} expands to an empty image name: give the "
                              "ARG a default or pass it as a build arg", line=first.line)
    parent = by_name.get(base.lower())
    last_line = group[-1].end_line
    return Stage(index=index, name=name, base=base, parent=parent, sources=[],
                 lines=(first.line, last_line), instructions=group, written_base=words[0])


def _stage_env(stage: Stage, global_args: dict) -> dict:
    env: dict[str, str | None] = {}
    for ins in stage.steps:
        if ins.keyword == "ARG":
            for key, value in arg_pairs(ins, env).items():
                env[key] = value if value is not None else global_args.get(key)
        elif ins.keyword == "ENV":
            env.update({k: v for k, v in arg_pairs(ins, env).items() if v is not None})
    return env


def _raw_sources(stage: Stage, global_args: dict, escape: str) -> list[tuple[Instruction, str]]:
    env = _stage_env(stage, global_args)
    return [(ins, expand(value, env, escape))
            for ins in stage.steps for _, value in instruction_sources(ins)]


def _source_ref(raw: tuple[Instruction, str], stage: Stage, stages: list[Stage],
                by_name: dict[str, Stage]) -> str:
    ins, value = raw
    if value.isdigit():
        number = int(value)
        if number >= stage.index:
            raise DockerfileError(f"--from={value} names stage {number}, which is not an earlier "
                                  f"stage (this is stage {stage.index})", line=ins.line)
        return stages[number].ref
    if value.lower() in by_name:
        source = by_name[value.lower()]
        if source.index == stage.index:
            raise DockerfileError(f"stage {stage.label} copies from itself", line=ins.line)
        return source.ref
    return value
