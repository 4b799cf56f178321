"""Labs: exercises whose checks run real builds of the learner's files, criterion by criterion.

A lab folder `NN-topic/` holds task.md (its text), task.ipynb (made from the template),
starter/ and solution/, and checks.py, whose criteria use the names below.
"""

from __future__ import annotations

from ..containers import existing_paths
from .attempts import attempts, progress_file, progress_rows, progress_text, read_attempts
from .catalogue import Lab, all_labs, find_lab, labs_root
from .criteria import (
    COMPILER_PATHS,
    CheckFailed,
    Criterion,
    Workspace,
    builds,
    criterion,
    expect,
    fail,
    holds_none_of,
    last_stage,
    prints,
    takes_from,
)
from .hints import Hint, answer_hint, pointer_hint, question_hint
from .predicted import PREDICTIONS, predicted_build
from .report import NoEngineReport, Note, Outcome, Report
from .tasks import task_notebook, write_task_notebooks

__all__ = [
    "COMPILER_PATHS",
    "PREDICTIONS",
    "CheckFailed",
    "Criterion",
    "Hint",
    "Lab",
    "NoEngineReport",
    "Note",
    "Outcome",
    "Report",
    "Workspace",
    "all_labs",
    "answer_hint",
    "attempts",
    "builds",
    "criterion",
    "existing_paths",
    "expect",
    "fail",
    "find_lab",
    "holds_none_of",
    "lab",
    "labs_root",
    "last_stage",
    "pointer_hint",
    "predicted_build",
    "prints",
    "progress_by_lab",
    "progress_file",
    "progress_table",
    "question_hint",
    "read_attempts",
    "takes_from",
    "task_notebook",
    "write_task_notebooks",
]


def lab(which: str | int) -> Lab:
    """Return a lab by number ("02", 2), folder name or topic ("shrink-it"), its working files
    made from starter/ on first use.

    Raises StagelabError naming the labs there are when none matches.
    """
    found = find_lab(which)
    found.ensure_working_files()
    return found


def progress_by_lab() -> list[dict]:
    """Return one row per lab: status (not started, attempted, passed), attempts, last attempt."""
    return progress_rows(all_labs(), attempts())


def progress_table() -> str:
    """Return every lab's progress as a plain-text table, saying how many lines of the progress
    file were skipped because they are not attempts."""
    recorded, skipped = read_attempts()
    table = progress_text(progress_rows(all_labs(), recorded))
    if skipped:
        table += (
            f"\n({skipped} line{'s' if skipped != 1 else ''} of {progress_file()} skipped: "
            "not attempts)"
        )
    return table
