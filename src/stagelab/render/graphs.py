"""The stage graph: stages as nodes, FROM / COPY --from / RUN --mount as edges, drawn by
graphviz."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .. import lazy
from ..dockerfile import BUILDERS, Dockerfile, Edge
from ..dockerfile.contexts import context_name
from ..errors import ProvisionError
from ..states import color
from .html import causes_html

EDGE_STYLES = {"from": "solid", "copy": "dashed", "mount": "dotted", "onbuild": "dashed"}
EDGE_MEANINGS = {
    "from": "FROM stage",
    "copy": "COPY --from",
    "mount": "RUN --mount from=",
    "onbuild": "ONBUILD COPY --from",
}
IMAGE_FILL = "#d6d6d6"
PLANNED_FILL = "#fff59d"
LEGEND_STATUSES = ("built", "cached", "skipped", "failed")


@dataclass
class Node:
    """A stage of the Dockerfile, or an external image it uses."""

    id: str
    ref: str  # the stage ref, or the image name
    label: str
    kind: str  # "stage" or "image"
    highlighted: bool = False
    target: bool = False
    status: str | None = None  # after a build: built, cached, skipped or failed

    @property
    def fill(self) -> str:
        if self.kind == "image":
            return IMAGE_FILL
        if self.status is not None:
            return color(self.status)
        return PLANNED_FILL if self.highlighted else "#ffffff"


class StageGraph:
    """A Dockerfile's stage graph; shows inline in a notebook as SVG markup."""

    def __init__(
        self,
        dockerfile: Dockerfile,
        target: str | None = None,
        build_args: dict[str, str] | None = None,
        builder: str = "buildkit",
        result=None,
        platform: str | None = None,
        platforms: Iterable[str] | None = None,
        contexts: Iterable[str] | None = None,
    ):
        if builder not in BUILDERS:
            raise ValueError(f"builder must be one of {BUILDERS}, not {builder!r}")
        self.dockerfile = dockerfile
        self.builder = builder
        self.result = result
        contexts = list(contexts or [])
        stages = dockerfile.resolve(build_args, builder, platform, contexts)
        goal = dockerfile.stage(target) if target is not None else stages[-1]
        self.target = goal.ref
        # Where the builder refuses the file, the graph still shows it, with the refusal.
        planned, self.refusal = dockerfile.attempt(target, builder, build_args, platform, contexts)
        self.highlighted = set(planned)
        self.platform_plan = None
        if platforms and builder == "buildkit" and self.refusal is None:
            self.platform_plan = dockerfile.platform_plan(target, platforms, build_args, contexts)
            self.highlighted = {
                ref for p in self.platform_plan.platforms for ref in self.platform_plan.stages(p)
            }
        self.edges: list[Edge] = dockerfile.edges(build_args, builder, platform, contexts)
        statuses = result.stage_status if result is not None else {}
        shared = getattr(result, "shared_with", None) or {}
        self.nodes: dict[str, Node] = {}
        for stage in stages:
            label = stage.label + (
                f" (work shared with {shared[stage.ref]})" if stage.ref in shared else ""
            )
            if stage.name and stage.name.lower() in contexts:
                label += f"\nreplaced by context {stage.name.lower()}"
            if self.platform_plan is not None and self.platform_plan.describe(stage.ref):
                label += "\n" + self.platform_plan.describe(stage.ref)
            self.nodes[stage.ref] = Node(
                f"s{stage.index}",
                stage.ref,
                label,
                "stage",
                stage.ref in self.highlighted,
                stage.ref == self.target,
                statuses.get(stage.ref),
            )
        for image in dict.fromkeys(e.source for e in self.edges if e.external):
            name = context_name(image)
            label = f"{name} (named context)" if name else image
            self.nodes[image] = Node(f"i{len(self.nodes)}", image, label, "image")
        self._svg: str | None = None

    @property
    def statuses(self) -> dict[str, str | None]:
        """Return each stage's status in the build drawn (None for a plan)."""
        return {ref: node.status for ref, node in self.nodes.items() if node.kind == "stage"}

    def dot(self) -> lazy.graphviz.Digraph:
        """Return the lazy.graphviz.Digraph to render."""
        dot = lazy.graphviz.Digraph(
            "stages",
            graph_attr={
                "rankdir": "LR",
                "fontname": "sans-serif",
                "fontsize": "11",
                "labelloc": "b",
            },
            node_attr={"fontname": "sans-serif", "fontsize": "12"},
            edge_attr={"fontname": "sans-serif", "fontsize": "10"},
        )
        for node in self.nodes.values():
            if node.kind == "image":
                dot.node(
                    node.id,
                    node.label,
                    shape="box",
                    style="filled",
                    color="#9e9e9e",
                    fillcolor=node.fill,
                    fontcolor="#424242",
                    tooltip=f"image {node.ref}",
                )
                continue
            stage = self.dockerfile.stage(node.ref)
            label = node.label + (" (target)" if node.target else "")
            dot.node(
                node.id,
                label,
                shape="box",
                style="rounded,filled",
                fillcolor=node.fill,
                color="#212121" if node.highlighted else "#9e9e9e",
                penwidth="2.5" if node.target else "1.5" if node.highlighted else "1",
                fontcolor="#000000" if node.highlighted or node.status else "#757575",
                tooltip=f"line {stage.lines[0]}: {stage.instructions[0]}"
                + (f" ({node.status})" if node.status else "")
                + self._why_tooltip(node.ref),
            )
        for edge in self.edges:
            dot.edge(
                self.nodes[edge.source].id,
                self.nodes[edge.child].id,
                style=EDGE_STYLES[edge.kind],
                color="#616161",
                tooltip=EDGE_MEANINGS[edge.kind],
            )
        dot.attr(label=self._legend())
        return dot

    def _legend(self) -> str:
        """Explain what this picture holds: only its edge kinds, its image boxes if any, and
        the statuses its stages have."""
        present = {edge.kind for edge in self.edges}
        cells = "".join(
            f"<td>{'—' if style == 'solid' else '- -' if style == 'dashed' else '···'}"
            f" {html.escape(EDGE_MEANINGS[kind])}</td>"
            for kind, style in EDGE_STYLES.items()
            if kind in present
        )
        if any(node.kind == "image" for node in self.nodes.values()):
            cells += f"<td bgcolor='{IMAGE_FILL}'>image</td>"
        if self.result is None:
            cells += f"<td bgcolor='{PLANNED_FILL}'>{self.builder} builds</td>"
            if self.refusal is not None:
                cells += f"<td>{html.escape(str(self.refusal))}</td>"
        else:
            statuses = set(self.result.stage_status.values())
            cells += "".join(
                f"<td bgcolor='{color(s)}'>{s}</td>" for s in LEGEND_STATUSES if s in statuses
            )
        return f"<<table border='0' cellspacing='4'><tr>{cells}</tr></table>>"

    @property
    def svg(self) -> str:
        """Return the SVG markup (without the XML prolog), rendered once by `dot`.

        Raises ProvisionError when graphviz's `dot` program is missing.
        """
        if self._svg is None:
            try:
                raw = self.dot().pipe(format="svg", encoding="utf-8")
            except lazy.graphviz.ExecutableNotFound:
                raise ProvisionError(
                    "Drawing the stage graph needs graphviz's `dot`: run "
                    "`stagelab setup`, or install graphviz with your package "
                    "manager."
                ) from None
            self._svg = re.sub(r"^.*?(?=<svg)", "", raw, flags=re.DOTALL)
        return self._svg

    def why(self):
        """Return the drawn build's explanation (result.why()), or None for a plan."""
        return self.result.why() if hasattr(self.result, "why") else None

    def _why_tooltip(self, ref: str) -> str:
        why = self.why()
        if why is None or ref not in why.stages:
            return ""
        stage = why.stages[ref]
        lines = [stage.text] + [
            f"line {step.line}: {step.reason.text}" for step in stage.steps if step.root
        ]
        return "\n" + "\n".join(lines)

    def _repr_html_(self) -> str:
        # JupyterLab draws image/svg+xml as an <img>; HTML output keeps the <svg> inline.
        caption = causes_html(self.why()) if self.why() is not None else ""
        return f"<div class='stagelab-graph'>{self.svg}{caption}</div>"

    def __repr__(self) -> str:
        lines = [
            f"<StageGraph target={self.target} {self.builder} builds: "
            f"{', '.join(r for r in self.nodes if r in self.highlighted)}>"
        ]
        for edge in self.edges:
            lines.append(f"  {edge.source} -> {edge.child} ({EDGE_MEANINGS[edge.kind]})")
        return "\n".join(lines)


def stage_graph(
    dockerfile,
    target: str | None = None,
    build_args: dict[str, str] | None = None,
    builder: str = "buildkit",
    result=None,
    platform: str | None = None,
    platforms: Iterable[str] | None = None,
    contexts: Iterable[str] | None = None,
) -> StageGraph:
    """Draw a Dockerfile's stages: a Dockerfile, its text, or a path to one.

    `platforms` (BuildKit) labels each stage with the target platforms it runs for and where
    (`PlatformPlan.describe`); `contexts` names named build contexts, whose stages show as
    replaced and whose sources as "NAME (named context)". A BuildResult brings its own.

    Without `result` the stages `builder` runs for `target` are highlighted; with a
    BuildResult each stage is coloured by what that build did with it (its builder, build args
    and target then apply). `platform` is the target platform BuildKit's platform ARGs take
    their values from (`os/arch`, default: this machine's). Where the builder refuses the file
    the graph shows the stages it runs before that and `refusal` says why. Returns a
    StageGraph, shown inline as SVG in a notebook. Raises DockerfileError for a Dockerfile that
    does not parse, ValueError for an unknown builder or platform.
    """
    if isinstance(dockerfile, os.PathLike):
        dockerfile = Path(dockerfile).read_text(encoding="utf-8")
    if isinstance(dockerfile, str):
        dockerfile = Dockerfile(dockerfile)
    if result is not None:
        builder, build_args = result.builder, result.build_args
        target = target if target is not None else result.target
        platforms = platforms or (result.platforms if len(result.platforms) > 1 else None)
        contexts = contexts or list(result.build_contexts)
    return StageGraph(
        dockerfile, target, build_args, builder, result, platform, platforms, contexts
    )
