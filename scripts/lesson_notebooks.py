"""The lessons' notebooks, generated from their text sources.

Authors edit `lessons/NN_topic.md` (MyST Markdown as jupytext reads it: prose as Markdown, each
code cell a ```{code-cell} block whose `:tags:` are the cell's tags). Learners, nbval, papermill
and Binder open `notebooks/NN_topic.ipynb`, which this script writes from the source: without
outputs, with the course's kernelspec, cell ids `NN-MM` (lesson number, cell index), in
nbformat's own JSON layout, so the same source always gives the same bytes.

    python scripts/lesson_notebooks.py           # make notebooks: write those that differ
    python scripts/lesson_notebooks.py --check   # list those that differ; exit 1 if any

jupytext (https://jupytext.readthedocs.io/) is a development dependency (pyproject's `test`
extra): learners never need it. tests/notebooks/test_lesson_sources.py fails when a committed
notebook differs from its source.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOURCE_FORMAT = "md:myst"
SOURCE_NAME = re.compile(r"(?P<number>[0-9]{2})_[a-z0-9_]+\.md")
# STYLE_GUIDE.md: every lesson runs in this kernel. language_info tells ruff the cells are Python.
METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}
REGENERATE = (
    "Edit lessons/NN_topic.md, not the notebook (`make notebooks` overwrites notebooks/ from "
    "lessons/: move a hand edit into the source first), then run `make notebooks` and commit both"
)


class LessonSourceError(ValueError):
    """A lesson source that cannot become a notebook: its message names the file and the fix."""


def sources(root: Path = ROOT) -> list[Path]:
    """Return the lesson sources (`lessons/NN_topic.md`), in reading order.

    Raises LessonSourceError for a Markdown file in lessons/ whose name is not `NN_topic.md`
    (README.md aside): it would silently become no lesson.
    """
    found = sorted((root / "lessons").glob("*.md"))
    misnamed = [
        p.name for p in found if p.name != "README.md" and not SOURCE_NAME.fullmatch(p.name)
    ]
    if misnamed:
        raise LessonSourceError(
            f"lessons/: {', '.join(misnamed)}: a lesson source is named NN_topic.md "
            "(two digits, lower-case words joined by _), e.g. 03_stages_do_not_inherit.md"
        )
    return [path for path in found if SOURCE_NAME.fullmatch(path.name)]


def notebook_path(source: Path, root: Path = ROOT) -> Path:
    """Return where `source`'s notebook goes: notebooks/ with the source's stem and .ipynb."""
    return root / "notebooks" / f"{source.stem}.ipynb"


def notebook_text(source: Path) -> str:
    """Return the notebook `source` makes, as the text committed in notebooks/ (nbformat 4.5).

    Raises LessonSourceError when the source holds no cell (an empty or unreadable file).
    """
    text = source.read_text(encoding="utf-8")
    notebook = jupytext.reads(text, fmt=SOURCE_FORMAT)
    if not notebook.cells:
        raise LessonSourceError(
            f"{source.name}: no cells (is it MyST Markdown, as jupytext writes it?)"
        )
    number = SOURCE_NAME.fullmatch(source.name)["number"]
    cells = []
    for index, cell in enumerate(notebook.cells):
        make = (
            nbformat.v4.new_code_cell if cell.cell_type == "code" else nbformat.v4.new_markdown_cell
        )
        # The cell's metadata as the source gives it: its tags (parameters, outcome, ...) above all.
        made = make(cell.source, metadata=dict(cell.metadata))
        made.id = f"{number}-{index:02d}"
        cells.append(made)
    metadata = dict(METADATA)
    # The lesson's own settings for stagelab (the parameter values Binder replays), if any.
    if "stagelab" in notebook.metadata:
        metadata["stagelab"] = notebook.metadata["stagelab"]
    generated = nbformat.v4.new_notebook(cells=cells, metadata=metadata)
    generated.nbformat_minor = 5
    return nbformat.writes(generated) + "\n"


def write_notebooks(root: Path = ROOT) -> list[Path]:
    """Write the notebook of every lesson source whose committed notebook differs; return those."""
    changed = []
    for source in sources(root):
        path, text = notebook_path(source, root), notebook_text(source)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def differences(root: Path = ROOT) -> list[str]:
    """Return what differs between the sources and notebooks/, one line each (empty: in step).

    A notebook differs when its text is not what its source makes; a lesson notebook with no
    source, or a source with no notebook, is listed too.
    """
    found = []
    made = set()
    for source in sources(root):
        path = notebook_path(source, root)
        made.add(path.name)
        if not path.exists():
            found.append(f"notebooks/{path.name} is missing (its source is lessons/{source.name})")
        elif path.read_text(encoding="utf-8") != (wanted := notebook_text(source)):
            where = _first_difference(path.read_text(encoding="utf-8"), wanted)
            found.append(f"notebooks/{path.name} differs from lessons/{source.name} ({where})")
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if path.name not in made:
            found.append(f"notebooks/{path.name} has no source lessons/{path.stem}.md")
    return found


def _first_difference(committed: str, wanted: str) -> str:
    """Name the first cell where the committed notebook differs from what its source makes."""
    have = nbformat.reads(committed, as_version=4).cells
    want = nbformat.reads(wanted, as_version=4).cells
    for number, (cell, made) in enumerate(zip(have, want), start=1):
        if cell.source != made.source or cell.get("metadata") != made.get("metadata"):
            return f"first at cell {number}, id {made.get('id', '?')}: {made.source[:60]!r}"
    if len(have) != len(want):
        return f"{len(have)} cells where the source makes {len(want)}"
    return "the same cells; the notebook's metadata or layout differs"


def main(argv: list[str]) -> int:
    """Write the notebooks (or, with --check, only list what differs); return the exit status."""
    try:
        if argv == ["--check"]:
            found = differences()
            for line in found:
                print(line, file=sys.stderr)
            if found:
                print(REGENERATE, file=sys.stderr)
            return 1 if found else 0
        if argv:
            print("usage: python scripts/lesson_notebooks.py [--check]", file=sys.stderr)
            return 2
        changed = write_notebooks()
    except LessonSourceError as error:
        print(f"lesson_notebooks: {error}", file=sys.stderr)
        return 1
    for path in changed:
        print(f"wrote {path.relative_to(ROOT)}")
    total = len(sources())
    print(
        f"{len(changed)} of {total} notebooks rewritten"
        if changed
        else f"all {total} notebooks match their sources"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
