"""binder/ installs a working stagelab on mybinder.org, where no Docker engine exists."""

import functools
import operator
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"
FIRST_LESSON = ROOT / "notebooks" / "01_start_here.ipynb"
BANNER = "Replayed from a real build on Docker Engine"


def _pins(lines) -> dict[str, str]:
    pairs = (re.fullmatch(r"\s*([A-Za-z0-9_.-]+)==(\S+)\s*", line) for line in lines)
    return {match[1].lower(): match[2] for match in pairs if match}


def test_binder_pins_the_same_versions_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _pins(project["dependencies"])
    extras = functools.reduce(operator.iadd, project["optional-dependencies"].values(), [])
    every = {**runtime, **_pins(extras)}
    lines = [
        line
        for line in (BINDER / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    binder = _pins(lines)
    assert len(binder) == len(lines), "every line of binder/requirements.txt pins with =="
    assert runtime.items() <= binder.items(), "binder/requirements.txt lacks a runtime pin"
    assert binder.items() <= every.items(), "binder/requirements.txt pins what pyproject does not"
    assert "graphviz" in (BINDER / "apt.txt").read_text().split()


def _run(command, timeout, **kwargs):
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, **kwargs, check=False
    )
    assert done.returncode == 0, (
        f"{' '.join(map(str, command))}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    )
    return done


@pytest.mark.lessons
def test_a_fresh_binder_environment_runs_the_first_lesson_with_no_engine(tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], 120)
    env = {
        **os.environ,
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": str(venv),
        "DOCKER_HOST": "unix:///nonexistent.sock",
    }
    for name in ("PYTHONPATH", "STAGELAB_RECORD", "STAGELAB_RECORDINGS"):
        env.pop(name, None)
    # What repo2docker does: install binder/requirements.txt, then run binder/postBuild.
    _run(
        [
            "python",
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
            str(BINDER / "requirements.txt"),
        ],
        1500,
        env=env,
    )
    _run([str(BINDER / "postBuild")], 600, env=env, cwd=tmp_path)
    found = _run(
        ["python", "-c", "import stagelab, sys; print(stagelab.__file__, sys.prefix)"],
        60,
        env=env,
        cwd=tmp_path,
    ).stdout.split()
    assert found == [str(ROOT / "src" / "stagelab" / "__init__.py"), str(venv)]
    # The project's JupyterLab settings (no news pop-up) are where JupyterLab reads overrides.
    overrides = venv / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert overrides.read_text() == (ROOT / "jupyter" / "settings" / "overrides.json").read_text()
    # As a learner there runs it: Binder has stagelab's runtime dependencies, no test tools.
    executed = tmp_path / "01_executed.ipynb"
    _run(
        [
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            str(FIRST_LESSON),
            "--output",
            str(executed),
        ],
        900,
        env=env,
        cwd=tmp_path,
    )
    outputs = [
        output
        for cell in nbformat.read(executed, as_version=4).cells
        for output in cell.get("outputs", [])
    ]
    shown = "\n".join(
        str(output.get("text", "")) + str(output.get("data", "")) for output in outputs
    )
    assert BANNER in shown
