"""Show builds: live progress, summaries, stage graphs, timelines and size charts."""

from __future__ import annotations

import html
import sys

from .build import BuildResult, Progress


class TerminalProgress(Progress):
    """Print one line each time a stage changes state."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.states: dict[str, str] = {}

    def stage(self, ref: str, state: str, step: str = "") -> None:
        if self.states.get(ref) != state:
            self.states[ref] = state
            print(f"  {ref:<12} {state:<8} {step[:70]}", file=self.stream)


def auto_progress() -> Progress:
    """Pick the progress display for where the code runs."""
    return TerminalProgress() if sys.stderr.isatty() else Progress()


def summary_html(result: BuildResult) -> str:
    """Return an HTML table: stage, status, steps, seconds."""
    rows = []
    for ref, status in result.stage_status.items():
        steps = [s for s in result.steps if s.stage == ref]
        seconds = sum(s.seconds for s in steps)
        rows.append(f"<tr><td>{html.escape(ref)}</td><td>{status}</td><td>{len(steps)}</td>"
                    f"<td>{seconds:.1f}</td></tr>")
    return ("<table class='stagelab-summary'><tr><th>stage</th><th>status</th><th>steps</th>"
            "<th>seconds</th></tr>" + "".join(rows) + "</table>")


def graph(dockerfile, target=None, result=None):
    """Draw the stage graph."""
    raise NotImplementedError
