"""Pictures and tables of builds and images for notebooks: comparisons, sizes, layers, timelines.

The drawing is pure (render/); this module fetches what a picture needs from the engine (or a
replay), so `sl.sizes` and `sl.layers` take image names as well as BuildResults.
"""

from __future__ import annotations

from .containers import history, size
from .render.charts import SizeChart, SizeRow, Timeline, timeline
from .render.graphs import StageGraph, graph
from .render.html import Table, human_size
from .results import BuildResult

__all__ = ["StageGraph", "Timeline", "compare", "graph", "layers", "sizes", "timeline"]


def compare(results: dict[str, BuildResult]) -> Table:
    """Return a table with one row per stage and one column per build (labelled by the dict's
    keys): what each build did with each stage, then each build's seconds and image size."""
    refs: list[str] = []
    for result in results.values():
        refs += [ref for ref in result.stage_status if ref not in refs]
    rows = [[ref] + [result.stage_status.get(ref) for result in results.values()]
            for ref in refs]
    footer = [["seconds"] + [f"{r.duration_s:.1f}" for r in results.values()],
              ["image size"] + [human_size(r.size_bytes) for r in results.values()]]
    return Table(["stage"] + [str(label) for label in results], rows, "stagelab-compare",
                 badges=set(range(1, len(results) + 1)), footer=footer)


def _image_name(image) -> str:
    name = getattr(image, "image_id", None) or getattr(image, "tag", None) or image
    if not isinstance(name, str):
        raise ValueError("give an image id, a tag or a BuildResult that made an image")
    return name


def layers(image) -> Table:
    """Return the image's layers, oldest first: size and the instruction that made each.

    `image` is an id, a tag or a BuildResult. Raises ValueError for a build that made no image.
    """
    found = history(_image_name(image))
    rows = [[i + 1, human_size(layer["size"]), layer["instruction"]]
            for i, layer in enumerate(found)]
    total = sum(layer["size"] for layer in found)
    return Table(["#", "size", "instruction"], rows, "stagelab-layers",
                 caption=f"{len(rows)} layers, {human_size(total)}")


def sizes(images: dict) -> SizeChart:
    """Compare image sizes in a bar chart: {label: image id, tag or BuildResult}.

    Raises ValueError for a BuildResult that made no image (it failed or exported files).
    """
    rows = []
    for label, image in images.items():
        if isinstance(image, BuildResult):
            if image.size_bytes is None:
                raise ValueError(f"{label!r}: that build made no image (it failed or exported "
                                 "files), so it has no size")
            rows.append(SizeRow(str(label), image.image_id, image.size_bytes))
        else:
            rows.append(SizeRow(str(label), str(image), size(str(image))))
    return SizeChart(rows)
