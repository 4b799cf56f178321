"""What `stagelab classroom reset` runs as the learner, so root never moves a learner's files.

Run as `python -m stagelab.classroom.as_learner reset LAB|all` under the learner's uid, in their
home: it holds their copy of the course, where stagelab finds their labs (course.py). Each reset
is Lab.reset: the learner's files go to the lab's .backups/ first, then starter/ is copied back.
"""

from __future__ import annotations

import sys

from ..errors import StagelabError
from ..labs import all_labs, find_lab


def reset(which: str) -> list[str]:
    """Reset one lab ("02") or, with "all", every lab the learner has started.

    Returns the backup folders made. Raises StagelabError for an unknown lab.
    """
    chosen = all_labs() if which == "all" else [find_lab(which)]
    return [str(lab.reset()) for lab in chosen if which != "all" or lab.learner_files()]


def main(argv: list[str]) -> int:
    """Run `reset LAB|all`; return 0, or 1 with the error's message on stderr."""
    if len(argv) != 2 or argv[0] != "reset":
        print("usage: python -m stagelab.classroom.as_learner reset LAB|all", file=sys.stderr)
        return 2
    try:
        backups = reset(argv[1])
    except StagelabError as error:
        print(error, file=sys.stderr)
        return 1
    if not backups:
        print("No lab had files of yours to reset.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
