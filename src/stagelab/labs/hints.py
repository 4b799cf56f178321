"""A lab's hints, in the order a learner gets them, one per `lab.hint()` call: a question that
points at what to look at, then a pointer at the lesson section that shows it, then the answer.

A pointer names a lesson the learner has had by the time of the lab: a lab's `AFTER_LESSON`
(in its checks.py) says after which lesson it is set, and a test keeps every pointer at or
before it, at a section heading that exists in that lesson.

    HINTS = [
        question_hint("Which stage installed `summarize`, and which one runs it?"),
        pointer_hint("03", "The fix: `FROM <stage>`", "FROM another stage brings its files"),
        answer_hint("Start the release stage with `FROM tools AS release`."),
    ]
"""

from __future__ import annotations

from dataclasses import dataclass

from ..course import Course
from ..errors import StagelabError

# The kinds of hint, in the order they are given, and how each is introduced.
KINDS = {
    "question": "a question to ask yourself",
    "pointer": "where a lesson shows it",
    "answer": "the answer",
}


@dataclass(frozen=True)
class Hint:
    """One hint: its kind (a key of KINDS), its text, and for a pointer the lesson's number
    ("03") and the title of the section ("## ..." heading) it points at."""

    kind: str
    text: str
    lesson: str | None = None
    section: str | None = None

    @property
    def label(self) -> str:
        """Return how the hint is introduced ("where a lesson shows it")."""
        return KINDS[self.kind]

    def shown(self) -> str:
        """Return the hint's text as the learner reads it; a pointer names the lesson's
        notebook (notebooks/NN_topic.ipynb) and the section."""
        if self.kind != "pointer":
            return self.text
        notebook = lesson_notebook(self.lesson)
        where = f"lesson {self.lesson}" + (f" ({notebook})" if notebook else "")
        return f"{where}, the section “{self.section}”: {self.text}"


def question_hint(text: str) -> Hint:
    """Return the first kind of hint: a question that points the learner at what to look at."""
    return Hint("question", text)


def pointer_hint(lesson: str, section: str, text: str) -> Hint:
    """Return the second kind: lesson `lesson` ("03"), its section titled `section` (the text
    of its `## ` heading), and what to look at there."""
    return Hint("pointer", text, lesson, section)


def answer_hint(text: str) -> Hint:
    """Return the last kind: the answer itself."""
    return Hint("answer", text)


def lesson_notebook(number: str) -> str | None:
    """Return the path of lesson `number`'s notebook as the course names it
    (notebooks/03_stages_do_not_inherit.ipynb), or None when the course has no such notebook
    (or no course is found)."""
    try:
        folder = Course.find().notebooks
    except StagelabError:  # a hint is still worth reading without the course folder
        return None
    found = sorted(folder.glob(f"{number}_*.ipynb")) if folder.is_dir() else []
    return f"notebooks/{found[0].name}" if found else None
