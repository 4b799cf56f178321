"""The lessons keep to STYLE_GUIDE.md's rules on evidence and views (no engine needed)."""

import json
import re
from pathlib import Path

import pytest

LESSONS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BUILT = re.compile(r"^(\w+) = sl\.build\(", re.MULTILINE)


def code_cells(lesson: Path) -> list[str]:
    cells = json.loads(lesson.read_text())["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_claims_are_shown_as_evidence_not_checked_by_bare_asserts(lesson):
    bare = [
        line.strip()
        for source in code_cells(lesson)
        for line in source.splitlines()
        if line.lstrip().startswith("assert ")
    ]
    assert not bare, f"use sl.claim(...) so the reader sees the check: {bare}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_a_build_is_shown_once(lesson):
    for source in code_cells(lesson):
        last = source.strip().splitlines()[-1].strip() if source.strip() else ""
        assert last not in BUILT.findall(source), f"the cell shows `{last}` twice:\n{source}"
        assert "print(failure)" not in source, "its board already shows the failure"
