"""HTML and plain-text views: status badges, sizes, tables, build summaries, progress boards."""

from __future__ import annotations

import html
import os
import re
import tempfile

from ..command_lines import shell_text
from ..states import color


def badge(state: str, text: str | None = None) -> str:
    """Return a small HTML label coloured for a stage status or progress state (default text:
    the state itself)."""
    return (
        f"<span class='stagelab-status stagelab-{html.escape(state)}' style='background:"
        f"{color(state)};border:1px solid #9e9e9e;border-radius:3px;padding:0 4px'>"
        f"{html.escape(state if text is None else text)}</span>"
    )


def human_size(size: int | float | None) -> str:
    """Return '2.0 MB' for a size in bytes (decimal units, as `docker images` prints); '-' for
    None."""
    if size is None:
        return "-"
    if abs(size) < 1000:
        return f"{size:.0f} B"
    for unit in ("kB", "MB", "GB"):
        size /= 1000
        if abs(size) < 1000 or unit == "GB":
            return f"{size:.1f} {unit}"


# Markdown's *emphasis*, kept to words so that a glob (`*.txt`, /app/*) is never read as one.
_EMPHASIS = re.compile(r"(?<![\w*])\*([A-Za-z](?:[A-Za-z -]*[A-Za-z])?)\*(?![\w*])")
_CODE_SPAN = re.compile(r"(`[^`]+`)")


def inline_markdown(text: str) -> str:
    """Escape text for HTML, showing `code` spans as code and *words* in emphasis."""
    parts = _CODE_SPAN.split(html.escape(text))
    return "".join(
        f"<code>{part[1:-1]}</code>"
        if _CODE_SPAN.fullmatch(part)
        else _EMPHASIS.sub(r"<em>\1</em>", part)
        for part in parts
    )


def plain_markdown(text: str) -> str:
    """Return text for a terminal: *words* in emphasis lose their asterisks (code spans and
    globs keep theirs)."""
    parts = _CODE_SPAN.split(text)
    return "".join(
        part if _CODE_SPAN.fullmatch(part) else _EMPHASIS.sub(r"\1", part) for part in parts
    )


# Notebook front ends right-align table cells; text reads better from the left.
LEFT = "text-align:left"
RIGHT = "text-align:right;white-space:nowrap"
WRAP = "text-align:left;white-space:pre-wrap;word-break:break-word"


def error_html(message: str) -> str:
    """Return an error message as red preformatted text."""
    return (
        "<pre class='stagelab-error' style='color:#b71c1c;white-space:pre-wrap'>"
        f"{html.escape(message)}</pre>"
    )


class Table:
    """A small table that shows as HTML in a notebook and as aligned text elsewhere.

    `badges` holds the indexes of columns whose values are statuses, drawn as badges;
    `nowrap` those of columns of short values (sizes) kept on one line, right-aligned; text is
    left-aligned. `footer` rows are drawn in italics after the others.
    """

    def __init__(
        self,
        columns: list[str],
        rows: list[list],
        css_class: str,
        badges: set[int] = frozenset(),
        caption: str = "",
        footer: list[list] | None = None,
        nowrap: set[int] = frozenset(),
    ):
        self.columns, self.rows, self.css_class = columns, rows, css_class
        self.badges, self.caption, self.footer = badges, caption, footer or []
        self.nowrap = nowrap

    def _cell(self, index: int, value) -> str:
        if value is None:
            return "<td></td>"
        if index in self.badges:
            return f"<td style='{LEFT}'>{badge(str(value))}</td>"
        if index in self.nowrap or isinstance(value, (int, float)):
            return f"<td style='{RIGHT}'>{html.escape(str(value))}</td>"
        return f"<td style='{LEFT}'>{html.escape(str(value))}</td>"

    def _repr_html_(self) -> str:
        head = "".join(
            f"<th style='{RIGHT if i in self.nowrap else LEFT}'>{html.escape(c)}</th>"
            for i, c in enumerate(self.columns)
        )
        body = "".join(
            "<tr>" + "".join(self._cell(i, v) for i, v in enumerate(row)) + "</tr>"
            for row in self.rows
        )
        body += "".join(
            "<tr style='font-style:italic'>"
            + "".join(f"<td>{html.escape(str(v))}</td>" for v in row)
            + "</tr>"
            for row in self.footer
        )
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table class='{self.css_class}'>{caption}<tr>{head}</tr>{body}</table>"

    def __repr__(self) -> str:
        cells = [self.columns] + [
            ["" if v is None else str(v) for v in row] for row in self.rows + self.footer
        ]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
        return "\n".join(([self.caption] if self.caption else []) + lines)


class Listing:
    """A Dockerfile's text with its lines numbered as the builders number them (from 1, blank
    lines included), and each stage's name and index beside its `FROM` line.

    `lines` holds (number, stage mark or "", text) for every line.
    """

    def __init__(self, lines: list[tuple[int, str, str]]):
        self.lines = lines

    def _repr_html_(self) -> str:
        width = len(str(len(self.lines)))
        rows = "".join(
            f"<span style='color:#757575'>{number:>{width}}</span>  "
            f"{html.escape(text)}"
            + (f"  <span style='color:#1565c0'># stage {html.escape(mark)}</span>" if mark else "")
            + "\n"
            for number, mark, text in self.lines
        )
        return (
            "<pre class='stagelab-listing' style='line-height:1.3;padding:4px 8px;"
            f"background:#f6f8fa;white-space:pre-wrap'>{rows}</pre>"
        )

    def __repr__(self) -> str:
        width = len(str(len(self.lines)))
        return "\n".join(
            f"{number:>{width}}  {text}" + (f"  # stage {mark}" if mark else "")
            for number, mark, text in self.lines
        )


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
    parts = [
        result.builder,
        f"target {result.target or 'last stage'}",
        f"{result.duration_s:.1f} s",
    ]
    if image:
        parts.append(f"image {image}, {human_size(result.size_bytes)}")
    elif result.output:
        parts.append(f"exported to {result.output}")
    else:
        parts.append("no image")
    if result.replayed:
        parts.append(
            f"replayed from a recording (engine {result.recorded_engine or '?'}, "
            f"{result.recorded_on or 'date unknown'})"
        )
    return " · ".join(parts)


# Why the same stage has more steps under the classic builder (docs: "Differences between
# legacy builder and BuildKit", https://docs.docker.com/build/building/multi-stage/).
CLASSIC_STEPS_NOTE = (
    "Steps: the classic builder counts every instruction as a step, FROM, "
    "ARG, ENV and CMD too; BuildKit counts mainly those that change files "
    "(RUN, COPY, ADD, WORKDIR), so the same stage has fewer."
)


# A log longer than this shows its last lines (the whole log stays in `result.log`).
LOG_LINES_SHOWN = 400
_FOLD = "margin:2px 0;text-align:left"
_PRE = (
    "margin:2px 0 2px 1em;white-space:pre-wrap;word-break:break-all;max-height:24em;"
    "overflow:auto;background:#f7f7f7;padding:4px"
)


def build_details_html(command: list[str], log: str, replayed: bool = False) -> str:
    """Return a build's command and the engine's log as two sections folded away (HTML
    `<details>`, open on a click): the command as the shell reads it, one flag a line, and the
    log (its last LOG_LINES_SHOWN lines). "" for a build with neither (an old recording)."""
    parts = []
    if command:
        made = os.path.join(tempfile.gettempdir(), "stagelab-")
        note = (
            f"<div style='color:#616161;font-size:90%'>Folders under {html.escape(made)}... "
            "are the ones stagelab made for this build (the build context of Dockerfile text, "
            "the classic builder's copy of the Dockerfile with the stand-ins' names in, the "
            "file the image id is written to): they are gone once it ends.</div>"
            if any(made in word for word in command)
            else ""
        )
        parts.append(
            f"<details class='stagelab-command' style='{_FOLD}'><summary>Command</summary>"
            f"<pre style='{_PRE}'>{html.escape(shell_text(command, multiline=True))}</pre>"
            f"{note}</details>"
        )
    lines = (log or "").rstrip("\n").splitlines()
    if lines:
        shown = lines[-LOG_LINES_SHOWN:]
        what = f"{len(lines)} lines" + (
            f", the last {len(shown)} shown" if len(shown) < len(lines) else ""
        )
        if replayed:
            what += ", as the recording keeps them"
        parts.append(
            f"<details class='stagelab-log' style='{_FOLD}'><summary>Engine log ({what})"
            f"</summary><pre style='{_PRE}'>{html.escape(chr(10).join(shown))}</pre></details>"
        )
    return "".join(parts)


def summary_html(result) -> str:
    """Return a build's summary as HTML: stage, status, steps, seconds; and the image's size.

    The block carries the build's number (`data-build`), so a page can tell one build from
    another when it shows several.
    """
    rows = "".join(
        f"<tr><td style='{LEFT}'>{html.escape(ref)}</td>"
        f"<td style='{LEFT}'>{badge(status)}</td>"
        f"<td style='{RIGHT}'>{count}</td>"
        f"<td style='{RIGHT}'>{seconds:.1f}</td></tr>"
        for ref, status, count, seconds in _summary_rows(result)
    )
    size = (
        f"<div class='stagelab-size'>image size: <b>{human_size(result.size_bytes)}</b></div>"
        if result.size_bytes is not None
        else ""
    )
    note = (
        f"<div class='stagelab-note' style='color:#616161;font-size:90%'>"
        f"{html.escape(CLASSIC_STEPS_NOTE)}</div>"
        if result.builder == "classic"
        else ""
    )
    return (
        f"<div class='stagelab-build' data-build='{result.number}'>"
        f"<div>{html.escape(caption(result))}</div>"
        f"<table class='stagelab-summary'><tr><th style='{LEFT}'>stage</th>"
        f"<th style='{LEFT}'>status</th><th style='{RIGHT}'>steps</th>"
        f"<th style='{RIGHT}'>seconds</th></tr>{rows}</table>{size}{note}"
        f"{why_section(result)}"
        f"{build_details_html(result.command, result.log, result.replayed)}</div>"
    )


def causes_html(why) -> str:
    """Return a caption naming the steps whose reason started a rebuild (a Why's `causes`),
    or "" when nothing was rebuilt for a reason of its own."""
    causes = getattr(why, "causes", None) or []
    if not causes:
        return ""
    items = "".join(
        f"<li>{html.escape(step.stage)} line {step.line}: {html.escape(step.reason.text)}</li>"
        for step in causes
    )
    return (
        "<div class='stagelab-why-caption' style='color:#424242;font-size:90%'>"
        f"Why steps were rebuilt (hover a step for its reason):<ul>{items}</ul></div>"
    )


def why_section(result) -> str:
    """Return the build's explanation as HTML when its summary was asked to show it."""
    if not getattr(result, "summary_why", False):
        return ""
    return result.why()._repr_html_()


def summary_text(result) -> str:
    """Return a build's summary as plain text, for terminals."""
    lines = [caption(result), f"  {'stage':<14} {'status':<8} {'steps':>5} {'seconds':>8}"]
    lines += [
        f"  {ref:<14} {status:<8} {count:>5} {seconds:>8.1f}"
        for ref, status, count, seconds in _summary_rows(result)
    ]
    if result.builder == "classic":
        lines.append(f"  {CLASSIC_STEPS_NOTE}")
    if getattr(result, "summary_why", False):
        lines.append(str(result.why()))
    return "\n".join(lines)


def progress_html(
    heading: str, rows, now: float, error: str = "", build: int | None = None, details: str = ""
) -> str:
    """Return the live board: one row per stage with its state, elapsed seconds and step.

    `rows` have `ref`, `state`, `step` and `elapsed(now)`; `now` is a time.monotonic() value;
    `build` is the number of the build it ended with, when it ended with a result; `details`
    is HTML shown under the board (a failed build's command and log, build_details_html).
    """
    body = "".join(
        f"<tr class='stagelab-progress-row' data-stage='{html.escape(row.ref)}' "
        f"data-state='{row.state}'><td style='{LEFT}'>{html.escape(row.ref)}</td>"
        f"<td style='{LEFT}'>{badge(row.state)}</td>"
        f"<td style='{RIGHT}'>{row.elapsed(now):.1f} s</td>"
        f"<td style='{WRAP}'>{f'<code>{html.escape(row.step)}</code>' if row.step else ''}"
        "</td></tr>"
        for row in rows
    )
    number = f" data-build='{build}'" if build is not None else ""
    return (
        f"<div class='stagelab-progress'{number}><b>{html.escape(heading)}</b>"
        f"<table><tr><th style='{LEFT}'>stage</th><th style='{LEFT}'>state</th>"
        f"<th style='{RIGHT}'>elapsed</th><th style='{LEFT}'>step</th></tr>"
        f"{body}</table>{error_html(error) if error else ''}{details}</div>"
    )


# ---------------------------------------------------------------- claims


def describe(value) -> str:
    """Return a short reading of a checked value: a dict as `key: value, ...`, a list joined
    by commas, text with its line breaks visible; at most 300 characters."""
    if isinstance(value, dict):
        text = ", ".join(f"{key}: {describe(item)}" for key, item in value.items())
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        text = ", ".join(describe(item) for item in items) or "none"
    elif isinstance(value, str):
        text = (
            repr(value) if any(char in value for char in "\n\t\r") or not value.strip() else value
        )
    elif isinstance(value, float):
        text = f"{value:g}"
    else:
        text = str(value)
    return text if len(text) <= 300 else text[:297] + "..."


def claim_html(statement: str, holds: bool, seen: str) -> str:
    """Return a checked claim as one line: a mark, the statement (`code` shown as code), and
    what was seen."""
    mark = (
        "<span style='color:#1a7f37;font-weight:bold'>&#10004; checked:</span>"
        if holds
        else "<span style='color:#cf222e;font-weight:bold'>&#10008; does not hold:</span>"
    )
    shown = (
        f" <span style='color:#616161'>&middot; seen: <code>{html.escape(seen)}</code></span>"
        if seen
        else ""
    )
    return (
        f"<div class='stagelab-claim' data-holds='{str(holds).lower()}' "
        f"style='margin:1px 0'>{mark} {inline_markdown(statement)}{shown}</div>"
    )


def claim_text(statement: str, holds: bool, seen: str) -> str:
    """Return a checked claim as one line of text."""
    return f"{'checked' if holds else 'does not hold'}: {statement}" + (
        f" (seen: {seen})" if seen else ""
    )
