"""What root runs as a learner, so that root never moves or reads a learner's files itself.

Run as `python -I -m stagelab.classroom.as_learner ACTION ...` under the learner's uid,
confined (confine.py), from a folder the learner does not control (/), with HOME set to
theirs: their home holds their copy of the course, where stagelab finds their labs
(course.py). `-I` (isolated mode) keeps Python from importing anything the learner controls:
no current folder or script folder on sys.path, no PYTHON* variables, no user site-packages
(https://docs.python.org/3/using/cmdline.html#cmdoption-I). The hub's environment it runs
from is root's. The learner's files are only read or moved, never run.

- `reset LAB|all`: Lab.reset: the learner's files go to the lab's .backups/ first, then
  starter/ is copied back.
- `report LAB`: print, as one JSON object, the learner's files of that lab (their text, up to
  MAX_FILE_BYTES each, and how each differs from the starter's), the lab's criteria and the
  learner's last attempts at it (with the failed criteria's messages as they saw them): what
  the instructor's dashboard shows.
"""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path

from ..errors import StagelabError
from ..labs import all_labs, find_lab
from ..labs.attempts import attempts

MAX_FILES = 40
MAX_FILE_BYTES = 64 * 1024
MAX_ATTEMPTS = 5


def reset(which: str) -> list[str]:
    """Reset one lab ("02") or, with "all", every lab the learner has started.

    Returns the backup folders made. Raises StagelabError for an unknown lab.
    """
    chosen = all_labs() if which == "all" else [find_lab(which)]
    return [str(lab.reset()) for lab in chosen if which != "all" or lab.learner_files()]


def lab_report(which: str) -> dict:
    """Return the learner's files of one lab and their last attempts at it.

    Keys: lab (its folder name), files (path, bytes, text: None for a file that is not UTF-8
    text; cut to MAX_FILE_BYTES, with `cut` true), more_files (how many were left out),
    attempts (the last MAX_ATTEMPTS, oldest first). Raises StagelabError for an unknown lab.
    """
    lab = find_lab(which)
    names = lab.learner_files()
    starter = set(lab.learner_files(lab.starter_path))
    files = []
    for relative in names[:MAX_FILES]:
        text, cut = _text(lab.path / relative)
        files.append(
            {
                "path": str(relative),
                "bytes": (lab.path / relative).stat().st_size,
                "text": text,
                "cut": cut,
                "diff": _diff(lab.starter_path, relative, text, relative in starter),
            }
        )
    mine = [attempt for attempt in attempts() if attempt.get("lab") == lab.number]
    return {
        "lab": lab.slug,
        "files": files,
        "more_files": max(0, len(names) - MAX_FILES),
        "starter_only": sorted(str(name) for name in starter - set(names)),
        "criteria": [
            {"key": one.key, "title": one.title, "hint": one.hint} for one in lab.criteria
        ],
        "attempts": mine[-MAX_ATTEMPTS:],
    }


def _text(path: Path) -> tuple[str | None, bool]:
    """Return a file's text (None when it is not UTF-8), cut to MAX_FILE_BYTES, and whether
    it was cut."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    try:
        return data[:MAX_FILE_BYTES].decode("utf-8"), len(data) > MAX_FILE_BYTES
    except UnicodeDecodeError:
        return None, len(data) > MAX_FILE_BYTES


def _diff(starter: Path, relative: Path, text: str | None, in_starter: bool) -> str | None:
    """Return the unified diff from the starter's file to the learner's `text` (from an empty
    file when the starter has none): "" when they are the same, None when either is not text."""
    before = _text(starter / relative)[0] if in_starter else ""
    if text is None or before is None:
        return None
    lines = difflib.unified_diff(
        before.splitlines(),
        text.splitlines(),
        f"starter/{relative}" if in_starter else "/dev/null",
        f"yours/{relative}",
        lineterm="",
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Run `reset LAB|all` or `report LAB`; return 0, or 1 with the error's message on
    stderr (2 for a wrong command line)."""
    if len(argv) != 2 or argv[0] not in ("reset", "report"):
        print("usage: python -m stagelab.classroom.as_learner reset|report LAB", file=sys.stderr)
        return 2
    try:
        if argv[0] == "report":
            print(json.dumps(lab_report(argv[1])))
            return 0
        backups = reset(argv[1])
    except (StagelabError, OSError) as error:
        print(error, file=sys.stderr)
        return 1
    if not backups:
        print("No lab had files of yours to reset.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
