"""Charts drawn with matplotlib: a build timeline (Gantt) and an image size bar chart.

Both render to inline SVG (text kept as text), so a notebook shows them with no kernel-side
image files, and they work the same on a replayed build as on a real one.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass

from .. import lazy
from ..states import color
from .html import CLASSIC_STEPS_NOTE, causes_html, human_size

LANE_INCHES = 0.28
WIDTH_INCHES = 8.0


def _svg(figure: lazy.matplotlib_figure.Figure) -> str:
    buffer = io.StringIO()
    with lazy.matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    return re.sub(r"^.*?(?=<svg)", "", buffer.getvalue(), flags=re.DOTALL)


class _Chart:
    """An object a notebook shows inline as `<svg>` markup in its HTML output."""

    css_class = "stagelab-chart"
    svg: str

    def _repr_html_(self) -> str:
        return f"<div class='{self.css_class}'>{self.svg}</div>"


# ---------------------------------------------------------------- timeline


@dataclass(frozen=True)
class TimelineRow:
    """One step of one build, on the build's own clock (seconds after it started)."""

    build: str
    stage: str
    instruction: str
    status: str
    start: float
    seconds: float
    why: str = ""

    @property
    def end(self) -> float:
        return self.start + self.seconds


class Timeline(_Chart):
    """A Gantt chart: one panel per build, one lane per stage, one bar per step.

    Every panel shares one time axis, from 0 to the longest build (`span`, in seconds).
    """

    css_class = "stagelab-timeline"

    def __init__(self, results: list, labels: list[str]):
        self.results = results
        self.labels = labels
        self.rows: list[TimelineRow] = [
            TimelineRow(
                label,
                step.stage or "?",
                step.instruction,
                step.status,
                step.start,
                step.seconds,
                _reason(result, step),
            )
            for label, result in zip(labels, results)
            for step in sorted(result.steps, key=lambda s: (s.start, s.line or 0))
        ]
        ends = [row.end for row in self.rows] + [r.duration_s for r in results]
        self.span = max(ends, default=0.0) or 1.0
        self.titles: dict[str, str] = {}
        self.svg = _with_titles(_svg(self._figure()), self.titles)

    def lanes(self, label: str) -> list[str]:
        """Return the stage refs drawn for one build: every stage of its Dockerfile."""
        result = self.results[self.labels.index(label)]
        return [stage.ref for stage in result.dockerfile.stages]

    def _figure(self) -> lazy.matplotlib_figure.Figure:
        heights = [len(self.lanes(label)) + 1 for label in self.labels]
        figure = lazy.matplotlib_figure.Figure(
            figsize=(WIDTH_INCHES, LANE_INCHES * (sum(heights) + 2))
        )
        axes = figure.subplots(
            len(self.labels), 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": heights}
        )[:, 0]
        number = 0
        for ax, label, result in zip(axes, self.labels, self.results):
            lanes = self.lanes(label)
            skipped = {ref for ref in lanes if result.stage_status.get(ref, "skipped") == "skipped"}
            for row in (r for r in self.rows if r.build == label and r.stage in lanes):
                number += 1
                lane = lanes.index(row.stage)
                bar = ax.barh(
                    lane,
                    max(row.seconds, self.span / 400),
                    left=row.start,
                    height=0.7,
                    color=color(row.status),
                    edgecolor="#616161",
                    linewidth=0.5,
                )
                bar.patches[0].set_gid(f"stagelab-step-{number}")
                self.titles[f"stagelab-step-{number}"] = (
                    f"{row.stage}: {row.instruction} ({row.status})"
                    + (f"\n{row.why}" if row.why else "")
                )
            ax.set_yticks(
                range(len(lanes)), [f"{ref} (skipped)" if ref in skipped else ref for ref in lanes]
            )
            for tick, ref in zip(ax.get_yticklabels(), lanes):
                tick.set_color("#9e9e9e" if ref in skipped else "#000000")
            ax.set_ylim(len(lanes) - 0.5, -0.5)
            ax.set_title(
                f"{label} ({_about(label, result)})", loc="left", fontsize=10, fontweight="bold"
            )
            ax.grid(axis="x", color="#e0e0e0")
            ax.set_axisbelow(True)
        axes[-1].set_xlim(0, self.span)
        axes[-1].set_xlabel("seconds after the build started")
        axes[0].legend(
            handles=[
                lazy.matplotlib_patches.Patch(
                    facecolor=color(status), edgecolor="#616161", label=status
                )
                for status in ("built", "cached", "failed")
            ],
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncols=3,
            frameon=False,
            fontsize=9,
        )
        figure.set_layout_engine("constrained")
        return figure

    def _repr_html_(self) -> str:
        # Under the classic builder the same stage has more bars: say why, under the chart.
        note = (
            f"<div class='stagelab-note' style='color:#616161;font-size:90%'>"
            f"{CLASSIC_STEPS_NOTE}</div>"
            if any(result.builder == "classic" for result in self.results)
            else ""
        )
        causes = "".join(
            causes_html(result.why()) for result in self.results if hasattr(result, "why")
        )
        return super()._repr_html_() + note + causes

    def __repr__(self) -> str:
        return f"<Timeline of {', '.join(self.labels)}: {len(self.rows)} steps>"


def _reason(result, step) -> str:
    """Return why a step was cached or built, as its build's explanation says ("" if none)."""
    why = result.why() if hasattr(result, "why") else None
    for explained in getattr(why, "steps", []):
        if explained.stage == step.stage and explained.line == step.line:
            return explained.reason.text
    return ""


def _with_titles(svg: str, titles: dict[str, str]) -> str:
    """Give SVG groups a <title> (a browser shows it on hover), by their id."""
    for gid, title in titles.items():
        svg = svg.replace(
            f'<g id="{gid}">', f'<g id="{gid}"><title>{html.escape(title)}</title>', 1
        )
    return svg


def _about(label: str, result) -> str:
    seconds = f"{result.duration_s:.1f} s"
    return seconds if result.builder in label.lower() else f"{result.builder}, {seconds}"


def timeline(*results, labels: list[str] | None = None) -> Timeline:
    """Draw the steps of one or more builds per stage on one shared time axis.

    Pass BuildResults (labelled by builder) or one dict {label: BuildResult}; `labels` names
    them otherwise. Raises ValueError with no result or when labels and results differ in number.
    """
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
    """One bar of a size chart: its label, the image (id or name) and its size in bytes."""

    label: str
    image: str | None
    size: int


class SizeChart(_Chart):
    """Horizontal bars, one per image, with the size written beside each."""

    css_class = "stagelab-sizes"

    def __init__(self, rows: list[SizeRow]):
        self.rows = rows
        self.svg = _svg(self._figure())

    def _figure(self) -> lazy.matplotlib_figure.Figure:
        figure = lazy.matplotlib_figure.Figure(
            figsize=(WIDTH_INCHES, LANE_INCHES * 1.4 * (len(self.rows) + 1))
        )
        ax = figure.subplots()
        largest = max((row.size for row in self.rows), default=0) or 1
        bars = ax.barh(
            range(len(self.rows)), [row.size for row in self.rows], height=0.7, color="#64b5f6"
        )
        for patch, number in zip(bars.patches, range(len(self.rows))):
            patch.set_gid(f"stagelab-bar-{number + 1}")
        ax.bar_label(bars, labels=[human_size(row.size) for row in self.rows], padding=4)
        ax.set_yticks(range(len(self.rows)), [row.label for row in self.rows])
        ax.set_ylim(len(self.rows) - 0.5, -0.5)
        ax.set_xlim(0, largest * 1.2)
        ax.set_xticks([])
        for side in ("top", "right", "bottom"):
            ax.spines[side].set_visible(False)
        figure.set_layout_engine("constrained")
        return figure

    def __repr__(self) -> str:
        return "\n".join(f"{row.label:<20} {human_size(row.size):>10}" for row in self.rows)
