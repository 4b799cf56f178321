"""`stagelab why [FOLDER] [--stage]`: the last build of a folder, read from stagelab's ledger
with no engine; bad input gets a short message, never a traceback."""

from __future__ import annotations

from stagelab.cli import main
from stagelab.course import Course
from stagelab.why import Reason, StageWhy, StepWhy, Why
from stagelab.why.ledger import Ledger


def _explained() -> Why:
    step = StepWhy(
        "release",
        7,
        "COPY f.txt /f",
        "built",
        "built",
        Reason("context-files", "built: f.txt changed", "x"),
    )
    stages = {
        "build": StageWhy("build", "cached", "needed", "needed by the target release"),
        "release": StageWhy("release", "built", "target", "the target", [step]),
    }
    return Why("buildkit", "release", stages)


def test_stagelab_why_prints_the_last_build_of_a_folder(tmp_path, capsys):
    Ledger(Course.find().state, "e", "buildkit").remember_build(
        str(tmp_path.resolve()), _explained().to_json()
    )
    assert main(["why", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"The last build of {tmp_path.resolve()}" in out
    assert "line 7" in out and "f.txt changed" in out and "stage build (cached)" in out
    assert main(["why", str(tmp_path), "--stage", "release"]) == 0
    assert "stage build" not in capsys.readouterr().out


def test_stagelab_why_says_what_to_do_when_it_cannot_answer(tmp_path, capsys):
    assert main(["why", str(tmp_path / "missing")]) == 1
    assert "No folder" in capsys.readouterr().err
    assert main(["why", str(tmp_path)]) == 1
    said = capsys.readouterr().err
    assert said.startswith(f"stagelab: No build of {tmp_path.resolve()} on record: build it first")
    Ledger(Course.find().state, "e", "buildkit").remember_build(
        str(tmp_path.resolve()), _explained().to_json()
    )
    assert main(["why", str(tmp_path), "--stage", "nope"]) == 1
    assert "its stages: build, release" in capsys.readouterr().err
