"""Stages: from one FROM up to the next, their bases and the stages or images they use."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import DockerfileError
from .instructions import Instruction

STAGE_NAME = re.compile(r"^[a-z][a-z0-9._-]*$")


@dataclass(eq=False)
class Stage:
    """A build stage: its index, optional name, base, the stage it starts FROM, and lines.

    `base` is the FROM image or stage as the builder expands it; `parent` the stage it starts
    from (None for an image or scratch); `sources` the stage refs or images it copies or mounts
    from, in order, and `source_kinds` what each is ("copy", "mount", or "onbuild" for an ONBUILD
    trigger of its parent stage); `lines` its first and last line (1-based).
    """

    index: int
    name: str | None
    base: str
    parent: Stage | None
    sources: list[str]
    lines: tuple[int, int]
    instructions: list[Instruction] = field(repr=False)
    written_base: str = field(repr=False, default="")
    source_kinds: list[str] = field(repr=False, default_factory=list)
    # A later stage has the same name: BuildKit's name means that one, so this one's ref is
    # its index.
    shadowed: bool = field(repr=False, default=False)
    # The platform its FROM --platform asks for, as BuildKit expands it ("": the build's).
    platform: str = field(repr=False, default="")

    @property
    def ref(self) -> str:
        """Return how BuildKit matches this stage: the name lowercased, else the index."""
        return self.name.lower() if self.name and not self.shadowed else str(self.index)

    @property
    def label(self) -> str:
        """Return the one name tables, graphs and messages give this stage: its ref, as
        stage_status names it (an unnamed stage is known by its index, as `COPY --from=1`
        writes it); a stage whose name a later stage reuses is `name #index`."""
        if self.name and self.shadowed:
            return f"{self.name} #{self.index}"
        return self.ref

    @property
    def steps(self) -> list[Instruction]:
        """Return the instructions after FROM."""
        return self.instructions[1:]

    def __repr__(self) -> str:
        parent = self.parent.ref if self.parent else None
        return (
            f"Stage(index={self.index}, name={self.name!r}, base={self.base!r}, "
            f"parent={parent!r}, sources={self.sources!r}, lines={self.lines})"
        )


@dataclass(frozen=True)
class Edge:
    """A dependency of stage `child` on a stage ref or image `source`.

    `kind` is "from" (FROM), "copy" (COPY --from), "mount" (RUN --mount from=) or "onbuild"
    (an ONBUILD COPY --from of the stage it starts from); `external` is true when the source is
    an image rather than a stage.
    """

    source: str
    child: str
    kind: str
    external: bool


def split_stages(instructions: list[Instruction]) -> list[Stage]:
    """Return the stages as written, before any builder resolves them: base and names unexpanded.

    Raises DockerfileError naming the line for a FROM that is not `FROM image [AS name]` or a
    stage name both builders' parser refuses (moby/buildkit frontend/dockerfile/instructions/
    parse.go, `parseFrom`).
    """
    groups: list[list[Instruction]] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            groups.append([ins])
        elif groups:
            groups[-1].append(ins)
    stages = []
    for index, group in enumerate(groups):
        first = group[0]
        words = list(first.value)
        name = None
        if len(words) == 3 and words[1].lower() == "as":
            name = words[2]
            if not STAGE_NAME.match(name.lower()):
                raise DockerfileError(
                    f"invalid stage name {name!r}: start with a letter, then "
                    "use letters, digits, '-', '_' or '.'",
                    line=first.line,
                )
        elif len(words) != 1:
            raise DockerfileError(
                "FROM takes an image and an optional `AS name`, as in `FROM busybox:1.36 AS build`",
                line=first.line,
            )
        stages.append(
            Stage(
                index=index,
                name=name,
                base=words[0],
                parent=None,
                sources=[],
                lines=(first.line, group[-1].end_line),
                instructions=group,
                written_base=words[0],
            )
        )
    names = [s.name.lower() if s.name else None for s in stages]
    for stage in stages:
        stage.shadowed = bool(stage.name) and stage.name.lower() in names[stage.index + 1 :]
    return stages


def stage_edges(stages: list[Stage]) -> list[Edge]:
    """Return every dependency edge of these stages: FROM, COPY --from, RUN --mount, ONBUILD."""
    refs = {s.ref for s in stages}
    result = []
    for stage in stages:
        if stage.parent is not None:
            result.append(Edge(stage.parent.ref, stage.ref, "from", False))
        elif stage.base and stage.base != "scratch":
            result.append(Edge(stage.base, stage.ref, "from", True))
        for kind, source in zip(stage.source_kinds, stage.sources):
            result.append(Edge(source, stage.ref, kind, source not in refs))
    return result


def find_stage(stages: list[Stage], ref: str | int) -> Stage:
    """Return the stage with this name (any case; the last of a repeated name), ref or index.

    Raises DockerfileError when there is none.
    """
    key = str(ref).lower()
    named = [s for s in stages if s.name and s.name.lower() == key]
    if named:
        return named[-1]
    for stage in stages:
        if key in (stage.ref, str(stage.index)):
            return stage
    names = ", ".join(dict.fromkeys(s.name for s in stages if s.name)) or "none"
    raise DockerfileError(f"no stage named {ref!r}; named stages: {names}")


def instruction_sources(ins: Instruction) -> list[tuple[str, str]]:
    """Return (kind, written source) for each COPY --from and RUN --mount from= of one instruction.

    Only COPY has --from (ADD has none); a cache mount without from= uses no stage or image.
    """
    if ins.keyword == "COPY":
        return [("copy", value) for value in ins.flag("from")]
    if ins.keyword == "RUN":
        found = []
        for mount in ins.flag("mount"):
            options = dict(part.partition("=")[::2] for part in mount.split(","))
            kind = options.get("type", "bind")
            if options.get("from") and kind != "tmpfs":
                found.append(("mount", options["from"]))
        return found
    return []
