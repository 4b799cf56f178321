"""Pictures and tables of builds and images for notebooks: comparisons, sizes, layers, timelines.

The drawing is pure (render/); this module fetches what a picture needs from the engine (or a
replay), so `sl.sizes` and `sl.layers` take image names as well as BuildResults.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .containers import history, image_list_rows, size
from .dockerfile import Dockerfile
from .images import parse_dockerfile
from .render.charts import SizeChart, SizeRow, Timeline, timeline
from .render.graphs import EDGE_MEANINGS, StageGraph, stage_graph
from .render.html import Listing, Table, human_size
from .results import BuildResult

__all__ = [
    "StageGraph",
    "Timeline",
    "compare",
    "graph",
    "image_list",
    "layers",
    "listing",
    "platform_table",
    "sizes",
    "stage_table",
    "timeline",
]

# How the engines write a RUN in an image's history: "RUN /bin/sh -c make # buildkit",
# "RUN |1 GREETING=hi /bin/sh -c make" (with build args); a reader wants "RUN make".
_SHELL_PREFIX = re.compile(r"^RUN (?:\|\d+ (?:\S+=\S* )*)?/bin/sh -c ")
_BUILDKIT_SUFFIX = re.compile(r" # buildkit$")


def compare(results: dict[str, BuildResult]) -> Table:
    """Return a table with one row per stage and one column per build (labelled by the dict's
    keys): what each build did with each stage, then each build's seconds and image size."""
    refs: list[str] = []
    for result in results.values():
        refs += [ref for ref in result.stage_status if ref not in refs]
    rows = [[ref] + [result.stage_status.get(ref) for result in results.values()] for ref in refs]
    footer = [
        ["seconds"] + [f"{r.duration_s:.1f}" for r in results.values()],
        ["image size"] + [human_size(r.size_bytes) for r in results.values()],
    ]
    return Table(
        ["stage"] + [str(label) for label in results],
        rows,
        "stagelab-compare",
        badges=set(range(1, len(results) + 1)),
        footer=footer,
    )


def _image_name(image) -> str:
    name = getattr(image, "image_id", None) or getattr(image, "tag", None) or image
    if not isinstance(name, str):
        raise ValueError("give an image id, a tag or a BuildResult that made an image")
    return name


def layers(image) -> Table:
    """Return the image's history, oldest first: each entry's size, whether it added a layer,
    and the instruction that made it.

    `image` is an id, a tag or a BuildResult. An entry is one instruction that changed the
    image; only those that changed its files add a layer (CMD, ENV, LABEL and the like change
    its config: see stagelab.history_layers). For a BuildResult the history of the base image
    its stage starts FROM is one row, named by the image the Dockerfile writes (and the
    stand-in that served it): those entries are the base's, not the Dockerfile's. Raises
    ValueError for a build that made no image.
    """
    found = history(_image_name(image))
    rows, start = [], 0
    base = _base_image(image) if isinstance(image, BuildResult) else None
    if base is not None:
        written, served_by = base
        base_entries = history(served_by)
        if base_entries and _same_entries(found[: len(base_entries)], base_entries):
            start = len(base_entries)
            where = f" (served by the stand-in {served_by})" if served_by != written else ""
            rows.append(
                [
                    1,
                    human_size(sum(entry["size"] for entry in base_entries)),
                    _layer_count(base_entries),
                    f"FROM {written}{where}: the base image's {start} history entries",
                ]
            )
    for entry in found[start:]:
        instruction = _BUILDKIT_SUFFIX.sub("", _SHELL_PREFIX.sub("RUN ", entry["instruction"]))
        rows.append(
            [
                len(rows) + 1,
                human_size(entry["size"]),
                _LAYER_WORDS[entry.get("layer")],
                instruction or "(no instruction recorded)",
            ]
        )
    total = sum(entry["size"] for entry in found)
    return Table(
        ["#", "size", "layer", "instruction"],
        rows,
        "stagelab-layers",
        caption=f"{len(found)} history entries, {_layer_count(found)}, {human_size(total)}",
        nowrap={0, 1},
    )


# How the layers table says whether a history entry added a layer (None: cannot tell).
_LAYER_WORDS = {True: "yes", False: "no: config only", None: "?"}


def _layer_count(entries: list[dict]) -> str:
    flags = [entry.get("layer") for entry in entries]
    if None in flags:
        return "layers unknown"
    count = sum(flags)
    return f"{count} layer" + ("" if count == 1 else "s")


def _base_image(result: BuildResult) -> tuple[str, str] | None:
    """Return (the base image the built stage starts FROM, as written; the image that served
    it), following FROM <stage>; None for FROM scratch."""
    stages = result.dockerfile.resolve(result.build_args)
    stage = next((s for s in stages if s.ref == result.target), stages[-1])
    while stage.parent is not None:
        stage = stage.parent
    if stage.base == "scratch":
        return None
    return stage.base, result.substitutions.get(stage.base, stage.base)


def _same_entries(ours: list[dict], theirs: list[dict]) -> bool:
    return [(entry["instruction"], entry["size"]) for entry in ours] == [
        (entry["instruction"], entry["size"]) for entry in theirs
    ]


def stage_table(dockerfile, build_args: dict[str, str] | None = None) -> Table:
    """Return a Dockerfile's stages as a table: each stage's name (its index when it has
    none), index, base, first and last line, and what it copies or mounts from.

    `dockerfile` is a Dockerfile, its text or a path to one; `build_args` resolve ARGs used in
    FROM. Raises DockerfileError for a Dockerfile that does not parse.
    """
    parsed = _as_dockerfile(dockerfile)
    edges = parsed.edges(build_args)
    rows = []
    for stage in parsed.resolve(build_args):
        uses = [
            f"{edge.source} ({EDGE_MEANINGS[edge.kind]}{', an image' if edge.external else ''})"
            for edge in edges
            if edge.child == stage.ref and edge.kind != "from"
        ]
        first, last = stage.lines
        rows.append(
            [
                stage.label,
                stage.index,
                f"FROM {stage.base}",
                f"{first}-{last}" if last != first else str(first),
                ", ".join(uses),
            ]
        )
    return Table(
        ["stage", "index", "starts", "lines", "copies or mounts from"],
        rows,
        "stagelab-stages",
        nowrap={1},
    )


def listing(dockerfile, build_args: dict[str, str] | None = None) -> Listing:
    """Show a Dockerfile with its lines numbered as the builders count them (from 1, blank
    lines included: the numbers stage tables and build failures use), each stage's name and
    index beside its `FROM`.

    `dockerfile` is a Dockerfile, its text or a path to one; `build_args` resolve ARGs used in
    FROM. Raises DockerfileError for a Dockerfile that does not parse.
    """
    parsed = _as_dockerfile(dockerfile)
    marks = {}
    for stage in parsed.resolve(build_args):
        named = f"{stage.label} (index {stage.index})" if stage.name else f"{stage.index}"
        marks[stage.lines[0]] = named
    lines = parsed.text.splitlines()
    return Listing(
        [(number, marks.get(number, ""), text) for number, text in enumerate(lines, start=1)]
    )


def image_list(label: str, all_images: bool = False) -> Table:
    """List the engine's images that carry a label, as `docker image ls --filter label=LABEL`
    does (with `all_images`, `--all`: the intermediate images a classic build keeps as well),
    oldest first: short image id, tags ("<none>" for an untagged image) and size.

    `label` is `KEY` or `KEY=VALUE`. Returns a Table whose `rows` are what a claim counts;
    with no engine, the recorded answer (EngineUnavailable when there is none).
    """
    rows = [
        [image["id"][7:19], ", ".join(image["tags"]) or "<none>", human_size(image["size"])]
        for image in image_list_rows(label, all_images)
    ]
    shown = f"docker image ls{' --all' if all_images else ''} --filter label={label}"
    return Table(
        ["image", "tags", "size"],
        rows,
        "stagelab-images",
        caption=f"{shown}: {len(rows)} image" + ("" if len(rows) == 1 else "s"),
        nowrap={2},
    )


def graph(
    dockerfile,
    target: str | None = None,
    build_args: dict[str, str] | None = None,
    builder: str = "buildkit",
    result=None,
    platform: str | None = None,
    platforms: list[str] | None = None,
    contexts: list[str] | None = None,
) -> StageGraph:
    """Draw a Dockerfile's stages (a Dockerfile, its text, or a path to one) as
    stagelab.render.graphs.stage_graph does, with the engine's images known to the planner
    (images.parse_dockerfile): `platforms` labels each stage with the platforms it runs for
    and where, `contexts` (named build contexts) shows the stages they replace. Returns a
    StageGraph; raises DockerfileError for a Dockerfile that does not parse, ValueError for an
    unknown builder or platform.
    """
    return stage_graph(
        _as_dockerfile(dockerfile),
        target,
        build_args,
        builder,
        result,
        platform,
        platforms,
        contexts,
    )


def platform_table(
    dockerfile,
    platforms: list[str],
    target: str | None = None,
    build_args: dict[str, str] | None = None,
    contexts: list[str] | None = None,
) -> Table:
    """Return what BuildKit plans for each target platform of one build: a row per stage, a
    column per platform saying where the stage runs for it ("-": not at all), how many times
    the build runs it, and where it needs an emulator; then a row per automatic platform ARG
    with its value for each platform (Dockerfile.platform_plan). Raises DockerfileError
    where BuildKit refuses the file, ValueError for a malformed platform."""
    plan = _as_dockerfile(dockerfile).platform_plan(target, platforms, build_args, contexts)
    emulated = plan.needs_emulator()
    refs = list(dict.fromkeys(ref for p in plan.platforms for ref in plan.stages(p)))
    rows = [
        [ref]
        + [f"on {plan.runs_on(p, ref)}" if ref in plan.stages(p) else "-" for p in plan.platforms]
        + [plan.times_run(ref), ", ".join(p for p in plan.platforms if ref in emulated[p]) or "-"]
        for ref in refs
    ]
    args = sorted(plan.args[plan.platforms[0]])
    footer = [
        [f"${name}"] + [plan.args[p][name] or '""' for p in plan.platforms] + ["", ""]
        for name in args
    ]
    return Table(
        ["stage", *(f"for {p}" for p in plan.platforms), "runs", "needs an emulator for"],
        rows,
        "stagelab-platforms",
        footer=footer,
    )


def _as_dockerfile(dockerfile) -> Dockerfile:
    if isinstance(dockerfile, os.PathLike):
        dockerfile = Path(dockerfile).read_text(encoding="utf-8")
    return parse_dockerfile(dockerfile) if isinstance(dockerfile, str) else dockerfile


def sizes(images: dict) -> SizeChart:
    """Compare image sizes in a bar chart: {label: image id, tag or BuildResult}.

    Raises ValueError for a BuildResult that made no image (it failed or exported files).
    """
    rows = []
    for label, image in images.items():
        if isinstance(image, BuildResult):
            if image.size_bytes is None:
                raise ValueError(
                    f"{label!r}: that build made no image (it failed or exported "
                    "files), so it has no size"
                )
            rows.append(SizeRow(str(label), image.image_id, image.size_bytes))
        else:
            rows.append(SizeRow(str(label), str(image), size(str(image))))
    return SizeChart(rows)
