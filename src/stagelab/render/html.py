"""HTML and plain-text views: status badges, sizes, tables, build summaries, progress boards."""

from __future__ import annotations

import html
import re

from ..states import color


def badge(state: str, text: str | None = None) -> str:
    """Return a small HTML label coloured for a stage status or progress state (default text:
    the state itself)."""
    return (f"<span class='stagelab-status stagelab-{html.escape(state)}' style='background:"
            f"{color(state)};border:1px solid #9e9e9e;border-radius:3px;padding:0 4px'>"
            f"{html.escape(state if text is None else text)}</span>")


def human_size(size: int | float | None) -> str:
    """Return '2.0 MB' for a size in bytes (decimal units, as `docker images` prints); '-' for None."""
    if size is None:
        return "-"
    if abs(size) < 1000:
        return f"{size:.0f} B"
    unit = "kB"
    for unit in ("kB", "MB", "GB"):
        size /= 1000
        if abs(size) < 1000:
            break
    return f"{size:.1f} {unit}"


def inline_markdown(text: str) -> str:
    """Escape text for HTML, showing `code` spans as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def error_html(message: str) -> str:
    """Return an error message as red preformatted text."""
    return ("<pre class='stagelab-error' style='color:#b71c1c;white-space:pre-wrap'>"
            f"{html.escape(message)}</pre>")


class Table:
    """A small table that shows as HTML in a notebook and as aligned text elsewhere.

    `badges` holds the indexes of columns whose values are statuses, drawn as badges;
    `footer` rows are drawn in italics after the others.
    """

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


# ---------------------------------------------------------------- a build's summary

def _summary_rows(result) -> list[tuple[str, str, int, float]]:
    rows = []
    for ref, status in result.stage_status.items():
        steps = [s for s in result.steps if s.stage == ref]
        rows.append((ref, status, len(steps), sum(s.seconds for s in steps)))
    return rows


def caption(result) -> str:
    """Return one line about a build: builder, target, seconds, image or export, replay."""
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


def summary_html(result) -> str:
    """Return a build's summary as HTML: stage, status, steps, seconds; and the image's size."""
    rows = "".join(f"<tr><td>{html.escape(ref)}</td><td>{badge(status)}</td>"
                   f"<td style='text-align:right'>{count}</td>"
                   f"<td style='text-align:right'>{seconds:.1f}</td></tr>"
                   for ref, status, count, seconds in _summary_rows(result))
    size = (f"<div class='stagelab-size'>image size: <b>{human_size(result.size_bytes)}</b>"
            "</div>" if result.size_bytes is not None else "")
    return (f"<div class='stagelab-build'><div>{html.escape(caption(result))}</div>"
            "<table class='stagelab-summary'><tr><th>stage</th><th>status</th><th>steps</th>"
            f"<th>seconds</th></tr>{rows}</table>{size}</div>")


def summary_text(result) -> str:
    """Return a build's summary as plain text, for terminals."""
    lines = [caption(result), f"  {'stage':<14} {'status':<8} {'steps':>5} {'seconds':>8}"]
    lines += [f"  {ref:<14} {status:<8} {count:>5} {seconds:>8.1f}"
              for ref, status, count, seconds in _summary_rows(result)]
    return "\n".join(lines)


def progress_html(heading: str, rows, now: float, error: str = "") -> str:
    """Return the live board: one row per stage with its state, elapsed seconds and step.

    `rows` have `ref`, `state`, `step` and `elapsed(now)`; `now` is a time.monotonic() value.
    """
    body = "".join(
        f"<tr class='stagelab-progress-row' data-stage='{html.escape(row.ref)}' "
        f"data-state='{row.state}'><td>{html.escape(row.ref)}</td><td>{badge(row.state)}</td>"
        f"<td style='text-align:right'>{row.elapsed(now):.1f} s</td>"
        f"<td><code>{html.escape(row.step[:90])}</code></td></tr>"
        for row in rows)
    return (f"<div class='stagelab-progress'><b>{html.escape(heading)}</b>"
            "<table><tr><th>stage</th><th>state</th><th>elapsed</th><th>step</th></tr>"
            f"{body}</table>{error_html(error) if error else ''}</div>")
