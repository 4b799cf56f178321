"""What resolving a Dockerfile's stages takes on either builder: fresh stages, the meta
ARGs, dispatching the stages, the ONBUILD triggers, and the advice their messages carry.

resolve_buildkit.py and resolve_classic.py resolve the stages as each builder does
(rules.py says whence); nothing here raises: plan.py decides which refusals apply.
"""

from __future__ import annotations

import re
from dataclasses import replace

from .dispatch import StageState, dispatch_stage
from .frontend import Frontend
from .instructions import Instruction
from .parsing import parse_refusal
from .rules import DISPATCH, ONBUILD, Resolution, onbuild_triggers
from .stages import Stage

INDEX = re.compile(r"^[+-]?\d+$")  # what Go's strconv.Atoi takes
# containerd's platforms.Parse: one to three components; a lone one names an OS or an
# architecture it knows (github.com/containerd/platforms, platforms.go and database.go).
_PLATFORM_COMPONENT = re.compile(r"^[A-Za-z0-9_-]+(\([A-Za-z0-9_.%-]*\))?$")
_KNOWN_ALONE = {
    "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js",
    "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos", "386",
    "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "loong64", "mips", "mipsle",
    "mips64", "mips64le", "ppc", "ppc64", "ppc64le", "riscv", "riscv64", "s390", "s390x",
    "sparc", "sparc64", "wasm", "x86_64", "aarch64",
}  # fmt: skip


def fresh_stages(stages: list[Stage]) -> list[Stage]:
    return [replace(stage, parent=None, sources=[], source_kinds=[]) for stage in stages]


def meta_instructions(instructions: list[Instruction]) -> list[Instruction]:
    meta = []
    for ins in instructions:
        if ins.keyword == "FROM":
            break
        meta.append(ins)
    return meta


def progress_name(stage: Stage) -> str:
    """The name BuildKit's messages use: the stage name lowercased, or stage-N."""
    return stage.name.lower() if stage.name else f"stage-{stage.index}"


def valid_platform(text: str) -> bool:
    """Tell whether containerd's platforms.Parse takes `text` (`os[/arch[/variant]]`)."""
    parts = text.split("/")
    if not 1 <= len(parts) <= 3 or not all(_PLATFORM_COMPONENT.match(p) for p in parts):
        return False
    return len(parts) > 1 or parts[0].lower() in _KNOWN_ALONE


def parsed_triggers(
    res: Resolution, stage: Stage, frontend: Frontend, phase: int
) -> list[Instruction]:
    """Return the ONBUILD triggers of the stage `stage` starts from that parse; refuse the
    first that does not at `stage`'s FROM line (BuildKit reads them once a stage built FROM
    theirs is needed, convert.go `initOnBuildTriggers`; the classic builder when it runs that
    FROM, dispatchers.go `dispatchTriggeredOnBuild`)."""
    triggers = onbuild_triggers(stage.parent)
    for number, trigger in enumerate(triggers):
        refused = parse_refusal(trigger, frontend)
        if refused is not None:
            res.refuse(
                stage.lines[0],
                refused[0],
                f"the ONBUILD trigger at line {trigger.line} runs here, in the stage built "
                f"FROM {stage.parent.label}, and does not parse: {refused[1]}",
                stage.index,
                phase,
            )
            return triggers[:number]
    return triggers


def dispatch_stages(
    res: Resolution,
    meta: dict[str, str | None],
    build_args: dict[str, str],
    escape: str,
    frontend: Frontend,
    phase: int = DISPATCH,
) -> None:
    """Dispatch every stage as `res.builder` does (dispatch.py), each after the stage it
    starts from: what a stage's steps refuse is refused there, and the checks that fire are
    kept (they count only for the stages a target needs)."""
    states: dict[int, StageState] = {}
    for stage in res.stages:
        parent = states.get(stage.parent.index) if stage.parent is not None else None
        triggers = parsed_triggers(
            res, stage, frontend, ONBUILD if res.builder == "buildkit" else phase
        )
        done = dispatch_stage(
            stage, res.builder, parent, meta, build_args, escape, frontend, triggers
        )
        states[stage.index] = done.state
        for ins, reason, advice in done.refused[:1]:
            res.refuse(ins.line, reason, advice, stage.index, phase)
        res.checks.extend(done.hits)


def later_stage_advice(name: str, later: Stage) -> str:
    return (
        f"stage {later.label} is defined at line {later.lines[0]}, and a builder sees only "
        f"the stages above a line, so it looks for an image named {name}: move stage "
        f"{later.label} above this one"
    )
