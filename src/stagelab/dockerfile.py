"""Parse Dockerfiles with the official BuildKit parser; stages, their graph and build plans."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import dockerfile as buildkit_parser

from .errors import DockerfileError

INSTRUCTIONS = {"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM",
                "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL",
                "USER", "VOLUME", "WORKDIR"}
NEEDS_ARGUMENTS = INSTRUCTIONS - {"CMD", "ENTRYPOINT"}
STAGE_NAME = re.compile(r"^[a-z][a-z0-9._-]*$")
BUILDERS = ("buildkit", "classic")


@dataclass(frozen=True)
class Instruction:
    """One instruction as the parser returned it."""

    keyword: str
    original: str
    line: int
    end_line: int
    flags: tuple[str, ...]
    value: tuple[str, ...]

    def flag(self, name: str) -> list[str]:
        """Return the values of every `--name=value` flag."""
        prefix = f"--{name}="
        return [f[len(prefix):] for f in self.flags if f.lower().startswith(prefix)]

    def __str__(self) -> str:
        return self.original.split("\n", 1)[0]


@dataclass(eq=False)
class Stage:
    """A build stage: from its FROM up to the next FROM."""

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
        """Return a human label: `name` or `#index`."""
        return self.name if self.name else f"#{self.index}"

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
    """A dependency of stage `child` on a stage ref or image `source`."""

    source: str
    child: str
    kind: str  # "from", "copy" or "mount"
    external: bool


class Dockerfile:
    """A parsed Dockerfile: its instructions, global ARGs and stages."""

    def __init__(self, text: str):
        self.text = text
        self.escape = _escape_char(text)
        self.instructions = _parse(text)
        self.global_args = _global_args(self.instructions)
        self.stages = self.resolve()

    def __repr__(self) -> str:
        refs = ", ".join(s.label for s in self.stages)
        return f"<Dockerfile: {len(self.stages)} stages: {refs}>"

    def resolve(self, build_args: dict[str, str] | None = None) -> list[Stage]:
        """Return the stages with FROM and --from resolved under these build args."""
        args = dict(self.global_args)
        for key, value in (build_args or {}).items():
            if key in args:
                args[key] = value
        groups = _split_stages(self.instructions)
        stages: list[Stage] = []
        by_name: dict[str, Stage] = {}
        for index, group in enumerate(groups):
            stage = _make_stage(index, group, args, by_name, self.escape)
            if stage.name:
                if stage.ref in by_name:
                    raise DockerfileError(f"duplicate stage name {stage.name!r}",
                                          line=group[0].line)
                by_name[stage.ref] = stage
            stages.append(stage)
        for stage in stages:
            stage.sources = [_source_ref(raw, stage, stages, by_name)
                             for raw in _raw_sources(stage, args, self.escape)]
        return stages

    def stage(self, ref: str | int) -> Stage:
        """Return the stage with this name (any case), ref or index."""
        return _find_stage(self.stages, ref)

    def edges(self, build_args: dict[str, str] | None = None) -> list[Edge]:
        """Return every dependency edge: FROM a stage or image, COPY --from, RUN --mount."""
        stages = self.resolve(build_args)
        refs = {s.ref for s in stages}
        result = []
        for stage in stages:
            if stage.base != "scratch":
                result.append(Edge(stage.parent.ref if stage.parent else stage.base, stage.ref,
                                   "from", stage.parent is None))
            for kind, source in _typed_sources(stage):
                result.append(Edge(source, stage.ref, kind, source not in refs))
        return result

    def images(self, build_args: dict[str, str] | None = None) -> list[str]:
        """Return the external images this Dockerfile uses, in order of first use."""
        return list(dict.fromkeys(e.source for e in self.edges(build_args) if e.external))

    def plan(self, target: str | None = None, builder: str = "buildkit",
             build_args: dict[str, str] | None = None) -> list[str]:
        """Return the refs of the stages this builder runs for this target, dependencies first."""
        if builder not in BUILDERS:
            raise ValueError(f"builder must be one of {BUILDERS}, not {builder!r}")
        stages = self.resolve(build_args)
        goal = _find_stage(stages, target) if target is not None else stages[-1]
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


def parse_dockerfile(text: str) -> Dockerfile:
    """Parse Dockerfile text; raise DockerfileError naming the line when it is malformed."""
    return Dockerfile(text)


def _parse(text: str) -> list[Instruction]:
    try:
        commands = buildkit_parser.parse_string(text)
    except buildkit_parser.GoParseError as error:
        raise DockerfileError(str(error), line=_first_failing_line(text)) from None
    instructions = [Instruction(c.cmd.upper(), c.original, c.start_line, c.end_line,
                                tuple(c.flags), tuple(c.value)) for c in commands]
    seen_from = False
    for ins in instructions:
        if ins.keyword not in INSTRUCTIONS:
            raise DockerfileError(f"unknown instruction {ins.keyword}", line=ins.line)
        if ins.keyword in NEEDS_ARGUMENTS and not any(v.strip() for v in ins.value):
            raise DockerfileError(f"{ins.keyword} needs at least one argument", line=ins.line)
        if ins.keyword == "FROM":
            seen_from = True
        elif not seen_from and ins.keyword != "ARG":
            raise DockerfileError(f"{ins.keyword} comes before the first FROM: only ARG may "
                                  "appear there; start a stage with FROM first", line=ins.line)
    if not seen_from:
        raise DockerfileError("no FROM instruction: a Dockerfile needs at least one stage")
    return instructions


def _first_failing_line(text: str) -> int | None:
    """Find the first line at which the parser fails, for errors that name none."""
    lines = text.splitlines(keepends=True)
    for count in range(1, len(lines) + 1):
        try:
            buildkit_parser.parse_string("".join(lines[:count]))
        except buildkit_parser.GoParseError as error:
            if "no instructions" not in str(error):
                return _first_line_of_instruction(lines, count)
    return None


def _first_line_of_instruction(lines: list[str], count: int) -> int:
    # A heredoc fails from its opening line on; report that line, not where the file ends.
    for number in range(count, 0, -1):
        if "<<" in lines[number - 1]:
            return number
    return count


def _escape_char(text: str) -> str:
    for line in text.splitlines():
        match = re.match(r"^\s*#\s*escape\s*=\s*(\S)", line, re.IGNORECASE)
        if match:
            return match.group(1)
        if not re.match(r"^\s*#\s*\w+\s*=", line):
            break
    return "\\"


def _global_args(instructions: list[Instruction]) -> dict[str, str | None]:
    args: dict[str, str | None] = {}
    for ins in instructions:
        if ins.keyword == "FROM":
            break
        args.update(_arg_pairs(ins, args))
    return args


def _arg_pairs(ins: Instruction, env: dict[str, str | None]) -> dict[str, str | None]:
    pairs = {}
    for word in ins.value:
        key, sep, value = word.partition("=")
        pairs[key] = expand(_unquote(value), env) if sep else None
    return pairs


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


_VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-+])"
                       r"(?P<word>[^}]*))?\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


def expand(word: str, env: dict[str, str | None], escape: str = "\\") -> str:
    """Expand $VAR, ${VAR}, ${VAR:-default} and ${VAR:+alt} as BuildKit does in FROM."""
    out = []
    position = 0
    while position < len(word):
        if word[position] == escape and position + 1 < len(word) and word[position + 1] == "$":
            out.append("$")
            position += 2
            continue
        match = _VARIABLE.match(word, position)
        if not match:
            out.append(word[position])
            position += 1
            continue
        name = match.group("braced") or match.group("plain")
        value = env.get(name)
        op, alt = match.group("op"), match.group("word") or ""
        if op in (":-", "-"):
            unset = value is None or (op == ":-" and value == "")
            value = expand(alt, env, escape) if unset else value
        elif op in (":+", "+"):
            isset = value is not None and (op == "+" or value != "")
            value = expand(alt, env, escape) if isset else ""
        out.append(value or "")
        position = match.end()
    return "".join(out)


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
            for key, value in _arg_pairs(ins, env).items():
                env[key] = value if value is not None else global_args.get(key)
        elif ins.keyword == "ENV":
            env.update({k: v for k, v in _arg_pairs(ins, env).items() if v is not None})
    return env


def _raw_sources(stage: Stage, global_args: dict, escape: str) -> list[tuple[Instruction, str]]:
    env = _stage_env(stage, global_args)
    found = []
    for ins in stage.steps:
        for kind, value in _instruction_sources(ins):
            found.append((ins, expand(value, env, escape)))
    return found


def _instruction_sources(ins: Instruction) -> list[tuple[str, str]]:
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


def _typed_sources(stage: Stage) -> list[tuple[str, str]]:
    kinds = [kind for ins in stage.steps for kind, _ in _instruction_sources(ins)]
    return list(zip(kinds, stage.sources))


def _find_stage(stages: list[Stage], ref: str | int) -> Stage:
    key = str(ref).lower()
    for stage in stages:
        if key in (stage.ref, str(stage.index)):
            return stage
    names = ", ".join(s.name for s in stages if s.name) or "none"
    raise DockerfileError(f"no stage named {ref!r}; named stages: {names}")
