"""The lessons are written as text (lessons/NN_topic.md) and notebooks/ holds what they make."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import lesson_notebooks
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = """\
---
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# 07 · A lesson

Prose, with a [link](../labs/README.md).

```{code-cell}
:tags: [parameters]

builder = "buildkit"
```

+++ {"slideshow": {"slide_type": "slide"}}

## A claim

```{code-cell}
:tags: [outcome, raises-exception]

print("{}")
```

```{code-cell}
%%dockerfile --name again
FROM busybox:1.36 AS base
```
"""


def test_every_committed_notebook_is_what_its_source_makes():
    found = lesson_notebooks.differences()
    assert not found, "\n".join(found + [lesson_notebooks.REGENERATE])


def test_every_lesson_has_a_source():
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert notebooks == [p.stem for p in lesson_notebooks.sources()]


@pytest.fixture
def course(tmp_path):
    """A checkout with one lesson source and an empty notebooks/ folder."""
    (tmp_path / "lessons").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "lessons" / "07_a_lesson.md").write_text(SOURCE)
    (tmp_path / "lessons" / "README.md").write_text("The sources of notebooks/.\n")
    return tmp_path


def test_the_notebook_keeps_tags_cell_metadata_magics_and_the_kernelspec(course):
    (written,) = lesson_notebooks.write_notebooks(course)
    assert written == course / "notebooks" / "07_a_lesson.ipynb"
    notebook = nbformat.read(written, as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4 and notebook.nbformat_minor == 5
    assert notebook.metadata == lesson_notebooks.METADATA
    assert [cell.id for cell in notebook.cells] == [f"07-{i:02d}" for i in range(5)]
    assert [cell.cell_type for cell in notebook.cells] == ["markdown", "code", "markdown"] + [
        "code"
    ] * 2
    tags = [cell.metadata.get("tags") for cell in notebook.cells]
    assert tags == [None, ["parameters"], None, ["outcome", "raises-exception"], None]
    assert notebook.cells[2].metadata == {"slideshow": {"slide_type": "slide"}}
    assert notebook.cells[4].source == "%%dockerfile --name again\nFROM busybox:1.36 AS base"
    assert notebook.cells[0].source.endswith("Prose, with a [link](../labs/README.md).")
    # Committed without outputs: nothing has run.
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)


def test_generation_is_deterministic_and_in_nbformats_layout(course):
    source = course / "lessons" / "07_a_lesson.md"
    text = lesson_notebooks.notebook_text(source)
    assert text == lesson_notebooks.notebook_text(source)
    assert text == json.dumps(json.loads(text), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    lesson_notebooks.write_notebooks(course)
    assert lesson_notebooks.write_notebooks(course) == []
    assert lesson_notebooks.differences(course) == []


def test_a_notebook_edited_by_hand_or_left_without_a_source_is_found(course):
    lesson_notebooks.write_notebooks(course)
    notebook = course / "notebooks" / "07_a_lesson.ipynb"
    notebook.write_text(notebook.read_text().replace('builder = \\"buildkit\\"', "builder = 1"))
    shutil.copy(notebook, course / "notebooks" / "08_orphan.ipynb")
    assert lesson_notebooks.differences(course) == [
        "notebooks/07_a_lesson.ipynb differs from lessons/07_a_lesson.md "
        """(first at cell 2, id 07-01: 'builder = "buildkit"')""",
        "notebooks/08_orphan.ipynb has no source lessons/08_orphan.md",
    ]
    (course / "lessons" / "09_new.md").write_text(SOURCE)
    assert "notebooks/09_new.ipynb is missing (its source is lessons/09_new.md)" in (
        lesson_notebooks.differences(course)
    )


def test_a_misnamed_or_empty_source_is_refused_with_what_to_do(course):
    (course / "lessons" / "Lesson 8.md").write_text(SOURCE)
    with pytest.raises(lesson_notebooks.LessonSourceError, match=r"Lesson 8\.md: .*NN_topic\.md"):
        lesson_notebooks.sources(course)
    (course / "lessons" / "Lesson 8.md").unlink()
    (course / "lessons" / "08_empty.md").write_text("")
    with pytest.raises(lesson_notebooks.LessonSourceError, match=r"08_empty\.md: no cells"):
        lesson_notebooks.write_notebooks(course)


def test_the_command_says_how_it_is_used(capsys):
    assert lesson_notebooks.main(["--write"]) == 2
    assert "usage:" in capsys.readouterr().err


CELL_POINTER = re.compile(r"\bcells? (\d\d-\d\d)((?:(?:, | and )\d\d-\d\d)*)")


def test_a_cell_a_lesson_points_back_to_is_a_check():
    """Prose that sends the reader to "cell 02-09" names a code cell that checks a claim."""
    cells = {}
    for notebook in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        for cell in json.loads(notebook.read_text())["cells"]:
            cells[cell["id"]] = "".join(cell["source"]) if cell["cell_type"] == "code" else ""
    pointed = set()
    for source in lesson_notebooks.sources():
        for first, more in CELL_POINTER.findall(source.read_text()):
            pointed |= {first, *re.findall(r"\d\d-\d\d", more)}
    assert pointed, "no lesson points back to a cell"
    wrong = sorted(cell_id for cell_id in pointed if "sl.claim(" not in cells.get(cell_id, ""))
    assert not wrong, f"these cells are pointed to but check no claim: {wrong}"
