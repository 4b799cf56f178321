"""Lessons take parameters: run lesson 04 through papermill with other ones and read the outcome."""

import json
from pathlib import Path

import nbformat
import papermill
import pytest

LESSON = Path(__file__).resolve().parents[2] / "notebooks" / "04_choosing_what_to_build.ipynb"
# What the variants check is what the chosen build ran. The lesson's timing experiment still
# runs and checks its claims, with shorter sleeps than the lesson's 4 s: that keeps them cheap.
SHORT_SLEEPS = {"slow_seconds": 2}


def _outcome(notebook_path: Path) -> dict:
    """Return the JSON line printed by the lesson's cell tagged `outcome`."""
    notebook = nbformat.read(notebook_path, as_version=4)
    (cell,) = [c for c in notebook.cells if "outcome" in c.metadata.get("tags", [])]
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
    return json.loads(text.strip().splitlines()[-1])


@pytest.mark.engine
@pytest.mark.parametrize(
    "parameters, ran, skipped",
    [
        # The classic builder runs every stage above the target: the test stage is not skipped.
        ({"builder": "classic"}, ["build", "test", "release"], []),
        # BuildKit with the build stage as target runs that stage alone.
        ({"target": "build"}, ["build"], ["test", "release"]),
    ],
    ids=["classic-builder", "target-build"],
)
def test_lesson_04_follows_its_parameters(docker_engine, tmp_path, parameters, ran, skipped):
    executed = tmp_path / LESSON.name
    papermill.execute_notebook(
        str(LESSON),
        str(executed),
        parameters={**SHORT_SLEEPS, **parameters},
        kernel_name="python3",
        cwd=str(LESSON.parent),
        progress_bar=False,
    )
    outcome = _outcome(executed)
    assert outcome["builder"] == parameters.get("builder", "buildkit")
    assert outcome["target"] == parameters.get("target", "release")
    assert outcome["ran"] == ran
    assert outcome["skipped"] == skipped


def test_the_default_parameters_are_the_lesson_as_written():
    notebook = nbformat.read(LESSON, as_version=4)
    (cell,) = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    defaults = {}
    exec(cell.source, {}, defaults)
    assert defaults["builder"] == "buildkit" and defaults["target"] == "release"
