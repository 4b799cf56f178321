"""Show builds: live progress while they run, summaries and comparison tables after."""

from __future__ import annotations

import html
import sys
import threading
import time
from dataclasses import dataclass

from .build import BuildResult, Progress
from .charts import STATUS_COLORS, badge, human_size, sizes, timeline  # noqa: F401 (re-export)
from .dockerfile import Dockerfile
from .graphs import graph  # noqa: F401 (build.py calls display.graph)

# BuildResult.stage_status words -> the progress rows' words.
FINAL_STATES = {"built": "done", "cached": "cached", "skipped": "skipped", "failed": "failed"}


@dataclass
class StageRow:
    """What the progress display knows about one stage."""

    ref: str
    state: str
    step: str = ""
    began: float | None = None  # monotonic time of the first "running"
    ended: float | None = None
    seconds: float | None = None  # set from the engine's timings when the build ends

    def elapsed(self, now: float) -> float:
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

    def start(self, dockerfile: Dockerfile, builder: str, target: str | None) -> None:
        with self.lock:
            self.started = True
            self.builder, self.target = builder, target
            self.began = time.monotonic()
            try:
                plan = set(dockerfile.plan(target, builder))
            except Exception:
                plan = {stage.ref for stage in dockerfile.stages}
            self.rows = {stage.ref: StageRow(stage.ref, "waiting" if stage.ref in plan
                                             else "skipped") for stage in dockerfile.stages}
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

    def finish(self, result: BuildResult | None, error: Exception | None = None) -> None:
        result = result if result is not None else getattr(error, "result", None)
        if not self.started and result is not None:
            self.start(result.dockerfile, result.builder, result.target)
        with self.lock:
            self.result, self.error = result, error
            if result is not None:
                for ref, status in result.stage_status.items():
                    row = self.rows.setdefault(ref, StageRow(ref, "waiting"))
                    # A failed build stops the stages still running: trust what was seen.
                    unfinished = error is not None and row.began and row.ended is None
                    row.state = "stopped" if unfinished else FINAL_STATES.get(status, status)
                    steps = [s for s in result.steps if s.stage == ref]
                    if steps:
                        row.seconds = max(s.end for s in steps) - min(s.start for s in steps)
                        row.step = row.step or steps[-1].instruction
            failed_stage = getattr(error, "stage", None)
            if failed_stage in self.rows:
                self.rows[failed_stage].state = "failed"
            for row in self.rows.values():
                if row.state in ("running", "waiting") and error is not None:
                    row.state = "stopped" if row.state == "running" else "skipped"
        self.done()

    # Subclasses draw: the whole board, one changed row, the end.
    def draw(self) -> None:
        pass

    def changed(self, row: StageRow) -> None:
        self.draw()

    def done(self) -> None:
        self.draw()

    def heading(self) -> str:
        target = self.target or "last stage"
        return f"{self.builder} build, target {target}"

    def error_text(self) -> str:
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

    def changed(self, row: StageRow) -> None:
        now = time.monotonic()
        print(f"  {now - self.began:6.1f}s  {row.ref:<14} {row.state:<8} {row.step[:60]}",
              file=self.stream)

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
        import ipywidgets

        self.widget = ipywidgets.HTML()
        self.handle = None
        self.ticking = threading.Event()
        self.ticker: threading.Thread | None = None

    def start(self, dockerfile: Dockerfile, builder: str, target: str | None) -> None:
        from IPython.display import display

        super().start(dockerfile, builder, target)
        if self.handle is None:
            self.handle = display(self.widget, display_id=True)
        if self.ticker is None:
            self.ticker = threading.Thread(target=self._tick, daemon=True,
                                           name="stagelab-progress")
            self.ticker.start()

    def _tick(self) -> None:
        # Elapsed times move on between the engine's events.
        while not self.ticking.wait(self.TICK_S):
            with self.lock:
                if not self.ticking.is_set() and any(row.state == "running"
                                                      for row in self.rows.values()):
                    self.draw()

    def draw(self) -> None:
        with self.lock:
            self.widget.value = progress_html(self.heading(), self.rows.values(),
                                              time.monotonic(), self.error_text())

    def done(self) -> None:
        from IPython.display import HTML

        self.ticking.set()
        if self.ticker is not None:
            self.ticker.join(timeout=5)
        with self.lock:
            if self.error is None and self.result is not None:
                final = summary_html(self.result)
            else:
                final = progress_html(self.heading(), self.rows.values(), time.monotonic(),
                                      self.error_text())
        # The summary replaces the widget in place: it stays in the saved notebook.
        if self.handle is not None:
            self.handle.update(HTML(final))
        self.widget.close()


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def auto_progress() -> Progress:
    """Pick the progress display: widgets in a Jupyter kernel, text on a terminal, else none."""
    if _in_kernel():
        try:
            return WidgetProgress()
        except ImportError:
            pass
    if sys.stderr is not None and sys.stderr.isatty():
        return TerminalProgress()
    return Progress()


# ---------------------------------------------------------------- HTML and text

def _error_html(message: str) -> str:
    return ("<pre class='stagelab-error' style='color:#b71c1c;white-space:pre-wrap'>"
            f"{html.escape(message)}</pre>")


def progress_html(heading: str, rows, now: float, error: str = "") -> str:
    """Return the live board: one row per stage with its state, elapsed time and step."""
    body = "".join(
        f"<tr class='stagelab-progress-row' data-stage='{html.escape(row.ref)}' "
        f"data-state='{row.state}'><td>{html.escape(row.ref)}</td><td>{badge(row.state)}</td>"
        f"<td style='text-align:right'>{row.elapsed(now):.1f} s</td>"
        f"<td><code>{html.escape(row.step[:90])}</code></td></tr>"
        for row in rows)
    return (f"<div class='stagelab-progress'><b>{html.escape(heading)}</b>"
            "<table><tr><th>stage</th><th>state</th><th>elapsed</th><th>step</th></tr>"
            f"{body}</table>{_error_html(error) if error else ''}</div>")


def _summary_rows(result: BuildResult) -> list[tuple[str, str, int, float]]:
    rows = []
    for ref, status in result.stage_status.items():
        steps = [s for s in result.steps if s.stage == ref]
        rows.append((ref, status, len(steps), sum(s.seconds for s in steps)))
    return rows


def _caption(result: BuildResult) -> str:
    image = (result.image_id or "")[7:19]
    parts = [result.builder, f"target {result.target or 'last stage'}",
             f"{result.duration_s:.1f} s"]
    if image:
        parts.append(f"image {image}, {human_size(result.size_bytes)}")
    elif result.output:
        parts.append(f"exported to {result.output}")
    else:
        parts.append("no image")
    if result.replayed:
        parts.append(f"replayed from a recording (engine {result.recorded_engine or '?'}, "
                     f"{result.recorded_on or 'date unknown'})")
    return " · ".join(parts)


def summary_html(result: BuildResult) -> str:
    """Return an HTML table: stage, status, steps, seconds; and the image's size."""
    rows = "".join(f"<tr><td>{html.escape(ref)}</td><td>{badge(status)}</td>"
                   f"<td style='text-align:right'>{count}</td>"
                   f"<td style='text-align:right'>{seconds:.1f}</td></tr>"
                   for ref, status, count, seconds in _summary_rows(result))
    size = (f"<div class='stagelab-size'>image size: <b>{human_size(result.size_bytes)}</b>"
            "</div>" if result.size_bytes is not None else "")
    return (f"<div class='stagelab-build'><div>{html.escape(_caption(result))}</div>"
            "<table class='stagelab-summary'><tr><th>stage</th><th>status</th><th>steps</th>"
            f"<th>seconds</th></tr>{rows}</table>{size}</div>")


def summary_text(result: BuildResult) -> str:
    """Return the summary as plain text, for terminals."""
    lines = [_caption(result), f"  {'stage':<14} {'status':<8} {'steps':>5} {'seconds':>8}"]
    lines += [f"  {ref:<14} {status:<8} {count:>5} {seconds:>8.1f}"
              for ref, status, count, seconds in _summary_rows(result)]
    return "\n".join(lines)


class Table:
    """A small table that shows as HTML in a notebook and as text elsewhere."""

    def __init__(self, columns: list[str], rows: list[list], css_class: str,
                 badges: set[int] = frozenset(), caption: str = "",
                 footer: list[list] | None = None):
        self.columns, self.rows, self.css_class = columns, rows, css_class
        self.badges, self.caption, self.footer = badges, caption, footer or []

    def _cell(self, index: int, value) -> str:
        if value is None:
            return "<td></td>"
        if index in self.badges:
            return f"<td>{badge(str(value))}</td>"
        align = " style='text-align:right'" if isinstance(value, (int, float)) else ""
        return f"<td{align}>{html.escape(str(value))}</td>"

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(self._cell(i, v) for i, v in enumerate(row)) + "</tr>"
                       for row in self.rows)
        body += "".join("<tr style='font-style:italic'>" + "".join(
            f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in self.footer)
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table class='{self.css_class}'>{caption}<tr>{head}</tr>{body}</table>"

    def __repr__(self) -> str:
        cells = [self.columns] + [["" if v is None else str(v) for v in row]
                                  for row in self.rows + self.footer]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
        return "\n".join(([self.caption] if self.caption else []) + lines)


def compare(results: dict[str, BuildResult]) -> Table:
    """One row per stage, one column per build: what each build did with each stage."""
    refs: list[str] = []
    for result in results.values():
        refs += [ref for ref in result.stage_status if ref not in refs]
    rows = [[ref] + [result.stage_status.get(ref) for result in results.values()]
            for ref in refs]
    footer = [["seconds"] + [f"{r.duration_s:.1f}" for r in results.values()],
              ["image size"] + [human_size(r.size_bytes) for r in results.values()]]
    return Table(["stage"] + [str(label) for label in results], rows, "stagelab-compare",
                 badges=set(range(1, len(results) + 1)), footer=footer)


def layers(image) -> Table:
    """Return the image's layers, oldest first: size and the instruction that made each."""
    from .containers import history

    name = getattr(image, "image_id", None) or getattr(image, "tag", None) or image
    if not isinstance(name, str):
        raise ValueError("layers() needs an image id, a tag or a BuildResult that made an image")
    found = history(name)
    rows = [[i + 1, human_size(layer["size"]), layer["instruction"]]
            for i, layer in enumerate(found)]
    total = sum(layer["size"] for layer in found)
    return Table(["#", "size", "instruction"], rows, "stagelab-layers",
                 caption=f"{len(rows)} layers, {human_size(total)}")


def load_ipython_extension(ipython) -> None:
    """Register the %%dockerfile cell magic."""
    from .magic import register

    register(ipython)
