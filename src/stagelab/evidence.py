"""`sl.claim`: a lesson's claim, checked on what the engine did and shown as evidence.

A lesson says something in prose, builds, then checks it. A bare `assert` checks it silently;
`claim()` checks it the same way and shows the check as a line a learner reads, with the value
it looked at: "✔ checked: BuildKit skipped the test stage · seen: skipped".
"""

from __future__ import annotations

from .errors import ClaimFailed
from .progress import show
from .render.html import claim_html, claim_text, describe


def claim(statement: str, holds: bool, seen=None) -> None:
    """Check a claim on a real result; show it as evidence, or fail like `assert`.

    `statement` says what is claimed, in the lesson's words (`code` spans are shown as code).
    `holds` is the check, computed from what the engine did: a build's `stage_status`, an
    image's files or output (`sl.files`, `sl.run`), a BuildFailed's fields; never from a value
    typed into the notebook. `seen` is the value the check looked at, shown beside the claim
    (a dict reads as `key: value, ...`, a list is joined by commas). Returns None: in a notebook
    the claim shows as one line, on a terminal as one line on stderr.

    Raises ClaimFailed (an AssertionError) naming the claim and what was seen when `holds` is
    false, after showing the claim marked as not holding.
    """
    holds = bool(holds)
    shown = describe(seen) if seen is not None else ""
    show(claim_html(statement, holds, shown), claim_text(statement, holds, shown))
    if not holds:
        raise ClaimFailed(
            f"the lesson claims: {statement}; but this run shows: {shown or 'otherwise'}"
        )
