"""What the instructor's dashboard reads of a learner's lab (classroom/as_learner.lab_report,
run as the learner): files with their difference from the starter, the criteria, the last
checks; and the hint lines a learner's `lab.hint()` adds to the progress record."""

from __future__ import annotations

import json

from stagelab import labs
from stagelab.classroom.as_learner import lab_report
from stagelab.labs.attempts import parse_record, progress_file


def test_the_report_shows_each_file_and_its_difference_from_the_starter():
    lab = labs.lab("01")
    lab.ensure_working_files()
    dockerfile = lab.path / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN echo '<script>x</script>'\n")
    (lab.path / "notes.txt").write_text("mine\n")
    (lab.path / "binary.bin").write_bytes(b"\xff\xfe\x00")
    report = lab_report("01")
    files = {one["path"]: one for one in report["files"]}
    assert files["Dockerfile"]["diff"].splitlines()[:2] == [
        "--- starter/Dockerfile",
        "+++ yours/Dockerfile",
    ]
    assert "+RUN echo '<script>x</script>'" in files["Dockerfile"]["diff"]
    assert files["notes.txt"]["diff"].startswith("--- /dev/null")
    assert files["binary.bin"]["text"] is None and files["binary.bin"]["diff"] is None
    assert [one["key"] for one in report["criteria"]] == [one.key for one in lab.criteria]
    # A starter file the learner deleted is named.
    dockerfile.unlink()
    assert lab_report("01")["starter_only"] == ["Dockerfile"]


def test_an_unchanged_file_has_an_empty_difference():
    labs.lab("02").ensure_working_files()
    report = lab_report("02")
    assert report["files"] and all(one["diff"] == "" for one in report["files"])
    assert report["starter_only"] == [] and report["attempts"] == []


def test_each_hint_taken_is_recorded_for_the_dashboard():
    lab = labs.lab("03")
    lab.hint()
    lab.hint()
    attempts, hints, skipped = parse_record(progress_file().read_bytes())
    assert (attempts, skipped) == ([], 0)
    assert [(one["lab"], one["hint"]) for one in hints] == [("03", 1), ("03", 2)]
    assert all(json.loads(line)["time"] for line in progress_file().read_text().splitlines())
