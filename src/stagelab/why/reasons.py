"""The reasons `why()` gives, in a learner's words, each with what stagelab read to know it:
the differences between a step and the closest step recorded on the same parent, and the
reasons a step's status was passed on, matched by content, or surprised the prediction."""

from __future__ import annotations

import time

from .inputs import StepInput
from .ledger import Entry
from .view import REASONS, Reason

RULES = "the builder's cache rules (moby/moby builder/dockerfile, moby/buildkit)"
RECORD = "stagelab's record of earlier builds on this engine"
STATUS = "the engine's status of the step"


def differences(entry: Entry, step: StepInput, sources: list[str] | None) -> list[Reason]:
    """Return why a step differs from a recorded one, first reason first (sources: the
    identities of the stages it copies from; None leaves them out)."""
    old = entry.detail
    found: list[Reason] = []
    if old.get("written") != step.written:
        found.append(
            Reason(
                "instruction",
                f"built: the instruction's text changed (last time: {old.get('written')!r})",
                "the Dockerfile and " + RECORD,
                {"old": old.get("written"), "new": step.written},
            )
        )
    old_own = old.get("own", {})
    if old_own.get("files") != step.own.get("files"):
        found.append(_files_reason(old_own.get("files"), step.own.get("files")))
    found += _variable_reasons(old.get("seen", {}), step.seen)
    if old_own.get("image") != step.own.get("image"):
        found.append(because("source-image", source="the images' IDs and " + RECORD))
    if found or old_own == step.own:
        return found
    if sources is not None and old.get("sources") != sources and old_own == step.own:
        return []
    return [because("settings", source="the Dockerfile and " + RECORD)]


def _files_reason(old, new) -> Reason:
    if not isinstance(old, dict) or not isinstance(new, dict):
        return because("context-files", source="the build context's files")
    changed = sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))
    shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    return Reason(
        "context-files",
        f"built: files it copies from the build context changed: {shown}",
        "the build context's files (content and mode) and " + RECORD,
        {"files": changed},
    )


def _variable_reasons(old: dict, new: dict) -> list[Reason]:
    found = []
    for name in sorted(old.keys() | new.keys()):
        before, after = (old.get(name) or [None, ""]), (new.get(name) or [None, ""])
        if before[0] == after[0]:
            continue
        where = after[1] or before[1]
        code = "build-arg" if where.startswith("ARG") else "environment"
        word = "build arg" if code == "build-arg" else "environment variable"
        found.append(
            Reason(
                code,
                f"built: the {word} {name} it sees changed: was {before[0]!r}, now "
                f"{after[0]!r} ({where})",
                "the build args, the Dockerfile and " + RECORD,
                {"name": name, "old": before[0], "new": after[0], "where": where},
            )
        )
    return found


def pruned(entry: Entry, builder: str, cleaned: list[float]) -> Reason:
    """Say that the engine's cache of a recorded step is gone; `cleaned` holds when
    `stagelab clean` removed images since the step was last seen (Unix times)."""
    what = (
        "image that held this step is"
        if builder == "classic"
        else "cache records that held this step are"
    )
    by = f"; `stagelab clean` removed images on {date(cleaned[-1])}" if cleaned else ""
    return Reason(
        "pruned",
        f"built: the builder's cache was pruned: the {what} gone from the engine "
        f"(stagelab saw this step built on {date(entry.last_seen)}){by}",
        "the engine's images and build cache, and " + RECORD,
        {"evidence": entry.evidence, "cleaned": cleaned},
    )


# What the engine did against the prediction -> (reason code, words around the prediction).
_SURPRISES = {
    "cached": (
        "unseen-cache",
        "cached: stagelab expected a rebuild ({}), but the engine had this step cached from a "
        "build stagelab did not see: another build on this engine, or one before stagelab's "
        "record",
    ),
    "built": (
        "unexplained",
        "built, and stagelab cannot tell why: {}, so it expected the cache to hold it; a prune "
        "or garbage collection stagelab did not see, or a rule it does not model, would "
        "rebuild it",
    ),
}


def surprise(predicted: Reason, status: str) -> Reason:
    """Say what happened when the engine's status (`status`) was not the one the rules
    predicted for the `predicted` reason."""
    code, said = _SURPRISES[status]
    prefix = "built: " if status == "cached" else "cached: "
    return Reason(
        code,
        said.format(predicted.text.removeprefix(prefix)),
        STATUS,
        {"predicted": predicted.code},
    )


def because(code: str, text: str | None = None, source: str = RULES, details=None) -> Reason:
    """Return a Reason of this code, in its default words (REASONS) unless `text` says more."""
    return Reason(code, text or REASONS[code], source, details or {})


def short(image: str) -> str:
    return image.removeprefix("sha256:")[:12]


def date(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))
