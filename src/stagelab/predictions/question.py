"""A prediction: a question asked before a build, the learner's answer (buttons, or `answer=`),
and its verdict once compared with what the engine did.

The learner answers with the buttons under the question (in JupyterLab), or by giving the
answer in the cell (`answer=`), which works wherever widgets do not show: nbval, the static
site, a terminal. A wrong or missing prediction is explained, never raised: a lesson runs to
the end whatever the learner guessed. Checking replaces the buttons with the question and the
answer as plain HTML, so a saved notebook and the site read the same.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import lazy
from ..dockerfile import Dockerfile
from ..errors import StagelabError
from ..progress import LiveBundle, in_kernel, show
from ..render.predictions import (
    question_heading_html,
    question_html,
    question_text,
    verdict_html,
    verdict_text,
)
from ..results import BuildResult


@dataclass
class Verdict:
    """A prediction compared with what the engine did.

    `said` is the learner's answer as choices (None: no prediction), `truth` what the engine
    did as choices, `right` True, False, or None when there was no prediction; `did` says what
    the engine did in words, `why` gives the reasons (sentences), `note` anything else to know.
    """

    question: str
    said: list[str] | None
    truth: list[str]
    right: bool | None
    did: str
    why: list[str] = field(default_factory=list)
    note: str = ""

    def _repr_html_(self) -> str:
        return verdict_html(self)

    def __repr__(self) -> str:
        return verdict_text(self)


class Prediction:
    """A question asked before a build, with a fixed list of answers (`choices`).

    `answer` is the learner's prediction given in the cell: a choice, or for a question with
    `many` answers a list of them (or one string with commas); None when they make none here.
    The buttons a notebook shows under the question change `answer` as the learner clicks.
    Choices match without regard to case. Created, it shows itself: the question and its
    buttons in a notebook, one line on a terminal. `check()` compares it with what happened.
    """

    def __init__(
        self,
        question: str,
        choices: Sequence[str],
        *,
        answer=None,
        many: bool = False,
        aliases: dict[str, str] | None = None,
    ):
        if not choices:
            raise StagelabError("a prediction needs at least one choice to pick from")
        self.question = question
        self.choices = [str(choice) for choice in choices]
        self.many = many
        self.answer = answer
        self.verdict: Verdict | None = None
        self._names = {choice.lower(): choice for choice in self.choices}
        self._names.update({key.lower(): value for key, value in (aliases or {}).items()})
        self._live: LiveBundle | None = None
        # The buttons a notebook shows (None elsewhere): ToggleButtons, or for `many` answers
        # an HBox of ToggleButton.
        self.buttons: lazy.ipywidgets.Widget | None = None
        self._show_question()

    @property
    def right(self) -> bool | None:
        """Return whether the checked prediction was right (None: not checked, or none made)."""
        return self.verdict.right if self.verdict else None

    # ------------------------------------------------------------ the learner's answer

    def said(self) -> tuple[list[str] | None, str]:
        """Return the answer as choices (None when there is none) and a note on any part of it
        that is none of the choices (that part is left out)."""
        items = self._items(self.answer)
        picked, unknown = [], []
        for item in items:
            choice = self._choice(item)
            if choice is None:
                unknown.append(str(item))
            elif choice not in picked:
                picked.append(choice)
        note = (
            f"{', '.join(repr(u) for u in unknown)}: not among the choices "
            f"({', '.join(self.choices)}), so left out."
            if unknown
            else ""
        )
        if not self.many and len(picked) > 1:
            note = (note + " " if note else "") + f"One answer is asked for: {picked[0]} counts."
            picked = picked[:1]
        return (picked or None), note

    def _items(self, answer) -> list:
        if answer is None or answer is Ellipsis:
            return []
        if isinstance(answer, str):
            if not answer.strip():
                return []
            if not self.many or self._choice(answer) is not None:
                return [answer.strip()]
            return [item for part in answer.split(",") for item in self._choices_in(part)]
        if isinstance(answer, Iterable) and not isinstance(answer, (bytes, dict)):
            return [item for item in answer if item is not None]
        return [answer]

    def _choices_in(self, part: str) -> list[str]:
        # One comma-separated part of a `many` answer: its words read as the longest choices
        # they spell, left to right (a choice may hold spaces: "COPY --from=1"); a run of words
        # that spells none stays together, to be named as not among the choices.
        words, items, unknown = part.split(), [], []
        at = 0
        while at < len(words):
            end = next(
                (e for e in range(len(words), at, -1) if self._choice(" ".join(words[at:e]))),
                None,
            )
            if end is None:
                unknown.append(words[at])
                at += 1
                continue
            items += [" ".join(unknown)] if unknown else []
            items.append(" ".join(words[at:end]))
            unknown, at = [], end
        return items + ([" ".join(unknown)] if unknown else [])

    def _choice(self, item) -> str | None:
        """Return the choice an item of an answer means, or None."""
        return self._names.get(str(item).strip().lower())

    # ------------------------------------------------------------ checking

    def check(self, actual, *, why: str | Sequence[str] = ()) -> None:
        """Compare the prediction with what happened and show the verdict.

        `actual` is the right answer: a choice, or for `many` answers a list of them. `why`
        gives the reason (a sentence, or several). Returns None: the verdict shows below the
        cell (on a terminal, as lines on stderr) and stays in `self.verdict`. Raises
        StagelabError when `actual` is none of the choices (a lesson's mistake).
        """
        truth = [self._choice(item) for item in self._items(actual)]
        if not truth or None in truth:
            raise StagelabError(
                f"check(): {actual!r} is not among the choices {self.choices}: give the answer "
                "as one of them"
            )
        self._settle(truth, ", ".join(truth), sentences(why))

    def _settle(self, truth: list[str], did: str, why: list[str], note: str = "") -> None:
        said, said_note = self.said()
        right = None if said is None else (set(said) == set(truth))
        self.verdict = Verdict(
            self.question, said, truth, right, did, why, " ".join(n for n in (said_note, note) if n)
        )
        if self._live is not None:  # the buttons give way to the question, answered
            self._live.update(self._static_bundle())
        show(verdict_html(self.verdict), verdict_text(self.verdict))

    # ------------------------------------------------------------ showing

    @property
    def hint(self) -> str:
        """Return how to answer, as the question shows it."""
        how = "pick every one that applies" if self.many else "pick one"
        return f"Click your answer ({how}), or give it as `answer=` in this cell; then build."

    def _static_bundle(self) -> dict:
        said, note = self.said()
        return {
            "text/html": question_html(self.question, self.choices, self.hint, said, note),
            "text/plain": question_text(self.question, self.choices, said, note),
        }

    def _show_question(self) -> None:
        # An answer= that is none of the choices is said at once, not only after the build.
        said, note = self.said()
        if not in_kernel():
            show("", question_text(self.question, self.choices, said, note))
            return
        self.buttons = self._buttons()
        heading = question_heading_html(self.question, self.hint, note)
        widget = lazy.ipywidgets.VBox([lazy.ipywidgets.HTML(heading), self.buttons])
        # JupyterLab shows the buttons; nbconvert and saved notebooks, with no widget state,
        # fall back to the HTML, which says the same.
        self._live = LiveBundle({**self._static_bundle(), **widget._repr_mimebundle_()})

    def _buttons(self) -> lazy.ipywidgets.Widget:
        said = self.said()[0] or []
        if not self.many:
            buttons = lazy.ipywidgets.ToggleButtons(
                options=self.choices, value=said[0] if said else None
            )
            buttons.observe(lambda change: setattr(self, "answer", change["new"]), "value")
            return buttons
        toggles = [
            lazy.ipywidgets.ToggleButton(description=choice, value=choice in said)
            for choice in self.choices
        ]

        def picked(_change) -> None:
            self.answer = [toggle.description for toggle in toggles if toggle.value]

        for toggle in toggles:
            toggle.observe(picked, "value")
        return lazy.ipywidgets.HBox(toggles)

    def _repr_html_(self) -> str:
        return self._static_bundle()["text/html"]

    def __repr__(self) -> str:
        return self._static_bundle()["text/plain"]


def sentences(why: str | Sequence[str]) -> list[str]:
    return [why] if isinstance(why, str) else [str(reason) for reason in why]


def as_dockerfile(dockerfile) -> Dockerfile:
    if isinstance(dockerfile, Dockerfile):
        return dockerfile
    if isinstance(dockerfile, os.PathLike):
        dockerfile = Path(dockerfile).read_text(encoding="utf-8")
    return Dockerfile(str(dockerfile))


def replayed_note(result) -> str:
    if result is not None and result.replayed:
        return (
            f"What the engine did comes from a recorded build (Docker Engine "
            f"{result.recorded_engine or 'unknown'}, {result.recorded_on or 'an unknown date'})."
        )
    return ""


def result_of(outcome) -> BuildResult | None:
    return outcome if isinstance(outcome, BuildResult) else getattr(outcome, "result", None)
