"""The one status vocabulary: what a build did with a stage, and how progress displays show it.

A finished build reports each stage as one of STAGE_STATUSES (`BuildResult.stage_status`,
`Step.status`). While it runs, progress displays move each stage through PROGRESS_STATES; a
stage status becomes a progress state through `progress_state()`, the only mapping between the
two. COLORS gives every word of both one colour, shared by tables, graphs and charts.
"""

from __future__ import annotations

# What a build did with a stage (and with each of its steps, which are never "skipped").
STAGE_STATUSES = ("built", "cached", "skipped", "failed")
# What a progress display shows for a stage while the build runs and when it ends.
PROGRESS_STATES = ("waiting", "running", "done", "cached", "skipped", "failed", "stopped")

_PROGRESS_STATE = {"built": "done", "cached": "cached", "skipped": "skipped", "failed": "failed"}

COLORS = {
    "built": "#66bb6a",
    "done": "#66bb6a",
    "cached": "#64b5f6",
    "skipped": "#eeeeee",
    "failed": "#ef5350",
    "running": "#ffca28",
    "waiting": "#ffffff",
    "stopped": "#bdbdbd",
}


def progress_state(status: str) -> str:
    """Return the progress state that shows a stage status ("built" -> "done").

    Raises ValueError for a word that is not one of STAGE_STATUSES.
    """
    try:
        return _PROGRESS_STATE[status]
    except KeyError:
        raise ValueError(f"unknown stage status {status!r}: one of {STAGE_STATUSES}") from None


def color(state: str) -> str:
    """Return the colour (#rrggbb) of a stage status or progress state; white when unknown."""
    return COLORS.get(state, "#ffffff")
