"""An engine's refusal, explained from the Dockerfile: its line and stage, the engine's own
sentence, and what the planner knows of the cause (the same refusal, with advice) or what the
learner most likely meant (advice.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import DockerfileError
from .advice import name_advice, swallowed_stages
from .instructions import Instruction
from .stages import Stage

# What the engine and buildx put before the sentence that says why: "failed to solve" or, for
# the same refusal on another run of the same engine, "failed to run Build function" (BuildKit's
# gateway, when the Dockerfile frontend itself fails; seen on Docker Engine 28.5.2).
_PREFIXES = re.compile(
    r"^(?:ERROR: )?(?:failed to build: )?(?:failed to solve: |failed to run Build function: )?"
    r"(?:Error response from daemon: )?(?:failed to parse Dockerfile: )?"
    r"(?:dockerfile parse error on line (?P<line>\d+): )?"
)
# An image the engine looked for and did not find, as each builder says so.
_MISSING_IMAGE = re.compile(
    r"(?:(?P<named>[^\s:]+(?::[\w.-]+)?): failed to resolve source metadata"
    r"|invalid from flag value (?P<flag>[^\s:]+(?::[\w.-]+)?):"
    r"|pull access denied for (?P<pulled>[^\s,]+))"
)
# A pull that failed without naming the image (no registry answers, or none has it).
_FAILED_PULL = re.compile(
    r"pull access denied|no such host|failed to do request|not found: manifest"
)


@dataclass(frozen=True)
class Explanation:
    """Where and why an engine refused a Dockerfile: the line (None: the whole file), the
    stage that line is in, its instruction, and the reason to show."""

    line: int | None
    stage: str | None
    instruction: str | None
    reason: str
    # Whether `reason` says more than the engine's sentence (the planner's refusal, advice).
    advised: bool = False


def engine_sentence(message: str) -> tuple[str, int | None]:
    """Return the engine's sentence without the prefixes buildx and the daemon add, and the
    line a "dockerfile parse error on line N" names."""
    text = message.strip().splitlines()[-1] if message.strip() else ""
    match = _PREFIXES.match(text)
    line = int(match.group("line")) if match and match.group("line") else None
    return text[match.end() :] if match else text, line


def explain_refusal(
    message: str,
    line: int | None,
    stages: list[Stage],
    planned: DockerfileError | None,
    text: str,
    instructions: list[Instruction],
) -> Explanation:
    """Explain an engine's refusal `message` (at `line`, if the engine named one) with the
    planner's refusal `planned` of the same build and the Dockerfile `text`."""
    sentence, parsed_line = engine_sentence(message)
    line = line or parsed_line
    reason = sentence
    own = ""
    if planned is not None:
        own = str(planned).split(": ", 1)[-1] if planned.line else str(planned)
        own = re.sub(r"^Dockerfile: ", "", own)
    # The same refusal: at the line the engine named, or (the classic builder names none, and
    # its last step printed is not the one it refused) with the engine's very sentence.
    if own and (
        line is None or planned.line is None or line in planned.lines or _same(sentence, own)
    ):
        line = line if line in planned.lines else planned.line or line
        reason = own if _same(sentence, own) else f"{own} (the engine said: {sentence})"
    else:
        at = _stage_at(stages, line)
        swallowed = swallowed_stages(text, instructions)
        for name in _missing_names(sentence, _instruction_at(instructions, line)):
            advice = name_advice(name, stages, at.index if at else None, swallowed)
            if advice:
                reason = f"{sentence}\n  {advice[:1].upper()}{advice[1:]}"
                break
    stage = _stage_at(stages, line)
    instruction = _instruction_at(instructions, line)
    return Explanation(
        line,
        stage.ref if stage else None,
        str(instruction) if instruction else None,
        reason,
        reason != sentence,
    )


def _missing_names(sentence: str, ins: Instruction | None) -> list[str]:
    """The names an engine failed to find as images: the one its sentence names, else, for a
    sentence of a failed pull that names none, those the failing instruction uses (its
    FROM base, COPY --from, RUN --mount from=)."""
    missing = _MISSING_IMAGE.search(sentence)
    if missing:
        return [next(g for g in missing.groups() if g)]
    if ins is None or not _FAILED_PULL.search(sentence):
        return []
    if ins.keyword == "FROM":
        return list(ins.value[:1])
    mounts = [m for flag in ins.flag("mount") for m in re.findall(r"(?:^|,)from=([^,]+)", flag)]
    return ins.flag("from") + mounts


def _instruction_at(instructions: list[Instruction], line: int | None) -> Instruction | None:
    return next(
        (ins for ins in instructions if line is not None and ins.line <= line <= ins.end_line),
        None,
    )


def _same(sentence: str, own: str) -> bool:
    return not sentence or sentence in own


def _stage_at(stages: list[Stage], line: int | None) -> Stage | None:
    if line is None:
        return None
    return next((s for s in stages if s.lines[0] <= line <= s.lines[1]), None)
