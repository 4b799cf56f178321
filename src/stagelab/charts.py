"""Charts drawn as plain SVG: a build timeline (Gantt) and an image size bar chart."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

# One colour per status, shared by the progress rows, tables, graphs and charts.
STATUS_COLORS = {
    "built": "#66bb6a", "done": "#66bb6a", "cached": "#64b5f6", "skipped": "#eeeeee",
    "failed": "#ef5350", "running": "#ffca28", "waiting": "#ffffff", "stopped": "#bdbdbd",
}
FONT = "font-family='sans-serif' font-size='12'"


def badge(status: str) -> str:
    """Return a small coloured HTML label for a status."""
    color = STATUS_COLORS.get(status, "#ffffff")
    return (f"<span class='stagelab-status stagelab-{html.escape(status)}' style='background:"
            f"{color};border:1px solid #9e9e9e;border-radius:3px;padding:0 4px'>"
            f"{html.escape(status)}</span>")


def human_size(size: int | float | None) -> str:
    """Return '2.0 MB' for a size in bytes (decimal units, as `docker images` prints)."""
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


def _tick_step(span: float, ticks: int = 6) -> float:
    raw = max(span, 1e-6) / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


class _Svg:
    """An object a notebook shows inline as `<svg>` markup in its HTML output."""

    svg: str

    def _repr_html_(self) -> str:
        return f"<div class='{self.css_class}'>{self.svg}</div>"

    css_class = "stagelab-chart"


# ---------------------------------------------------------------- timeline

@dataclass(frozen=True)
class TimelineRow:
    """One step of one build, placed on the build's own clock."""

    build: str
    stage: str
    instruction: str
    status: str
    start: float
    seconds: float

    @property
    def end(self) -> float:
        return self.start + self.seconds


class Timeline(_Svg):
    """A Gantt chart: one panel per build, one lane per stage, one bar per step."""

    css_class = "stagelab-timeline"
    LEFT, RIGHT, LANE, HEAD, AXIS = 130, 20, 20, 22, 28
    WIDTH = 760

    def __init__(self, results: list, labels: list[str]):
        self.results = results
        self.labels = labels
        self.rows: list[TimelineRow] = [
            TimelineRow(label, step.stage or "?", step.instruction, step.status,
                        step.start, step.seconds)
            for label, result in zip(labels, results)
            for step in sorted(result.steps, key=lambda s: (s.start, s.line or 0))]
        ends = [row.end for row in self.rows] + [r.duration_s for r in results]
        self.span = max(ends, default=0.0) or 1.0
        self.svg = self._draw()

    def lanes(self, label: str) -> list[str]:
        """Return the stage refs drawn for one build: every stage of its Dockerfile."""
        result = self.results[self.labels.index(label)]
        return [stage.ref for stage in result.dockerfile.stages]

    def _x(self, seconds: float) -> float:
        return self.LEFT + seconds / self.span * (self.WIDTH - self.LEFT - self.RIGHT)

    def _draw(self) -> str:
        parts, y = [], 0
        for label, result in zip(self.labels, self.results):
            parts.append(f"<text x='4' y='{y + 15}' {FONT} font-weight='bold'>"
                         f"{html.escape(label)} ({_about(label, result)})</text>")
            y += self.HEAD
            for ref in self.lanes(label):
                status = result.stage_status.get(ref, "skipped")
                parts.append(f"<rect x='0' y='{y}' width='{self.WIDTH}' height='{self.LANE}' "
                             f"fill='{'#fafafa' if status != 'skipped' else '#ffffff'}'/>")
                parts.append(f"<text x='8' y='{y + 14}' {FONT} fill='"
                             f"{'#9e9e9e' if status == 'skipped' else '#000'}'>"
                             f"{html.escape(ref)}{' (skipped)' if status == 'skipped' else ''}"
                             "</text>")
                for row in self.rows:
                    if row.build == label and row.stage == ref:
                        x = self._x(row.start)
                        width = max(self._x(row.end) - x, 2)
                        parts.append(
                            f"<rect class='stagelab-step' x='{x:.1f}' y='{y + 3}' "
                            f"width='{width:.1f}' height='{self.LANE - 6}' "
                            f"fill='{STATUS_COLORS.get(row.status, '#bdbdbd')}' "
                            f"stroke='#616161' stroke-width='0.5'><title>"
                            f"{html.escape(row.instruction)}: {row.status}, "
                            f"{row.seconds:.2f} s from {row.start:.2f} s</title></rect>")
                y += self.LANE
            y += 6
        parts.append(self._axis(y))
        height = y + self.AXIS
        return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{self.WIDTH}' "
                f"height='{height}' viewBox='0 0 {self.WIDTH} {height}'>"
                + "".join(parts) + "</svg>")

    def _axis(self, y: int) -> str:
        step = _tick_step(self.span)
        parts = [f"<line x1='{self.LEFT}' y1='{y}' x2='{self.WIDTH - self.RIGHT}' y2='{y}' "
                 "stroke='#616161'/>"]
        count = int(self.span / step + 1e-9)
        for i in range(count + 1):
            x = self._x(i * step)
            parts.append(f"<line x1='{x:.1f}' y1='{y}' x2='{x:.1f}' y2='{y + 4}' "
                         "stroke='#616161'/>"
                         f"<text x='{x:.1f}' y='{y + 16}' {FONT} text-anchor='middle'>"
                         f"{i * step:g}</text>")
        parts.append(f"<text x='{self.WIDTH - self.RIGHT}' y='{y + 16}' {FONT} "
                     "text-anchor='end'>s</text>")
        return "".join(parts)

    def __repr__(self) -> str:
        return f"<Timeline of {', '.join(self.labels)}: {len(self.rows)} steps>"


def _about(label: str, result) -> str:
    seconds = f"{result.duration_s:.1f} s"
    return seconds if result.builder in label.lower() else f"{result.builder}, {seconds}"


def timeline(*results, labels: list[str] | None = None) -> Timeline:
    """Draw the steps of one or more builds per stage on one shared time axis."""
    if len(results) == 1 and isinstance(results[0], dict):
        labels, results = list(results[0]), tuple(results[0].values())
    if not results:
        raise ValueError("timeline() needs at least one BuildResult")
    if labels is None:
        labels = [result.builder for result in results]
        if len(set(labels)) < len(labels):
            labels = [f"{i + 1}. {label}" for i, label in enumerate(labels)]
    if len(labels) != len(results):
        raise ValueError(f"{len(results)} results but {len(labels)} labels")
    return Timeline(list(results), [str(label) for label in labels])


# ---------------------------------------------------------------- sizes

@dataclass(frozen=True)
class SizeRow:
    label: str
    image: str | None
    size: int


class SizeChart(_Svg):
    """Horizontal bars, one per image, with the size written beside each."""

    css_class = "stagelab-sizes"
    LEFT, BAR, WIDTH = 160, 24, 640

    def __init__(self, rows: list[SizeRow]):
        self.rows = rows
        self.svg = self._draw()

    def _draw(self) -> str:
        largest = max((row.size for row in self.rows), default=0) or 1
        room = self.WIDTH - self.LEFT - 90
        parts = []
        for i, row in enumerate(self.rows):
            y = i * (self.BAR + 6)
            width = max(row.size / largest * room, 1)
            parts.append(f"<text x='{self.LEFT - 8}' y='{y + 16}' {FONT} text-anchor='end'>"
                         f"{html.escape(row.label)}</text>"
                         f"<rect class='stagelab-bar' x='{self.LEFT}' y='{y}' "
                         f"width='{width:.1f}' height='{self.BAR}' fill='#64b5f6'>"
                         f"<title>{html.escape(row.image or '')}</title></rect>"
                         f"<text x='{self.LEFT + width + 6:.1f}' y='{y + 16}' {FONT}>"
                         f"{human_size(row.size)}</text>")
        height = len(self.rows) * (self.BAR + 6) + 4
        return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{self.WIDTH}' "
                f"height='{height}' viewBox='0 0 {self.WIDTH} {height}'>"
                + "".join(parts) + "</svg>")

    def __repr__(self) -> str:
        return "\n".join(f"{row.label:<20} {human_size(row.size):>10}" for row in self.rows)


def sizes(images: dict) -> SizeChart:
    """Compare image sizes: {label: image id, tag or BuildResult}."""
    from .containers import size

    rows = []
    for label, image in images.items():
        if hasattr(image, "size_bytes"):
            if image.size_bytes is None:
                raise ValueError(f"{label!r}: that build made no image (it failed or exported "
                                 "files), so it has no size")
            rows.append(SizeRow(str(label), image.image_id, image.size_bytes))
        else:
            rows.append(SizeRow(str(label), str(image), size(str(image))))
    return SizeChart(rows)
