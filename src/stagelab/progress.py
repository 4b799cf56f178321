"""Live progress of builds, and the one place that knows whether it runs in a Jupyter kernel.

A runner tells a Progress about each stage as it changes (`stage(ref, state, step)` with a
progress state from states.py) and ends with `finish(result, error)`. In a kernel the board is
an ipywidget replaced in place by the build's summary; on a terminal it prints a line per
change; elsewhere nothing is shown. A build shows once: a BuildResult that is the value of the
cell whose board already shows its summary adds nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass

from . import lazy
from .command_lines import shell_text
from .dockerfile import Dockerfile
from .errors import BuildFailed
from .render.html import build_details_html, progress_html, summary_html, summary_text
from .results import BuildResult
from .states import progress_state

# ---------------------------------------------------------------- where we run


def in_kernel() -> bool:
    """Tell whether this code runs in a Jupyter kernel (rich output shows in a notebook)."""
    shell = _shell()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _shell():
    # The IPython shell running this code, or None. A kernel has imported IPython long before
    # stagelab: where nothing has, there is no shell, and no reason to import IPython to ask.
    return lazy.ipython.get_ipython() if lazy.imported("ipython") else None


def current_cell() -> int | str:
    """Return the notebook cell's execution count, or "process" outside a kernel."""
    return _shell().execution_count if in_kernel() else "process"


def show(html_text: str, text: str) -> None:
    """Show a message: `html_text` in a notebook, `text` as one line on stderr elsewhere."""
    if in_kernel():
        lazy.ipython_display.display({"text/html": html_text, "text/plain": text}, raw=True)
    else:
        print(f"stagelab: {text}", file=sys.stderr)


# Build number -> the cell whose progress board turned into that build's summary.
_summary_shown_in: dict[int, int | str] = {}


def show_result(result: BuildResult) -> None:
    """Show a BuildResult as a notebook shows a value: its summary, unless this cell's board
    already turned into it (one view per build)."""
    if _summary_shown_in.get(result.number) == current_cell():
        return
    lazy.ipython_display.display(
        {"text/html": summary_html(result), "text/plain": repr(result)}, raw=True
    )


def _show_results_once() -> None:
    # IPython calls a type's registered display function instead of its _repr_*_ methods.
    shell = _shell()
    if shell is not None:
        shell.display_formatter.ipython_display_formatter.for_type(BuildResult, show_result)


class LiveBundle:
    """An output in a notebook, given as a mime bundle ({"text/html": ..., ...}), that is
    replaced in place by each `update()` (a front end shows the richest type it renders)."""

    def __init__(self, bundle: dict):
        self.handle = lazy.ipython_display.display(bundle, raw=True, display_id=True)

    def update(self, bundle: dict) -> None:
        """Replace what this output shows."""
        self.handle.update(bundle, raw=True)


class LiveHtml:
    """An HTML output in a notebook that is replaced in place by each `update()`."""

    def __init__(self, html_text: str):
        self.handle = lazy.ipython_display.display(
            lazy.ipython_display.HTML(html_text), display_id=True
        )

    def update(self, html_text: str) -> None:
        """Replace what this output shows."""
        self.handle.update(lazy.ipython_display.HTML(html_text))


# ---------------------------------------------------------------- the protocol


class Progress:
    """Receives a build's events; this base ignores them. Subclasses draw them."""

    def start(self, dockerfile: Dockerfile, builder: str, target: str | None) -> None:
        """The build starts: `target` is the target stage's ref, None for the last stage."""

    def stage(self, ref: str, state: str, step: str = "") -> None:
        """Stage `ref` is now in progress state `state`, running `step` (an instruction)."""

    def command(self, words: list[str]) -> None:
        """The build runs this command (for the classic builder: the one that does the same)."""

    def finish(self, result: BuildResult | None, error: BaseException | None = None) -> None:
        """The build ended with a result, or with an error (whose `.result` may hold one)."""


@dataclass
class StageRow:
    """What a progress board knows about one stage."""

    ref: str
    state: str
    step: str = ""
    began: float | None = None  # monotonic time of the first "running"
    ended: float | None = None
    seconds: float | None = None  # set from the engine's timings when the build ends

    def elapsed(self, now: float) -> float:
        """Return the seconds this stage has run by `now` (a time.monotonic() value)."""
        if self.seconds is not None:
            return self.seconds
        if self.began is None:
            return 0.0
        return (self.ended or now) - self.began


class BoardProgress(Progress):
    """Keeps one row per stage up to date from the engine's events; subclasses draw it."""

    def __init__(self):
        self.rows: dict[str, StageRow] = {}
        self.builder = ""
        self.target: str | None = None
        self.began = time.monotonic()
        self.result: BuildResult | None = None
        self.error: BaseException | None = None
        self.started = False
        self.lock = threading.RLock()
        self.command_words: list[str] = []

    def start(self, dockerfile: Dockerfile, builder: str, target: str | None) -> None:
        with self.lock:
            self.started = True
            self.builder, self.target = builder, target
            self.began = time.monotonic()
            try:
                plan = set(dockerfile.plan(target, builder))
            except Exception:  # a plan that fails shows every stage as waiting
                plan = {stage.ref for stage in dockerfile.stages}
            self.rows = {
                stage.ref: StageRow(stage.ref, "waiting" if stage.ref in plan else "skipped")
                for stage in dockerfile.stages
            }
        self.draw()

    def stage(self, ref: str, state: str, step: str = "") -> None:
        now = time.monotonic()
        with self.lock:
            row = self.rows.setdefault(ref, StageRow(ref, "waiting"))
            changed = row.state != state or (step and row.step != step)
            if state == "running":
                row.began = row.began or now
                row.ended = None
            elif state in ("done", "cached", "failed"):
                row.began = row.began or now
                row.ended = now
            row.state = state
            row.step = step or row.step
        if changed:
            self.changed(row)

    def command(self, words: list[str]) -> None:
        with self.lock:
            self.command_words = list(words)
        self.draw()

    def finish(self, result: BuildResult | None, error: BaseException | None = None) -> None:
        result = result if result is not None else getattr(error, "result", None)
        if not self.started and result is not None:
            self.start(result.dockerfile, result.builder, result.target)
        with self.lock:
            self.result, self.error = result, error
            if result is not None:
                self._settle(result, error)
            failed_stage = getattr(error, "stage", None)
            if failed_stage in self.rows:
                self.rows[failed_stage].state = "failed"
            for row in self.rows.values():
                if row.state in ("running", "waiting") and error is not None:
                    row.state = "stopped" if row.state == "running" else "skipped"
        self.done()

    def _settle(self, result: BuildResult, error: BaseException | None) -> None:
        for ref, status in result.stage_status.items():
            row = self.rows.setdefault(ref, StageRow(ref, "waiting"))
            # A failed build stops the stages still running: trust what was seen.
            unfinished = error is not None and row.began and row.ended is None
            row.state = "stopped" if unfinished else progress_state(status)
            steps = [s for s in result.steps if s.stage == ref]
            if steps:
                row.seconds = max(s.end for s in steps) - min(s.start for s in steps)
                row.step = row.step or steps[-1].instruction

    # Subclasses draw: the whole board, one changed row, the end.
    def draw(self) -> None:
        """Draw the whole board."""

    def changed(self, row: StageRow) -> None:
        """Draw a row that changed."""
        self.draw()

    def done(self) -> None:
        """Draw the end of the build."""
        self.draw()

    def heading(self) -> str:
        """Return the board's title: builder and target."""
        return f"{self.builder} build, target {self.target or 'last stage'}"

    def error_details(self) -> str:
        """Return the failed build's command and the engine's log, folded away, as HTML ("" when
        the error carries neither)."""
        failed = self.error
        replayed = bool(getattr(getattr(failed, "result", None), "replayed", False))
        return build_details_html(
            list(getattr(failed, "command", None) or []), getattr(failed, "output", ""), replayed
        )

    def error_text(self) -> str:
        """Return the error the build ended with, as text ("" when none)."""
        if self.error is None:
            return ""
        if isinstance(self.error, KeyboardInterrupt):
            return "interrupted"
        return str(self.error) or type(self.error).__name__


class TerminalProgress(BoardProgress):
    """Print one line each time a stage changes state, and a summary at the end."""

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream if stream is not None else sys.stderr

    def draw(self) -> None:
        if not self.result and not self.error:
            waiting = [r.ref for r in self.rows.values() if r.state == "waiting"]
            print(f"{self.heading()}: stages {', '.join(waiting) or 'none'}", file=self.stream)

    def command(self, words: list[str]) -> None:
        self.command_words = list(words)
        print(f"  command: {shell_text(words)}", file=self.stream)

    def changed(self, row: StageRow) -> None:
        now = time.monotonic()
        print(
            f"  {now - self.began:6.1f}s  {row.ref:<14} {row.state:<8} {row.step[:60]}",
            file=self.stream,
        )

    def done(self) -> None:
        if self.result is not None:
            print(summary_text(self.result), file=self.stream)
        if self.error is not None:
            print(f"failed: {self.error_text().splitlines()[0]}", file=self.stream)
        self.stream.flush()


class WidgetProgress(BoardProgress):
    """Live rows in an ipywidgets HTML widget; replaced by the static summary at the end."""

    TICK_S = 0.5

    def __init__(self):
        super().__init__()
        _show_results_once()
        self.widget = lazy.ipywidgets.HTML()
        self.handle = None
        self.ticking = threading.Event()
        self.ticker: threading.Thread | None = None

    def start(self, dockerfile: Dockerfile, builder: str, target: str | None) -> None:
        super().start(dockerfile, builder, target)
        if self.handle is None:
            self.handle = lazy.ipython_display.display(self.widget, display_id=True)
        if self.ticker is None:
            self.ticker = threading.Thread(target=self._tick, daemon=True, name="stagelab-progress")
            self.ticker.start()

    def _tick(self) -> None:
        # Elapsed times move on between the engine's events.
        while not self.ticking.wait(self.TICK_S):
            with self.lock:
                if not self.ticking.is_set() and any(
                    row.state == "running" for row in self.rows.values()
                ):
                    self.draw()

    def draw(self) -> None:
        with self.lock:
            self.widget.value = progress_html(
                self.heading(),
                self.rows.values(),
                time.monotonic(),
                self.error_text(),
                details=build_details_html(self.command_words, ""),
            )

    def done(self) -> None:
        self.ticking.set()
        if self.ticker is not None:
            self.ticker.join(timeout=5)
        with self.lock:
            number = self.result.number if self.result is not None else None
            if self.error is None and self.result is not None:
                final = summary_html(self.result)
            else:
                final = progress_html(
                    self.heading(),
                    self.rows.values(),
                    time.monotonic(),
                    self.error_text(),
                    number,
                    self.error_details(),
                )
        # The summary replaces the widget in place: it stays in the saved notebook.
        if self.handle is not None:
            self.handle.update(lazy.ipython_display.HTML(final))
            if number is not None:
                _summary_shown_in[number] = current_cell()
            if isinstance(self.error, BuildFailed):
                self.error.shown = True
        self.widget.close()


def auto_progress() -> Progress:
    """Pick the progress display: widgets in a Jupyter kernel, text on a terminal, else none."""
    if in_kernel():
        return WidgetProgress()
    if sys.stderr is not None and sys.stderr.isatty():
        return TerminalProgress()
    return Progress()
