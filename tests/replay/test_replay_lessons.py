"""With no Docker engine (Binder), every lesson still runs: its builds replay real recordings."""

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.lessons

ROOT = Path(__file__).resolve().parents[2]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NO_ENGINE = "unix:///nonexistent.sock"
BANNER = "Replayed from a real build on Docker Engine"
NOT_RECORDED = "There is no recording of"
BUILD_CALL = re.compile(r"\bsl\.build\(|^%%dockerfile", re.MULTILINE)
RE_RECORD = (
    "Run `make recordings` on a machine with Docker (it re-records every build of the "
    "lessons and lab solutions) and commit src/stagelab/recordings/."
)


def _no_engine_environment() -> dict:
    env = {**os.environ, "DOCKER_HOST": NO_ENGINE}
    for name in ("STAGELAB_RECORD", "STAGELAB_RECORDINGS"):
        env.pop(name, None)
    return env


def test_the_lessons_pass_under_nbval_with_no_engine():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "notebooks/",
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=ROOT,
        env=_no_engine_environment(),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        advice = (
            f"Some builds or runs in the lessons have no recording (missing or stale). "
            f"{RE_RECORD}\n"
            if NOT_RECORDED in done.stdout
            else ""
        )
        pytest.fail(
            f"{advice}The lessons fail with no engine (DOCKER_HOST={NO_ENGINE}):\n"
            + done.stdout[-6000:],
            pytrace=False,
        )


def _cell_text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.extend(str(value) for value in output.get("data", {}).values())
        if output.get("output_type") == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
    return "\n".join(parts)


def _problems(notebook) -> list[str]:
    problems = []
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code":
            continue
        text = _cell_text(cell)
        where = f"cell {number} ({cell.source.splitlines()[0][:60] if cell.source else ''})"
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        if NOT_RECORDED in text:
            nearest = re.search(r"The nearest recording differs in [^\n]*", text)
            problems.append(
                f"{where}: a build or run has no recording, or a stale one"
                + (f" ({nearest[0]})" if nearest else "")
            )
        elif errors and "raises-exception" not in cell.metadata.get("tags", []):
            problems.append(f"{where}: {errors[0]['ename']}: {errors[0]['evalue'][:300]}")
        # A Dockerfile that does not parse stops the build before any engine (or replay).
        static_error = "DockerfileError" in cell.source + text
        accounted_for = BANNER in text or NOT_RECORDED in text or static_error
        if BUILD_CALL.search(cell.source) and not accounted_for:
            problems.append(f"{where}: builds, but shows no replay banner")
    return problems


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_every_build_of_the_lesson_replays_under_a_banner(lesson, tmp_path):
    notebook = nbformat.read(lesson, as_version=4)
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(lesson.parent)}},
    ).execute(env={**_no_engine_environment(), "TMPDIR": str(tmp_path)})
    problems = _problems(notebook)
    assert not problems, (
        f"{lesson.name} with no engine:\n  "
        + "\n  ".join(problems)
        + (f"\n{RE_RECORD}" if any("recording" in p for p in problems) else "")
    )
    # A lesson cleans up after itself: its temporary folders are gone when its kernel stops.
    left = sorted(path.name for path in tmp_path.iterdir())
    assert not left, f"{lesson.name} left {left} in the temporary folder"
