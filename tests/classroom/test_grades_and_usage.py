"""Grades out (classroom/grades.py) and a learner's use (classroom/usage.py): the pure parts."""

from __future__ import annotations

import csv
import io
import os
from types import SimpleNamespace

import pytest
from classroom_support import attempt

from stagelab.classroom.grades import grade_columns, grades_csv, safe_cell
from stagelab.classroom.usage import cpu_seconds, parse_system_df, size_bytes

LABS = [
    SimpleNamespace(
        number="01",
        slug="01-fix-it",
        criteria=[SimpleNamespace(key=key) for key in ("builds", "small", "runs")],
    ),
    SimpleNamespace(number="02", slug="02-shrink", criteria=[SimpleNamespace(key="exports")]),
]


ATTEMPTS = {
    "learner01": [
        attempt("01", ["small", "runs"], 3),
        attempt("01", ["runs"], 3),  # the best check of lab 01
        attempt("01", ["small", "runs"], 3),
        attempt("02", [], 1),
    ],
    "learner02": [],
}


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_a_row_per_learner_with_points_per_lab_and_criterion_from_the_best_check():
    table = rows(grades_csv(LABS, ATTEMPTS, "csv"))
    assert table[0] == [
        "learner",
        "Lab 01 fix-it (3 points)",
        "01 builds (1 points)",
        "01 small (1 points)",
        "01 runs (1 points)",
        "Lab 02 shrink (1 points)",
        "02 exports (1 points)",
    ]
    assert table[1] == ["learner01", "2", "1", "1", "0", "1", "1"]
    assert table[2] == ["learner02", "0", "0", "0", "0", "0", "0"]


def test_canvas_and_moodle_layouts():
    canvas = rows(grades_csv(LABS, ATTEMPTS, "canvas"))
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert canvas[1] == ["Points Possible", "", "", "", "", "3", "1", "1", "1", "1", "1"]
    assert canvas[2][:5] == ["learner01", "", "", "learner01", ""]
    assert canvas[2][5:] == ["2", "1", "1", "0", "1", "1"]
    moodle = rows(grades_csv(LABS, ATTEMPTS, "moodle"))
    assert moodle[0][0] == "Username" and moodle[1][0] == "learner01"
    assert len(grade_columns(LABS)) == 6
    with pytest.raises(ValueError, match="csv, canvas, moodle"):
        grades_csv(LABS, ATTEMPTS, "xlsx")


def test_no_cell_runs_as_a_formula():
    for hostile in ('=HYPERLINK("x")', "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        assert safe_cell(hostile) == "'" + hostile
    assert safe_cell("learner01") == "learner01" and safe_cell(3) == "3"
    labs = [
        SimpleNamespace(
            number="03", slug="=cmd|' /C calc'!A0", criteria=[SimpleNamespace(key="@x")]
        )
    ]
    text = grades_csv(labs, {"=evil": [attempt("03", [], 1)]}, "csv")
    for cell in [cell for row in rows(text) for cell in row]:
        assert not cell.startswith(("=", "+", "-", "@")), cell


def test_system_df_rows_are_read_with_docker_units():
    output = "\n".join(
        [
            '{"Type":"Images","TotalCount":"3","Active":"1","Size":"1.234GB","Reclaimable":"1GB"}',
            '{"Type":"Containers","TotalCount":"0","Active":"0","Size":"0B","Reclaimable":"0B"}',
            '{"Type":"Local Volumes","TotalCount":"0","Active":"0","Size":"0B","Reclaimable":"0B"}',
            '{"Type":"Build Cache","TotalCount":"12","Size":"56.7MB"}',
            "not json",
        ]
    )
    assert parse_system_df(output) == {
        "images": {"count": 3, "bytes": 1_234_000_000},
        "containers": {"count": 0, "bytes": 0},
        "build_cache": {"count": 12, "bytes": 56_700_000},
    }
    assert size_bytes("12kB") == 12_000 and size_bytes("lots") is None


def test_cpu_time_comes_from_each_process_stat(tmp_path):
    ticks = os.sysconf("SC_CLK_TCK")
    (tmp_path / "7").mkdir()
    # A command name with spaces and a parenthesis, as a learner may choose it.
    fields = ["S", *["0"] * 10, str(3 * ticks), str(ticks), *["0"] * 30]
    (tmp_path / "7" / "stat").write_text("7 (a) b (c) " + " ".join(fields))
    assert cpu_seconds({7, 8}, tmp_path) == 4.0
