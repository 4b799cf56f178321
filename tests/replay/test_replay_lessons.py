"""With no Docker engine (Binder), every lesson still runs: its builds replay real recordings.

The lessons ran once for the whole session with no engine (the `replayed_course` fixture, in
tests/conftest.py); these tests read those runs. A lesson passes as `pytest --nbval-lax` would
pass it with no engine: it ran to the end and no cell raised unless tagged `raises-exception`.
"""

import re
from pathlib import Path

import pytest

from stagelab import site

pytestmark = pytest.mark.lessons

ROOT = Path(__file__).resolve().parents[2]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
VARIANTS = site.lesson_variants(ROOT)
BANNER = "Replayed from a real build on Docker Engine"
NOT_RECORDED = "There is no recording of"
BUILD_CALL = re.compile(r"\bsl\.build\(|^%%dockerfile", re.MULTILINE)
RE_RECORD = (
    "Run `make recordings` on a machine with Docker (it re-records every build of the "
    "lessons and lab solutions) and commit src/stagelab/recordings/."
)


def _cell_text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.extend(str(value) for value in output.get("data", {}).values())
        if output.get("output_type") == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
    return "\n".join(parts)


def _problems(run) -> list[str]:
    problems = []
    errors = {}
    for number, error in run.errors():
        errors.setdefault(number, error)
    for number, cell in enumerate(run.notebook.cells, start=1):
        if cell.cell_type != "code":
            continue
        text = _cell_text(cell)
        where = f"cell {number} ({cell.source.splitlines()[0][:60] if cell.source else ''})"
        if NOT_RECORDED in text:
            nearest = re.search(r"The nearest recording differs in [^\n]*", text)
            problems.append(
                f"{where}: a build or run has no recording, or a stale one"
                + (f" ({nearest[0]})" if nearest else "")
            )
        elif number in errors:
            error = errors[number]
            problems.append(f"{where}: {error['ename']}: {error['evalue'][:300]}")
        # A Dockerfile that does not parse, or an option stagelab refuses (the classic builder's
        # output=), stops the build before any engine (or replay).
        static_error = "DockerfileError" in cell.source + text or (
            "except sl.StagelabError" in cell.source and "StagelabError" not in text
        )
        accounted_for = BANNER in text or NOT_RECORDED in text or static_error
        if BUILD_CALL.search(cell.source) and not accounted_for:
            problems.append(f"{where}: builds, but shows no replay banner")
    return problems


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_every_build_of_the_lesson_replays_under_a_banner(replayed_course, lesson):
    run = replayed_course[lesson]
    # What makes nbval fail a notebook besides a failed cell: a timeout, a dead kernel.
    assert run.stopped is None, f"{lesson.name} with no engine stopped: {run.stopped}"
    problems = _problems(run)
    assert not problems, (
        f"{lesson.name} with no engine:\n  "
        + "\n  ".join(problems)
        + (f"\n{RE_RECORD}" if any("recording" in p for p in problems) else "")
    )
    # A lesson cleans up after itself: its temporary folders are gone when its kernel stops.
    assert not run.leftovers, f"{lesson.name} left {run.leftovers} in the temporary folder"


@pytest.mark.parametrize(
    "number", range(len(VARIANTS)), ids=[f"{path.stem}-{values}" for path, values in VARIANTS]
)
def test_every_parameter_value_a_lesson_invites_replays(replayed_variants, number):
    run = replayed_variants[number]
    assert (run.source, run.parameters) == VARIANTS[number]
    assert run.stopped is None, f"{run.name} with no engine stopped: {run.stopped}"
    problems = _problems(run)
    assert not problems, (
        f"{run.source.name} with {run.parameters}, no engine:\n  "
        + "\n  ".join(problems)
        + (f"\n{RE_RECORD}" if any("recording" in p for p in problems) else "")
    )
    assert not run.leftovers, f"{run.name} left {run.leftovers} in the temporary folder"
