"""Each lab's task notebook runs top to bottom on the real engine and shows a check report."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from stagelab import labs

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("each", labs.all_labs(), ids=lambda each: each.slug)
def test_task_notebook_runs_and_shows_the_report(docker_engine, labs_copy, each):
    folder = labs_copy / each.slug
    notebook = nbformat.read(folder / "task.ipynb", as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    assert not [output for output in outputs if output.output_type == "error"]
    shown = "\n".join(output.get("data", {}).get("text/html", "") for output in outputs)
    assert f"Lab {each.slug}: " in shown and "criteria pass" in shown
    assert "Hint 1 of " in shown
    assert len(labs.attempts()) == 1
