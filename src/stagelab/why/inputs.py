"""What each builder's cache compares for each step of a build: a pure model of the rules in
the builders' own source, from the Dockerfile, the build args, the context files and the IDs
of the images a build uses.

BuildKit (moby/buildkit frontend/dockerfile/dockerfile2llb/convert.go) turns RUN, COPY, ADD
and WORKDIR into operations; the other instructions change only the state later operations
run with. `dispatchArg` adds every ARG that has a value to that state's environment, so a
changed value reaches every later RUN of the stage, used or not; `dispatchEnv` does the same
for ENV, `dispatchWorkdir` and `dispatchUser` set the folder and user (WORKDIR's mkdir runs as
that user). An operation's cache key is its definition plus its inputs' keys; the files a COPY
or a read-only `RUN --mount` reads count by content (solver/llbsolver/ops/file.go and exec.go
`CacheMap`: a rootfs input counts by key, `NoContentBasedHash`).

The classic builder (moby/moby builder/dockerfile) makes every instruction a step and looks
each up by its parent image and its configuration (imageprobe.go `Probe`): a RUN by its
command with the stage's build args written before it (dispatchers.go `dispatchRun`,
`prependEnvOnCmd`: every ARG declared in the stage that has a value, unless an ENV of that name
hides it; buildargs.go `getBuildArg`), a COPY or ADD by the checksum of what it copies
(internals.go `performCopy`), the others by their text with variables expanded. A step that
misses makes a new image, so every later step of the stage misses too.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field, replace

from ..dockerfile import Dockerfile, Instruction, Stage
from ..dockerfile.platforms import machine_platform
from ..dockerfile.resolve import meta_instructions
from ..dockerfile.rules import from_env, onbuild_triggers
from ..dockerfile.stages import instruction_sources
from ..dockerfile.variables import arg_pairs, expand_word
from .contextfiles import BuildContext

# BuildKit makes an operation (a step it reports) of these; the others change its state only.
OPERATIONS = {"RUN", "COPY", "ADD", "WORKDIR"}
# Instructions whose words both builders expand with the variables in scope
# (instructions.SupportsSingleWordExpansion in both builders' instruction packages).
EXPANDED = {"ADD", "COPY", "ENV", "EXPOSE", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}
DEFAULT_SHELL = ["/bin/sh", "-c"]


@dataclass
class StepInput:
    """One step as the builder's cache sees it.

    `own` is what the cache compares for this step itself (JSON values); `stage_sources` the
    stages whose files it reads by content (COPY --from, RUN --mount from=), as (ref, line);
    `seen` the variables its words used or its environment holds, name -> (value, where set);
    `link` is true for BuildKit's COPY --link, whose operation does not build on the step
    before it.
    """

    stage: str
    line: int | None
    instruction: str
    keyword: str
    own: dict
    stage_sources: list[str] = field(default_factory=list)
    seen: dict[str, list] = field(default_factory=dict)
    link: bool = False
    written: str = ""


@dataclass
class StageInput:
    """A stage as the cache sees it: its base (an image name, `scratch`, or the stage `parent`
    it starts FROM) and its steps in the order the builder runs them."""

    ref: str
    index: int
    base: str
    parent: str | None
    steps: list[StepInput]


@dataclass
class _State:
    """What later steps of a stage run with: the environment (name -> value, where it was set),
    the classic builder's declared build args, the folder, the user and the shell."""

    env: dict[str, list] = field(default_factory=dict)
    args: dict[str, list] = field(default_factory=dict)
    workdir: str = "/"
    user: str = ""
    shell: list[str] = field(default_factory=lambda: list(DEFAULT_SHELL))

    def copy(self, keep_args: bool) -> _State:
        return replace(
            self,
            env=dict(self.env),
            args=dict(self.args) if keep_args else {},
            shell=list(self.shell),
        )

    def variables(self, builder: str) -> dict[str, str]:
        """Return what `$NAME` expands to: BuildKit's environment holds its ARGs; for the
        classic builder an ENV hides a build arg of the same name."""
        found = {name: value for name, (value, _) in self.env.items()}
        if builder == "classic":
            found = {name: value for name, (value, _) in self.args.items()} | found
        return found


def stage_inputs(
    dockerfile: Dockerfile,
    builder: str,
    build_args: dict[str, str],
    target: str | None,
    context: BuildContext | None,
    images: dict[str, str],
) -> list[StageInput]:
    """Return every stage's steps as `builder`'s cache sees them, in Dockerfile order.

    `images` maps external image names (bases, COPY --from and mount images) to their IDs;
    `context` is the build context (None: unknown, so copies from it are compared by their
    text only). Raises nothing: what a builder refuses, it refuses before any step runs.
    """
    stages = dockerfile.resolve(build_args, builder)
    goal = target or (stages[-1].name or "").lower()
    meta = from_env(
        builder,
        meta_instructions(dockerfile.instructions),
        build_args,
        machine_platform(),
        machine_platform(),
        goal,
        dockerfile.escape,
    )
    refs = {str(stage.index): stage.ref for stage in stages}
    refs.update({stage.name.lower(): stage.ref for stage in reversed(stages) if stage.name})
    finals: dict[str, _State] = {}
    found = []
    for stage in stages:
        inherited = finals.get(stage.parent.ref) if stage.parent else None
        state = inherited.copy(keep_args=builder == "buildkit") if inherited else _State()
        reader = _StageReader(builder, stage, state, build_args, meta, context, images, refs)
        reader.escape = dockerfile.escape
        steps = reader.read()
        finals[stage.ref] = reader.state
        found.append(
            StageInput(
                stage.ref,
                stage.index,
                stage.base or "scratch",
                stage.parent.ref if stage.parent else None,
                steps,
            )
        )
    return found


class _StageReader:
    """Walks one stage's instructions, keeping the state and making each step's input."""

    escape = "\\"

    def __init__(self, builder, stage: Stage, state, build_args, meta, context, images, refs):
        self.builder, self.stage, self.state = builder, stage, state
        self.build_args, self.meta, self.context, self.images = build_args, meta, context, images
        self.refs = refs

    def read(self) -> list[StepInput]:
        """Return the stage's steps, its parent's ONBUILD triggers first: BuildKit runs them
        before the stage's own steps, the classic builder inside its FROM step (which reports
        them as steps after the FROM; stagelab.classic)."""
        steps = [] if self.builder == "buildkit" else [self.step(self.stage.instructions[0])]
        for trigger in onbuild_triggers(self.stage.parent):
            step = self.step(trigger)
            if step is not None:
                step.instruction = f"ONBUILD {step.instruction}"
                steps.append(step)
        steps += [step for step in map(self.step, self.stage.steps) if step is not None]
        return steps

    def expand(self, word: str, seen: dict) -> str:
        variables = self.state.variables(self.builder)
        try:
            value, used = expand_word(word, variables, self.escape)
        except ValueError:
            return word
        for name in used:
            seen[name] = list(self._where(name))
        return value

    def _where(self, name: str) -> tuple[str, str]:
        held = self.state.env.get(name) or self.state.args.get(name)
        return held[0], held[1]

    def step(self, ins: Instruction) -> StepInput | None:
        """Return the input of one instruction's step (None where the builder makes none),
        updating the state later steps run with."""
        keyword = ins.keyword
        seen: dict[str, list] = {}
        text = str(ins)
        if keyword == "FROM":
            return self._made(ins, text, "FROM", {"base": self.stage.base}, seen)
        if keyword == "ARG":
            return self._arg(ins, text)
        if keyword == "ENV":
            return self._env(ins, text, seen)
        if keyword in ("COPY", "ADD"):
            return self._copy(ins, keyword, text, seen)
        if keyword == "RUN":
            return self._run(ins, text)
        words = [self.expand(w, seen) if keyword in EXPANDED else w for w in ins.value]
        if keyword == "ONBUILD":
            words = [ins.original.split(None, 1)[1]]
        if keyword == "WORKDIR":
            folder = posixpath.normpath(posixpath.join(self.state.workdir, words[0] or "."))
            self.state.workdir = folder
            if self.builder == "buildkit":
                own = {"workdir": folder, "user": self.state.user}
                return self._made(ins, text, keyword, own, seen) if folder != "/" else None
        elif keyword == "USER":
            self.state.user = words[0]
        elif keyword == "SHELL":
            self.state.shell = list(ins.value)
        if self.builder == "buildkit":
            return None
        return self._made(ins, text, keyword, {"text": [keyword] + words}, seen)

    def _made(self, ins, text, keyword, own, seen, sources=(), link=False) -> StepInput:
        return StepInput(
            self.stage.ref, ins.line, text, keyword, own, list(sources), seen, link, ins.original
        )

    def _arg(self, ins: Instruction, text: str) -> StepInput | None:
        variables = self.state.variables(self.builder)
        declared = arg_pairs(ins, variables, self.escape)
        written = []
        for name, default in declared.items():
            if name in self.build_args:
                value = self.build_args[name]
            elif default is not None:
                value = default
            else:
                value = self.meta.get(name)
            written.append(name if default is None else f"{name}={default}")
            if value is None:
                continue
            where = f"ARG on line {ins.line}"
            if self.builder == "buildkit":
                self.state.env[name] = [value, where]
            else:
                self.state.args[name] = [value, where]
        if self.builder == "buildkit":
            return None
        return self._made(ins, text, "ARG", {"text": ["ARG"] + written}, {})

    def _env(self, ins: Instruction, text: str, seen: dict) -> StepInput | None:
        pairs = list(ins.value)
        written = []
        for name, value in zip(pairs[::2], pairs[1::2]):
            expanded = self.expand(value, seen)
            self.state.env[name] = [expanded, f"ENV on line {ins.line}"]
            written.append(f"{name}={expanded}")
        if self.builder == "buildkit":
            return None
        return self._made(ins, text, "ENV", {"text": ["ENV"] + written}, seen)

    def _run(self, ins: Instruction, text: str) -> StepInput:
        command = _command(ins)
        cmd = command if _is_json(ins) else self.state.shell + command
        mounts, sources, files = [], [], {}
        for mount in ins.flag("mount"):
            options = dict(part.partition("=")[::2] for part in mount.split(","))
            origin = options.get("from")
            if origin and origin.lower() in self.refs:
                sources.append(self.refs[origin.lower()])
                options["from"] = "stage"
            elif origin:
                options["from"] = self.images.get(origin, origin)
            elif options.get("type", "bind") == "bind" and self.context is not None:
                files.update(self.context.select(options.get("source", ".")))
            mounts.append(sorted(options.items()))
        seen = {name: list(held) for name, held in self.state.env.items()}
        if self.builder == "buildkit":
            env = {name: value for name, (value, _) in self.state.env.items()}
            own = {
                "cmd": cmd,
                "env": dict(sorted(env.items())),
                "workdir": self.state.workdir,
                "user": self.state.user,
                "flags": sorted(f for f in ins.flags if not f.startswith("--mount=")),
                "mounts": mounts,
                "files": files,
            }
        else:
            args = {n: v for n, (v, _) in self.state.args.items() if n not in self.state.env}
            seen = {n: list(self.state.args[n]) for n in args}
            prefix = [f"|{len(args)}"] + [f"{n}={v}" for n, v in sorted(args.items())]
            own = {"cmd": (prefix if args else []) + cmd, "args": dict(sorted(args.items()))}
        return self._made(ins, text, "RUN", own, seen, sources)

    def _copy(self, ins: Instruction, keyword: str, text: str, seen: dict) -> StepInput:
        words = [self.expand(word, seen) for word in ins.value]
        sources, destination = words[:-1], words[-1] if words else ""
        flags = {}
        for flag in ins.flags:
            name, _, value = flag.lstrip("-").partition("=")
            if name.lower() != "from":
                flags[name.lower()] = self.expand(value, seen)
        own: dict = {"keyword": keyword, "flags": flags, "sources": sources}
        stage_sources = []
        origins = [value for kind, value in instruction_sources(ins) if kind == "copy"]
        if origins and origins[0].lower() in self.refs:
            stage_sources.append(self.refs[origins[0].lower()])
        elif origins:
            own["image"] = self.images.get(origins[0], origins[0])
        elif not any(word.startswith("<<") for word in ins.value):
            own["files"] = self._context_files(sources)
        if _heredoc(ins):
            own["heredoc"] = ins.original
        if self.builder == "buildkit":
            own["destination"] = _destination(self.state.workdir, destination)
        else:
            own["destination"] = destination
        link = self.builder == "buildkit" and "link" in flags and flags["link"] != "false"
        return self._made(ins, text, keyword, own, seen, stage_sources, link)

    def _context_files(self, sources: list[str]) -> dict | str:
        if self.context is None:
            return "unknown"
        chosen: dict[str, str] = {}
        for source in sources:
            chosen.update(self.context.select(source))
        return dict(sorted(chosen.items()))


def _heredoc(ins: Instruction) -> bool:
    return "\n" in ins.original and any("<<" in value for value in ins.value)


def _command(ins: Instruction) -> list[str]:
    """Return a RUN's command: its JSON words, or its shell text (a heredoc's body included)."""
    if _is_json(ins):
        return list(ins.value)
    if _heredoc(ins):
        return [ins.original.split(None, 1)[1] if " " in ins.original else ""]
    return [" ".join(ins.value)]


def _is_json(ins: Instruction) -> bool:
    rest = ins.original.split(None, 1)[1] if len(ins.original.split(None, 1)) > 1 else ""
    for flag in ins.flags:
        rest = rest.replace(flag, "", 1)
    rest = rest.strip()
    if not rest.startswith("["):
        return False
    try:
        return json.loads(rest) == list(ins.value)
    except ValueError:
        return False


def _destination(workdir: str, destination: str) -> str:
    """A copy's destination as BuildKit resolves it against the working folder (a trailing `/`
    kept: it says the destination is a folder)."""
    if destination.startswith("/"):
        resolved = posixpath.normpath(destination)
    else:
        resolved = posixpath.normpath(posixpath.join(workdir, destination or "."))
    return resolved + ("/" if destination.endswith("/") and resolved != "/" else "")
