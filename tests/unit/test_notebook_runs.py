"""Notebooks run with no engine, several at once, each in a kernel, home and TMPDIR of its own."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from stagelab.notebook_runs import NO_ENGINE, NotebookRun, run_notebooks, with_parameters

# Each notebook writes down where it ran, and when, in a file named by its first cell.
REPORT = """
import json, os, pathlib, tempfile, time
started = time.time()
time.sleep(1.5)
pathlib.Path(report).write_text(json.dumps({
    "cwd": os.getcwd(), "tmp": tempfile.gettempdir(), "home": os.environ["STAGELAB_HOME"],
    "docker_host": os.environ["DOCKER_HOST"], "extra": os.environ.get("EXTRA"),
    "record": os.environ.get("STAGELAB_RECORD"), "started": started, "ended": time.time()}))
"""


def _notebook(path: Path, *sources: str, tags: dict[int, list[str]] | None = None) -> Path:
    cells = [nbformat.v4.new_code_cell(source) for source in sources]
    for index, cell_tags in (tags or {}).items():
        cells[index].metadata["tags"] = cell_tags
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def test_notebooks_run_at_once_each_with_its_own_folders_and_no_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("STAGELAB_RECORD", "1")
    runs = []
    for name in ("first", "second"):
        folder = tmp_path / name
        source = _notebook(folder / "lesson.ipynb", f"report = {str(tmp_path / name)!r} + '.json'")
        notebook = nbformat.read(source, as_version=4)
        notebook.cells.append(nbformat.v4.new_code_cell(REPORT))
        nbformat.write(notebook, source)
        runs.append(NotebookRun(source, folder, name))
    before = [run.source.read_text() for run in runs]
    run_notebooks(runs, tmp_path / "work", workers=2, environment={"EXTRA": "yes"})
    reports = {
        name: json.loads((tmp_path / f"{name}.json").read_text()) for name in ("first", "second")
    }
    for name, report in reports.items():
        assert report["cwd"] == str(tmp_path / name)
        assert report["tmp"] == str(tmp_path / "work" / "tmp" / name)
        assert report["home"] == str(tmp_path / "work" / "homes" / name)
        assert report["docker_host"] == NO_ENGINE and report["extra"] == "yes"
        assert report["record"] is None, "a run with no engine never records"
    first, second = reports["first"], reports["second"]
    assert first["started"] < second["ended"] and second["started"] < first["ended"], (
        "two workers run two notebooks at the same time"
    )
    assert [run.source.read_text() for run in runs] == before, "the sources are only read"
    for run in runs:
        assert run.stopped is None and run.errors() == [] and run.leftovers == []
        assert run.notebook.cells[1].execution_count == 2


def test_a_failed_cell_is_reported_and_the_notebook_runs_on(tmp_path):
    source = _notebook(
        tmp_path / "lesson.ipynb",
        "1 / 0",
        "raise KeyError('expected')",
        "open('left-behind.txt', 'w').close()",
        "import tempfile; open(tempfile.gettempdir() + '/kept.txt', 'w').close()",
        tags={1: ["raises-exception"]},
    )
    (run,) = run_notebooks([NotebookRun(source, tmp_path, "lesson")], tmp_path / "work")
    assert run.stopped is None
    assert [(number, error.ename) for number, error in run.errors()] == [(1, "ZeroDivisionError")]
    assert (tmp_path / "left-behind.txt").exists(), "the cells after a failure ran"
    assert run.leftovers == ["kept.txt"]
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        run.raise_for_errors()


def test_a_cell_that_does_not_finish_stops_its_notebook(tmp_path):
    source = _notebook(tmp_path / "slow.ipynb", "import time; time.sleep(60)", "after = 1")
    (run,) = run_notebooks(
        [NotebookRun(source, tmp_path, "slow")], tmp_path / "work", cell_timeout_s=2
    )
    assert run.stopped and "Timeout" in run.stopped
    assert run.notebook.cells[1].execution_count is None
    with pytest.raises(RuntimeError, match=r"slow\.ipynb stopped: .*Timeout"):
        run.raise_for_errors()


def test_a_variant_runs_with_its_parameters_after_the_defaults_and_its_own_name(tmp_path):
    report = tmp_path / "variant.json"
    notebook = _notebook(
        tmp_path / "lesson.ipynb",
        f"builder = 'buildkit'\nreport = {str(report)!r}",
        "import json, os, pathlib\npathlib.Path(report).write_text(json.dumps("
        "{'builder': builder, 'variant': os.environ.get('STAGELAB_VARIANT')}))",
        tags={0: ["parameters"]},
    )
    (run,) = run_notebooks(
        [NotebookRun(notebook, tmp_path, "lesson--0", parameters={"builder": "classic"})],
        tmp_path / "work",
    )
    run.raise_for_errors()
    assert json.loads(report.read_text()) == {
        "builder": "classic",
        "variant": '{"builder": "classic"}',
    }
    assert run.notebook.cells[1].metadata["tags"] == ["injected-parameters"]


def test_parameters_need_a_parameters_cell(tmp_path):
    notebook = nbformat.read(_notebook(tmp_path / "plain.ipynb", "x = 1"), as_version=4)
    assert with_parameters(notebook, {}) is notebook
    with pytest.raises(ValueError, match="parameters"):
        with_parameters(notebook, {"x": 2})
