"""How each builder resolves a Dockerfile's stages, and where it refuses the file.

BuildKit's rules follow moby/buildkit frontend/dockerfile/dockerfile2llb/convert.go
(`toDispatchState`: base names, `toCommand`, `initOnBuildTriggers`, `dispatch`),
convert_runmount.go (`detectRunMount`) and instructions/commands_runmount.go; the classic
builder's follow moby/moby builder/dockerfile/builder.go (`build`, stage names and targets),
dispatchers.go (`initializeStage`, `dispatchCopy`) and imagecontext.go. Where the two differ
from the source on GitHub, what Docker Engine 28.5.2 with buildx 0.29.1 did wins
(tests/integration/test_planner_truth.py builds every rule for real).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .instructions import Instruction
from .platforms import platform_args
from .stages import Stage, instruction_sources
from .variables import expand_word

# The grammar of an image reference (github.com/distribution/reference, regexp.go).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN = (
    r"(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?)"
)
_REFERENCE = re.compile(
    rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z]"
    r"[A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)
_STAGE_CONTEXT_NAME = re.compile(rf"^{_COMPONENT}$")
CLASSIC_LACKS = 'the classic builder does not support {}; use BuildKit (builder="buildkit")'
# How an engine finds an image by a name: "reference" (an image has that name), "id" (the name
# starts the ID of exactly one image) or None (it has none). stagelab.images.found_as asks one.
ImageLookup = Callable[[str], "str | None"]


def engine_has(lookup: ImageLookup | None, name: str, builder: str) -> bool:
    """Tell whether `builder` finds an image called `name` on the engine without pulling.

    The classic builder asks the daemon, which takes a reference, then a unique image-ID
    prefix (moby daemon/images/image.go `GetImage`); BuildKit's image source takes a reference
    only (moby builder/builder-next/adapters/containerimage/pull.go `resolveLocal`). With no
    lookup, the engine's images are unknown and taken to be none: the planner stays pure.
    """
    found = lookup(name) if lookup is not None else None
    return found == "reference" or (found == "id" and builder == "classic")


# When a builder meets what it refuses. BuildKit's Dockerfile frontend works in passes over
# the whole file (convert.go `toDispatchState`): the `# check=` options, the meta ARGs
# (`buildMetaArgs`), every stage's base name and platform, the target, every stage's commands
# (`toCommand`: --from, from=, cycles), the base images (`resolveStages`), the ONBUILD
# triggers of the stages it needs, then it dispatches those stages, step by step, and last
# reports the build checks (`lint.Error`). The first refusal met wins. The classic builder
# refuses what the parser and the target refuse, then its meta ARGs, then runs stage after
# stage and stops at the first step it refuses (its order is the file's).
CHECK_OPTIONS, META, STAGES, TARGET, COMMANDS, BASES, ONBUILD, DISPATCH, LINT = range(9)


@dataclass(frozen=True)
class Refusal:
    """Where and why a builder refuses a Dockerfile: `reason` is the builder's own message.

    `stage` is None when the builder refuses the file whatever the target; otherwise the index
    of the stage that, once the build needs it, makes the builder refuse. `phase` orders
    refusals as the builder meets them (CHECK_OPTIONS ... LINT above).
    """

    line: int | None
    reason: str
    advice: str = ""
    stage: int | None = None
    phase: int = STAGES

    def message(self, builder: str) -> str:
        who = "BuildKit" if builder == "buildkit" else "The classic builder"
        advice = self.advice[:1].upper() + self.advice[1:]
        return f"{who} refuses this: {self.reason}" + (f". {advice}" if advice else "")


@dataclass(frozen=True)
class CheckHit:
    """A build check (frontend/dockerfile/linter/ruleset.go) that fired: its rule, line, the
    linter's message, and the stage whose dispatch fired it (None: the whole file's pass)."""

    rule: str
    line: int | None
    message: str
    stage: int | None = None


@dataclass
class Resolution:
    """The stages as one builder resolves them, every place it refuses the file, the build
    checks that fire (`checks`) and whether a `# check=error=true` makes them refuse it."""

    builder: str
    stages: list[Stage]
    refusals: list[Refusal] = field(default_factory=list)
    # Stage ref -> the named build context that replaces it (contexts.apply_contexts).
    replaced: dict[str, str] = field(default_factory=dict)
    checks: list[CheckHit] = field(default_factory=list)
    checks_refuse: bool = False

    def refuse(
        self,
        line: int | None,
        reason: str,
        advice: str = "",
        stage: int | None = None,
        phase: int = STAGES,
    ) -> None:
        self.refusals.append(Refusal(line, reason, advice, stage, phase))


def valid_reference(name: str) -> bool:
    """Return True when `name` is a well-formed image reference (lowercase repository)."""
    return bool(_REFERENCE.match(name))


def from_env(
    builder: str,
    meta: list[Instruction],
    build_args: dict[str, str],
    platform: str,
    build_platform: str,
    target_name: str,
    escape: str,
    res: Resolution | None = None,
) -> dict[str, str | None]:
    """Return the variables FROM lines see: the ARGs before the first FROM, after build args.

    BuildKit starts from its platform ARGs and TARGETSTAGE (convert.go `defaultArgs`) and
    expands a default only when no build arg replaces it (`buildMetaArgs`); an ARG without a
    default keeps that value. The classic builder starts from nothing and expands every
    default, replaced or not (moby builder/dockerfile/builder.go `processMetaArg`). A default
    that does not expand (`${NAME:?message}` with NAME unset) is refused in `res`.
    """
    env: dict[str, str | None] = {}
    if builder == "buildkit":
        env.update(platform_args(platform, build_platform))
        env["TARGETSTAGE"] = target_name
    for ins in meta:
        for word in ins.value:
            key, equals, default = word.partition("=")
            value: str | None = default if equals else None
            if value is not None and not (builder == "buildkit" and key in build_args):
                try:
                    value = expand_word(value, env, escape)[0]
                except ValueError as error:
                    if res is not None:
                        res.refuse(
                            ins.line,
                            f'failed to process "{default}": {error}',
                            _required_advice(key, default, builder, build_args),
                            phase=META if builder == "buildkit" else COMMANDS,
                        )
                    value = None
            if key in build_args:
                env[key] = build_args[key]
            elif value is not None or key not in env:
                env[key] = value
    return env


def _required_advice(key: str, default: str, builder: str, build_args: dict[str, str]) -> str:
    if builder == "classic" and key in build_args:
        return (
            f"the classic builder expands the default of ARG {key} even when a build arg "
            f"gives {key} a value, and {default} fails: BuildKit builds it "
            '(builder="buildkit"), or give the ARG a default that expands'
        )
    return f"pass the value it asks for as a build arg, as in build_args={{{key!r}: ...}}"


def expand_base(
    stage: Stage,
    env: dict[str, str | None],
    escape: str,
    resolution: Resolution,
    later_args: dict[str, int],
    refused_stage: int | None,
) -> str:
    """Expand a FROM's image; record a refusal (of `refused_stage`) where it is blank or
    malformed."""
    first = stage.instructions[0]
    try:
        base, _ = expand_word(stage.written_base, env, escape)
    except ValueError as error:
        resolution.refuse(first.line, str(error), stage=refused_stage)
        return ""
    if not base:
        resolution.refuse(
            first.line,
            f"base name ({stage.written_base}) should not be blank",
            _blank_base_advice(stage.written_base, env, later_args),
            stage=refused_stage,
        )
    return base


def _blank_base_advice(written: str, env: dict, later_args: dict[str, int]) -> str:
    names = re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", written)
    for name in names:
        if env.get(name) is None and name in later_args:
            return (
                f"ARG {name} is declared at line {later_args[name]}, inside a stage, so FROM "
                f"lines cannot see it: declare `ARG {name}=...` before the first FROM"
            )
    return "give the ARG before the first FROM a default, or pass it as a build arg"


def later_declared_args(instructions: list[Instruction]) -> dict[str, int]:
    """Return the ARGs declared after the first FROM, with the line of their first declaration."""
    found: dict[str, int] = {}
    seen_from = False
    for ins in instructions:
        seen_from = seen_from or ins.keyword == "FROM"
        if seen_from and ins.keyword == "ARG":
            for word in ins.value:
                found.setdefault(word.partition("=")[0], ins.line)
    return found


def onbuilds(parent: Stage | None) -> list[Instruction]:
    """Return the ONBUILD instructions (with a trigger) of the stage a stage starts from: the
    FROM of a stage built on it runs their triggers, in order."""
    if parent is None:
        return []
    return [ins for ins in parent.steps if ins.keyword == "ONBUILD" and ins.trigger]


def onbuild_triggers(parent: Stage | None) -> list[Instruction]:
    """Return the triggers of the ONBUILD instructions of the stage a stage starts from."""
    return [ins.trigger for ins in onbuilds(parent)]


def uses(stage: Stage) -> list[tuple[str, str, Instruction]]:
    """Return (kind, written source, instruction) for every --from and from= a stage runs,
    its parent's ONBUILD triggers first (they run right after FROM)."""
    found = [
        ("onbuild", source, ins)
        for ins in onbuild_triggers(stage.parent)
        for _, source in instruction_sources(ins)
    ]
    return found + [
        (kind, source, ins) for ins in stage.steps for kind, source in instruction_sources(ins)
    ]


def has_variable(word: str, escape: str) -> bool:
    """Return True when expanding `word` with no variables set changes it (convert.go)."""
    try:
        return expand_word(word, {}, escape)[0] != word
    except ValueError:
        return True


def heredoc_copy(ins: Instruction) -> bool:
    """Return True for a COPY or ADD whose source is a heredoc (`COPY <<EOF /file`)."""
    return ins.keyword in ("COPY", "ADD") and any(v.startswith("<<") for v in ins.value)
