"""The labs' files, lookup, hints, solution, reset and progress: no engine needed."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from IPython.core.formatters import DisplayFormatter

import stagelab as sl
from stagelab import engine, labs
from stagelab.cli import main
from stagelab.errors import StagelabError
from stagelab.render.html import inline_markdown, plain_markdown

OFFLINE_IMAGES = {sl.BUSYBOX, sl.DEBIAN, sl.GCC, sl.PYTHON, sl.CROSS_GCC}
ALL_LABS = labs.all_labs()


def test_there_are_at_least_five_labs_numbered_in_order():
    # In order and each number once; a number may be missing while the lab that holds it is
    # written on another branch (06 is issue 18's).
    numbers = [each.number for each in ALL_LABS]
    assert len(numbers) >= 5 and numbers[0] == "01"
    assert numbers == sorted(set(numbers), key=int)


@pytest.mark.parametrize("each", ALL_LABS, ids=lambda each: each.slug)
def test_lab_has_task_starter_solution_checks_and_hints(each):
    assert (each.path / "task.ipynb").is_file()
    starter = each.learner_files(each.starter_path)
    solution = each.learner_files(each.solution_path)
    assert "Dockerfile" in map(str, starter)
    assert starter == solution, "the solution must hold the same files as the starter"
    edited = each.edited_file
    assert edited in map(str, starter), f"the file the learner edits, {edited}, is in starter/"
    assert (each.starter_path / edited).read_text() != (each.solution_path / edited).read_text()
    assert len(each.criteria) >= 4
    assert len(each.checks.HINTS) >= 3
    assert each.title and each.goal


@pytest.mark.parametrize(
    "each",
    [each for each in ALL_LABS if each.edited_file == "Dockerfile"],
    ids=lambda each: each.slug,
)
def test_a_failed_criterion_nudges_and_leaves_the_answer_to_the_last_hint(each):
    """The first check's messages nudge: no criterion's hint holds an instruction of the last
    hint (the answer), as `FROM tools` or `COPY --from=tools`, unless the starter has it."""
    starter = "\n".join(
        (each.starter_path / name).read_text() for name in each.learner_files(each.starter_path)
    )
    spans = re.findall(r"`([^`]+)`", each.checks.HINTS[-1].text)
    answer = {
        " ".join(span.split()[:2])
        for span in spans
        if span.split()[0].isupper() and span not in starter
    }
    assert answer, "the last hint gives the answer's instructions"
    for item in each.criteria:
        given = {words for words in answer if words in item.hint}
        assert not given, f"{item.key}'s hint gives the answer away: {given}"


@pytest.mark.parametrize("each", ALL_LABS, ids=lambda each: each.slug)
@pytest.mark.parametrize("which", ["starter", "solution"])
def test_dockerfiles_work_offline(each, which):
    text = (each.path / which / "Dockerfile").read_text()
    parsed = sl.parse_dockerfile(text)
    assert set(parsed.images()) <= OFFLINE_IMAGES | {"scratch"}
    assert not re.search(r"apt-get|apk add|pip install|curl |wget ", text)


def test_task_notebooks_have_kernelspec_and_no_outputs():
    import nbformat

    for each in ALL_LABS:
        notebook = nbformat.read(each.path / "task.ipynb", as_version=4)
        assert notebook.metadata["kernelspec"] == {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert all(not cell.outputs and cell.execution_count is None for cell in code)
        assert any(f'sl.lab("{each.number}")' in cell.source for cell in code)


@pytest.mark.parametrize("name", ["02", "2", 2, "02-shrink-it", "shrink-it", "SHRINK-IT"])
def test_lab_is_found_by_number_folder_or_topic(name):
    assert sl.lab(name).slug == "02-shrink-it"


def test_unknown_lab_names_the_labs():
    with pytest.raises(StagelabError, match=r"No lab '42'.*01-fix-the-pipeline"):
        sl.lab("42")


def test_missing_labs_folder_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("STAGELAB_LABS", str(tmp_path / "nowhere"))
    with pytest.raises(StagelabError, match="Set STAGELAB_LABS"):
        sl.lab("01")


def test_labs_folder_comes_from_the_environment(labs_copy):
    assert sl.lab("01").path == labs_copy / "01-fix-the-pipeline"


def test_hints_go_from_a_question_to_the_lesson_to_the_answer_then_the_solution():
    each = sl.lab("01")
    shown = [repr(each.hint()) for _ in range(len(each.checks.HINTS) + 1)]
    assert shown[0].startswith("Hint 1 of 3 (a question to ask yourself): ")
    assert shown[1].startswith("Hint 2 of 3 (where a lesson shows it): lesson 03 ")
    assert "notebooks/03_stages_do_not_inherit.ipynb" in shown[1]
    assert "the section “The fix: `FROM <stage>`”" in shown[1]
    assert shown[2].startswith("Hint 3 of 3 (the answer): ")
    assert "FROM tools AS release" in shown[2]
    assert "lab.solution()" in shown[-1]
    assert "<strong>" in each.hint()._repr_html_()


def test_solution_shows_its_files_and_the_difference():
    shown = repr(sl.lab("02").solution())
    assert "--- hello.c" in shown and "COPY --from=build" in shown
    assert "+++ solution/Dockerfile" in shown or "same as the solution" in shown


def test_reset_backs_up_the_learners_files_then_restores_the_starter(labs_copy):
    each = sl.lab("02")
    (each.path / "Dockerfile").write_text("FROM busybox:1.36\n# my attempt\n")
    (each.path / "notes.txt").write_text("my notes\n")
    backup = each.reset()
    assert backup.parent == each.path / ".backups"
    assert (backup / "Dockerfile").read_text() == "FROM busybox:1.36\n# my attempt\n"
    assert (backup / "notes.txt").read_text() == "my notes\n"
    assert (each.path / "Dockerfile").read_text() == (each.starter_path / "Dockerfile").read_text()
    assert not (each.path / "notes.txt").exists()
    assert (each.path / "checks.py").exists() and (each.path / "solution" / "Dockerfile").exists()
    second = each.reset()
    assert second != backup and (second / "Dockerfile").exists()
    # A notebook shows the message reset() printed, and no PosixPath(...) after it.
    assert DisplayFormatter().format(second) == ({}, {})


def test_learner_files_leave_out_the_lab_machinery(labs_copy):
    each = sl.lab("03")
    (each.path / "__pycache__").mkdir()
    (each.path / "__pycache__" / "x.pyc").write_text("")
    assert sorted(map(str, each.learner_files())) == [
        "Dockerfile",
        "greet.py",
        "tests/test_greet.py",
    ]


def test_progress_counts_attempts_per_lab(progress_home):
    progress_home.mkdir()
    lines = [
        {"lab": "01", "time": "2026-11-27T18:00:00+00:00", "passed": 1, "total": 4},
        {"lab": "01", "time": "2026-11-27T18:05:00+00:00", "passed": 4, "total": 4},
        {"lab": "02", "time": "2026-11-27T18:10:00+00:00", "passed": 2, "total": 5},
    ]
    (progress_home / "progress.jsonl").write_text(
        "".join(json.dumps(line) + "\n" for line in lines) + "not json\n"
    )
    rows = {row["lab"][:2]: row for row in labs.progress_by_lab()}
    assert rows["01"]["status"] == "passed" and rows["01"]["attempts"] == 2
    assert rows["01"]["last_attempt"] == "2026-11-27T18:05:00+00:00"
    assert rows["02"]["status"] == "attempted" and rows["02"]["last_score"] == "2/5"
    assert rows["03"]["status"] == "not started" and rows["03"]["attempts"] == 0
    table = labs.progress_table()
    assert "01-fix-the-pipeline" in table and "not started" in table


def test_without_an_engine_check_says_so_and_records_nothing(monkeypatch, progress_home):
    monkeypatch.setattr(engine, "ping", lambda: None)
    report = sl.lab("02").check()
    assert not report.passed
    assert "need a Docker engine" in repr(report)
    assert "recorded build of the solution" in repr(
        report
    ) or "No recording of the solution's build exists" in repr(report)
    assert "not checked" in report._repr_html_()
    assert not labs.progress_file().exists()


def test_task_notebooks_are_what_the_template_makes():
    for each in ALL_LABS:
        assert (each.path / "task.ipynb").read_text() == labs.task_notebook(each), (
            f"{each.slug}/task.ipynb differs from labs/task_template.ipynb plus its task.md: "
            "run `stagelab lab tasks`"
        )


def test_working_files_are_made_from_the_starter_on_first_use(labs_copy):
    folder = labs_copy / "02-shrink-it"
    assert not (folder / "Dockerfile").exists(), "working files are not committed"
    each = sl.lab("02")
    assert (folder / "Dockerfile").read_text() == (each.starter_path / "Dockerfile").read_text()
    (folder / "Dockerfile").write_text("FROM busybox:1.36\n# mine\n")
    sl.lab("02")
    assert (folder / "Dockerfile").read_text() == "FROM busybox:1.36\n# mine\n", (
        "a learner's own files are never overwritten"
    )


def test_reset_is_all_or_nothing_and_says_where_things_are(labs_copy):
    """A file that cannot be moved (a read-only mount in the lab folder) stops the reset with
    nothing changed: the learner's files stay where they were."""
    each = sl.lab("02")
    (each.path / "Dockerfile").write_text("FROM busybox:1.36\n# my attempt\n")
    (each.path / "notes.txt").write_text("my notes\n")
    stuck = each.path / "zz-stuck"
    stuck.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(stuck)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip("this machine does not let the test mount a read-only folder")
    try:
        with pytest.raises(StagelabError, match="Nothing was changed") as caught:
            each.reset()
        assert "zz-stuck" in str(caught.value)
        assert (each.path / "Dockerfile").read_text() == "FROM busybox:1.36\n# my attempt\n"
        assert (each.path / "notes.txt").read_text() == "my notes\n"
    finally:
        subprocess.run(["umount", str(stuck)], check=True)
    backup = each.reset()
    assert (backup / "notes.txt").read_text() == "my notes\n"


def test_a_folder_without_the_labs_dockerfile_is_refused_once_and_not_recorded(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("STAGELAB_HOME", str(tmp_path / "home"))
    (tmp_path / "notes.txt").write_text("not a lab\n")
    with pytest.raises(StagelabError, match=f"No Dockerfile in {tmp_path}: give --dir"):
        sl.lab("01").check(tmp_path)
    assert main(["lab", "check", "01", "--dir", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "No Dockerfile in" in err
    assert not (tmp_path / "home" / "progress.jsonl").exists()


def test_hints_show_emphasis_as_emphasis_not_asterisks():
    hint = next(c.hint for c in sl.lab("01").criteria if "*not found*" in c.hint)
    assert "<em>not found</em>" in inline_markdown(hint) and "*" not in inline_markdown(hint)
    assert "means not found:" in plain_markdown(hint)
    # A glob is no emphasis, and a code span keeps its text as written.
    assert inline_markdown("COPY *.txt /app/* `*x*`") == "COPY *.txt /app/* <code>*x*</code>"
    assert plain_markdown("RUN ls /a/* `*x*`") == "RUN ls /a/* `*x*`"
