"""What resolving a Dockerfile's stages takes on either builder: fresh stages, the meta
ARGs, the refusals both builders share, and the advice their messages carry.

resolve_buildkit.py and resolve_classic.py resolve the stages as each builder does
(rules.py says whence); nothing here raises: plan.py decides which refusals apply.
"""

from __future__ import annotations

import re
from dataclasses import replace

from .instructions import Instruction
from .rules import Resolution, has_variable, uses
from .stages import Stage

INDEX = re.compile(r"^[+-]?\d+$")  # what Go's strconv.Atoi takes


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


def refuse_mount_variables(res: Resolution, stages: list[Stage], escape: str) -> None:
    # instructions/commands_runmount.go refuses a variable in from= while parsing, and the
    # classic builder parses with the same package: the same refusal on both.
    for stage in stages:
        for kind, source, ins in uses(stage):
            if kind == "mount" and has_variable(source, escape):
                res.refuse(
                    ins.line,
                    "'from' doesn't support variable expansion, define alias stage instead",
                    "name the stage in from= as written",
                )


def later_stage_advice(name: str, later: Stage) -> str:
    return (
        f"stage {later.label} is defined at line {later.lines[0]}, and a builder sees only "
        f"the stages above a line, so it looks for an image named {name}: move stage "
        f"{later.label} above this one"
    )


def target_advice(stages: list[Stage]) -> str:
    names = ", ".join(dict.fromkeys(s.name for s in stages if s.name))
    return "--target takes a stage name (`FROM ... AS name`), not an index; " + (
        f"named stages: {names}" if names else "no stage has a name"
    )
