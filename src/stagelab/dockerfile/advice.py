"""What a learner most likely meant, read from the Dockerfile itself, when a name is no stage.

A builder looks a name that is no stage above as an image (convert.go `toCommand`, moby's
dispatchers.go `getImageOrStage`), and then fails to find it: these helpers say which stage
the learner probably meant and why the builder did not see it.
"""

from __future__ import annotations

import re

from .instructions import Instruction
from .parsing import closest
from .stages import Stage

_FROM_LINE = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*\S+(?:\s+AS\s+(\S+))?\s*$", re.IGNORECASE)


def swallowed_stages(text: str, instructions: list[Instruction]) -> list[tuple[int, str, int]]:
    """Return the FROM lines the parser joined into the instruction above them, as
    (line, stage name or "", line of that instruction): the line before ended in the escape
    character, and comment lines between do not end an instruction (parser.go `Parse`)."""
    lines = text.splitlines()
    found = []
    for ins in instructions:
        for number in range(ins.line + 1, ins.end_line + 1):
            match = _FROM_LINE.match(lines[number - 1])
            if match and number - 1 <= len(lines):
                found.append((number, (match.group(1) or "").lower(), ins.line))
    return found


def _swallowed(name: str, swallowed: list[tuple[int, str, int]]) -> str:
    for line, stage_name, into in swallowed:
        if stage_name == name.lower():
            return (
                f"line {line} (`FROM ... AS {stage_name}`) is no stage: the instruction at line "
                f"{into} goes on through it, because a line above it ends with `\\` (a comment "
                f"line in between does not end an instruction). End that instruction's last "
                f"line without `\\`"
            )
    return ""


def name_advice(
    name: str, stages: list[Stage], at: int | None, swallowed: list[tuple[int, str, int]]
) -> str:
    """Say what a name that is no stage above `at` (a stage index; None: any stage) most
    likely meant: a stage with a tag, a stage the parser swallowed, a stage defined further
    down, or a stage named nearly so. "" when the Dockerfile suggests nothing."""
    lowered = name.lower()
    named = [s for s in stages if s.name]
    base, _, tag = lowered.partition(":")
    tagged = next((s for s in named if tag and s.name.lower() == base), None)
    if tagged is not None:
        return (
            f"`{name}` is an image reference (a name with a tag), not stage {tagged.label} "
            f"(line {tagged.lines[0]}): a stage has no tag, so write {tagged.name.lower()} alone"
        )
    swallowed_advice = _swallowed(lowered, swallowed)
    if swallowed_advice:
        return swallowed_advice
    later = next(
        (s for s in named if s.name.lower() == lowered and at is not None and s.index >= at),
        None,
    )
    if later is not None:
        return (
            f"stage {later.label} is defined at line {later.lines[0]}, below this line, and a "
            f"builder sees only the stages above: move it up"
        )
    if re.fullmatch(r"\d+", name) and int(name) < len(stages):
        stage = stages[int(name)]
        return f"stage {name} is `{stage.instructions[0]}` (line {stage.lines[0]})" + (
            f": write {stage.name.lower()} instead of {name}" if stage.name else ""
        )
    near = closest(lowered, sorted({s.name.lower() for s in named}))
    if near is not None:
        stage = next(s for s in reversed(named) if s.name.lower() == near)
        return f"did you mean stage {near} (line {stage.lines[0]})?"
    return _index_advice(name, stages, at)


def _index_advice(name: str, stages: list[Stage], at: int | None) -> str:
    """Name the stages above `at` where one of them has no name: the learner most likely
    meant it, which only its index reaches (COPY --from=0, RUN --mount from=0)."""
    above = [s for s in stages if at is not None and s.index < at]
    unnamed = [s for s in above if not s.name]
    if not unnamed:
        return ""
    listed = ", ".join(
        f"{s.label} (line {s.lines[0]})" if s.name else f"{s.index} (line {s.lines[0]}, no name)"
        for s in above
    )
    return (
        f"no stage is named {name}; the stages above this line are {listed}: a stage without "
        f"a name is reached by its index (COPY --from={unnamed[-1].index}), or give it a name "
        "with `FROM ... AS name`"
    )


def target_advice(stages: list[Stage], target: str, swallowed: list[tuple[int, str, int]]) -> str:
    """Say what a --target that names no stage most likely meant, then which names exist."""
    names = ", ".join(
        f"{s.name.lower()} (line {s.lines[0]})" for s in stages if s.name and not s.shadowed
    )
    listed = f"named stages: {names}" if names else "no stage has a name"
    meant = name_advice(str(target), stages, None, swallowed)
    if re.fullmatch(r"\d+", str(target)):
        stage = stages[int(target)] if int(target) < len(stages) else None
        if stage is not None and stage.name:  # in the command line's words
            name = stage.name.lower()
            meant = meant.replace(f"write {name} instead of {target}", f"use `--target {name}`")
        index = "--target takes a stage name (`FROM ... AS name`), not an index"
        meant = "; ".join(part for part in (index, meant) if part)
    return "; ".join(part for part in (meant, listed) if part)
