"""Judging a lab: each criterion's outcome, the report a check shows, and notes."""

from __future__ import annotations

import html
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..errors import StagelabError
from ..progress import LiveHtml
from ..render.html import inline_markdown, plain_markdown
from ..results import BuildResult
from .criteria import CheckFailed, Criterion, Workspace


@dataclass
class Outcome:
    """Whether one criterion passed, what the check found, and the hint when it did not."""

    criterion: Criterion
    passed: bool
    detail: str

    def text(self) -> str:
        """Return the outcome as PASS/FAIL lines, with the hint under a FAIL."""
        lines = [f"  {'PASS' if self.passed else 'FAIL'}  {self.criterion.title}"]
        lines += [f"        {line}" for line in self.detail.splitlines()]
        if not self.passed:
            lines.append(f"        hint: {plain_markdown(self.criterion.hint)}")
        return "\n".join(lines)


@dataclass(repr=False)
class Report:
    """The outcome of every criterion of one check of a lab, and when it was made."""

    lab: object
    directory: Path
    outcomes: list[Outcome]
    time: datetime

    @property
    def passed(self) -> bool:
        """Tell whether every criterion passed."""
        return all(outcome.passed for outcome in self.outcomes)

    @property
    def score(self) -> tuple[int, int]:
        """Return (criteria passed, criteria in all)."""
        return sum(o.passed for o in self.outcomes), len(self.outcomes)

    @property
    def failed(self) -> list[str]:
        """Return the keys of the criteria that failed."""
        return [o.criterion.key for o in self.outcomes if not o.passed]

    def headline(self) -> str:
        """Return one line: the lab, how many criteria pass, and the folder checked."""
        done, total = self.score
        verdict = "every criterion passes" if self.passed else f"{done} of {total} criteria pass"
        return f"Lab {self.lab.slug}: {verdict} (checked {self.directory})"

    def __repr__(self) -> str:
        return "\n".join([self.headline()] + [o.text() for o in self.outcomes])

    def _repr_html_(self) -> str:
        rows = []
        for outcome in self.outcomes:
            mark = (
                "<span style='color:#1a7f37'>&#10004; pass</span>"
                if outcome.passed
                else "<span style='color:#cf222e'>&#10008; fail</span>"
            )
            hint = (
                ""
                if outcome.passed
                else f"<div><em>Hint:</em> {inline_markdown(outcome.criterion.hint)}</div>"
            )
            detail = (
                "<pre style='margin:2px 0;white-space:pre-wrap'>"
                f"{inline_markdown(outcome.detail)}</pre>"
                if outcome.detail
                else ""
            )
            rows.append(
                f"<tr><td style='white-space:nowrap'>{mark}</td>"
                f"<td style='text-align:left'>{inline_markdown(outcome.criterion.title)}"
                f"{detail}{hint}</td></tr>"
            )
        return (
            f"<div class='stagelab-lab-report'><strong>{html.escape(self.headline())}</strong>"
            "<table><tr><th>result</th><th style='text-align:left'>criterion</th></tr>"
            + "".join(rows)
            + "</table></div>"
        )


@dataclass(repr=False)
class NoEngineReport:
    """What a check says when no Docker engine answers: why, and the solution's recorded run."""

    lab: object
    message: str
    recorded: BuildResult | None
    recording_note: str

    passed = False

    def __repr__(self) -> str:
        lines = [f"Lab {self.lab.slug}: not checked. {self.message}", self.recording_note]
        if self.recorded is not None:
            lines.append(repr(self.recorded))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        shown = self.recorded._repr_html_() if self.recorded is not None else ""
        return (
            f"<div class='stagelab-lab-report'><strong>Lab {html.escape(self.lab.slug)}: "
            f"not checked.</strong><pre style='white-space:pre-wrap'>"
            f"{inline_markdown(self.message)}</pre>"
            f"<p>{inline_markdown(self.recording_note)}</p>{shown}</div>"
        )


@dataclass(repr=False)
class Note:
    """A short text shown as such in a terminal and as HTML in Jupyter."""

    title: str
    text: str = ""
    code: str = ""

    def __repr__(self) -> str:
        return (
            self.title
            + (f": {self.text}" if self.text else "")
            + (f"\n{self.code}" if self.code else "")
        )

    def _repr_html_(self) -> str:
        text = f": {inline_markdown(self.text)}" if self.text else ""
        code = f"<pre>{html.escape(self.code)}</pre>" if self.code else ""
        return f"<div><strong>{inline_markdown(self.title)}</strong>{text}{code}</div>"


class LiveChecklist:
    """In Jupyter, show each criterion as it is judged; the report takes over at the end."""

    def __init__(self, slug: str, total: int):
        self.slug, self.total = slug, total
        self.judged: list[Outcome] = []
        self.output = LiveHtml(self._html())

    def add(self, outcome: Outcome) -> None:
        """Show one more judged criterion."""
        self.judged.append(outcome)
        self.output.update(self._html())

    def close(self) -> None:
        """Clear the checklist (the report is shown next)."""
        self.output.update("")

    def _html(self) -> str:
        marks = "".join(
            f"<li>{'&#10004;' if o.passed else '&#10008;'} "
            f"{inline_markdown(o.criterion.title)}</li>"
            for o in self.judged
        )
        return (
            f"<div><em>Checking lab {html.escape(self.slug)}: building your files "
            f"({len(self.judged)} of {self.total} criteria judged)...</em><ul>{marks}</ul>"
            "</div>"
        )


def run_checks(
    criteria: list[Criterion], directory: Path, on_result: Callable[[Outcome], None] | None = None
) -> list[Outcome]:
    """Judge every criterion on a temporary copy of `directory`; never touch the original."""
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="stagelab-lab-") as tmp:
        work = Workspace.copy_of(directory, Path(tmp) / "work")
        for item in criteria:
            outcome = _judge(item, work)
            outcomes.append(outcome)
            if on_result is not None:
                on_result(outcome)
    return outcomes


def _judge(item: Criterion, work: Workspace) -> Outcome:
    try:
        return Outcome(item, True, item.test(work) or "")
    except (CheckFailed, StagelabError) as error:
        return Outcome(item, False, str(error))
    except Exception as error:  # a learner's file must never crash the whole check
        return Outcome(item, False, f"the check could not finish: {type(error).__name__}: {error}")
