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
  MAX_FILE_BYTES each) and their last attempts at it: what the instructor's dashboard shows.
"""

from __future__ import annotations

import json
import sys

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
    files = []
    for relative in names[:MAX_FILES]:
        with open(lab.path / relative, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
        try:
            text = data[:MAX_FILE_BYTES].decode("utf-8")
        except UnicodeDecodeError:
            text = None
        files.append(
            {
                "path": str(relative),
                "bytes": (lab.path / relative).stat().st_size,
                "text": text,
                "cut": len(data) > MAX_FILE_BYTES,
            }
        )
    mine = [attempt for attempt in attempts() if attempt.get("lab") == lab.number]
    return {
        "lab": lab.slug,
        "files": files,
        "more_files": max(0, len(names) - MAX_FILES),
        "attempts": mine[-MAX_ATTEMPTS:],
    }


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
