"""Grades out of the class: one row per learner, a column per lab (points) and per criterion,
as CSV in three layouts: plain, Canvas's gradebook import and Moodle's grade import.

A lab's points are the criteria passed in the learner's best check of it (the most criteria
passed; the latest of equals); each criterion's column is 1 when that check passed it, else 0,
so a lab's points are the sum of its criteria's columns. Attempts come from each learner's
progress record (labs/attempts.parse_record), read as the learner.

Layouts (what each gradebook's import reads):
- Canvas: the Gradebook's CSV import reads the layout its export writes: columns Student, ID,
  SIS User ID, SIS Login ID, Section, then one column per assignment (a new name makes a new
  assignment), and a second row "Points Possible" holding each assignment's maximum
  (Instructure's guide "How do I import grades in the Gradebook?"; the Ohio State University's
  guide to it, https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/
  calculating-final-grades/import-csv-file-carmen-grades: one of Student name, Student ID or
  SIS User ID identifies the student; SIS Login ID and Section are required columns). The
  learner's account name goes to Student and SIS Login ID; ID and SIS User ID stay empty
  (Canvas's own numbers, unknown here): the instructor matches accounts to students.
- Moodle: Grades > Import > CSV file maps one column to a user field (username, email,
  ID number) and each other column to a grade item, new or existing
  (https://docs.moodle.org/405/en/Grade_import, "Grade Mapping"): a Username column, then
  the grade columns, each grade's maximum in its name.
- csv: learner, then the same grade columns.

No cell can run as a formula in a spreadsheet: a cell that starts with =, +, -, @ (or a tab or
carriage return) gets a leading apostrophe (OWASP, "CSV Injection").
"""

from __future__ import annotations

import csv
import io

GRADE_LAYOUTS = ("csv", "canvas", "moodle")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def best_checks(attempts: list[dict]) -> dict[str, dict]:
    """Return each lab's best check among `attempts` (oldest first): the most criteria passed,
    the latest of equals."""
    best: dict[str, dict] = {}
    for attempt in attempts:
        known = best.get(attempt["lab"])
        if known is None or attempt["passed"] >= known["passed"]:
            best[attempt["lab"]] = attempt
    return best


def grade_columns(labs: list) -> list[tuple[str, int]]:
    """Return the grade columns' names with their maximum points: per lab ("Lab 01
    fix-the-pipeline"), then each of its criteria ("01 builds")."""
    columns = []
    for lab in labs:
        columns.append((f"Lab {lab.slug.replace('-', ' ', 1)}", len(lab.criteria)))
        columns += [(f"{lab.number} {criterion.key}", 1) for criterion in lab.criteria]
    return columns


def grade_row(labs: list, attempts: list[dict]) -> list[int]:
    """Return one learner's points in grade_columns() order, from their attempts."""
    best = best_checks(attempts)
    row = []
    for lab in labs:
        check = best.get(lab.number)
        failed = check.get("failed") if check else None
        failed = set(failed) if isinstance(failed, list) else set()
        passed = [int(check is not None and one.key not in failed) for one in lab.criteria]
        row += [sum(passed), *passed]
    return row


def safe_cell(value: object) -> str:
    """Return `value` as a CSV cell no spreadsheet runs as a formula (FORMULA_STARTS)."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def grades_csv(labs: list, attempts_by_learner: dict[str, list[dict]], layout: str) -> str:
    """Return the class's grades as CSV text in `layout` (GRADE_LAYOUTS): a row per learner of
    `attempts_by_learner` (name: attempts, oldest first), for the stagelab Lab objects `labs`.

    Raises ValueError for a layout not in GRADE_LAYOUTS."""
    if layout not in GRADE_LAYOUTS:
        raise ValueError(f"grades come as {', '.join(GRADE_LAYOUTS)}, not {layout!r}")
    columns = grade_columns(labs)
    names = [f"{name} ({points} points)" for name, points in columns]
    if layout == "canvas":
        lead = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
        rows = [lead + names, ["Points Possible", "", "", "", ""] + [p for _, p in columns]]
        rows += [
            [name, "", "", name, ""] + grade_row(labs, attempts)
            for name, attempts in attempts_by_learner.items()
        ]
    else:
        lead = ["Username" if layout == "moodle" else "learner"]
        rows = [lead + names]
        rows += [[name] + grade_row(labs, a) for name, a in attempts_by_learner.items()]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()
