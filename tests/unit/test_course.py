"""The course object: where the course folder, the labs, the user's stagelab state and the
recordings are found, read when asked (never at import), for a checkout and an installed copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from stagelab import course as course_module
from stagelab import labs
from stagelab.course import Course, is_course_folder, package_checkout
from stagelab.errors import StagelabError

ROOT = Path(__file__).resolve().parents[2]


def _course_copy(folder: Path) -> Path:
    (folder / "notebooks").mkdir(parents=True)
    (folder / "labs").mkdir()
    return folder


def test_this_checkout_is_the_package_checkout():
    assert package_checkout() == ROOT
    assert is_course_folder(ROOT)


def test_an_installed_copy_has_no_checkout_and_a_source_tree_has_one(tmp_path, monkeypatch):
    installed = tmp_path / "venv/lib/python3.11/site-packages/stagelab"
    installed.mkdir(parents=True)
    monkeypatch.setattr(course_module, "PACKAGE", installed)
    assert package_checkout() is None
    source = tmp_path / "checkout" / "src" / "stagelab"
    source.mkdir(parents=True)
    monkeypatch.setattr(course_module, "PACKAGE", source)
    assert package_checkout() is None  # no pyproject.toml: not a checkout
    (tmp_path / "checkout" / "pyproject.toml").write_text("[project]\nname = 'stagelab'\n")
    assert package_checkout() == tmp_path / "checkout"


def test_a_named_course_folder_wins(tmp_path):
    named = _course_copy(tmp_path / "named")
    found = Course.find(named, environ={}, cwd=_course_copy(tmp_path / "other"))
    assert found.root == named and found.labs == named / "labs"
    assert found.notebooks == named / "notebooks"


def test_the_working_folder_or_one_above_it_holds_the_course(tmp_path):
    home = _course_copy(tmp_path / "home" / "learner01")
    lab = home / "labs" / "01-fix-the-pipeline"
    lab.mkdir()
    assert Course.find(environ={}, cwd=lab).root == home
    assert Course.find(environ={}, cwd=home / "notebooks").root == home


def test_outside_a_course_the_package_checkout_is_the_course(tmp_path):
    assert Course.find(environ={"HOME": str(tmp_path)}, cwd=tmp_path).root == ROOT


def test_an_installed_copy_finds_the_course_in_the_users_home(tmp_path, monkeypatch):
    monkeypatch.setattr(course_module, "package_checkout", lambda: None)
    home = _course_copy(tmp_path / "jovyan")
    elsewhere = tmp_path / "tmp"
    elsewhere.mkdir()
    assert Course.find(environ={"HOME": str(home)}, cwd=elsewhere).root == home
    nowhere = Course.find(environ={"HOME": str(elsewhere)}, cwd=elsewhere)
    with pytest.raises(StagelabError, match="notebooks/ and labs/"):
        _ = nowhere.root
    with pytest.raises(StagelabError, match="Set STAGELAB_LABS"):
        _ = nowhere.labs


def test_stagelab_labs_points_at_another_labs_folder(tmp_path):
    other = tmp_path / "labs-copy"
    other.mkdir()
    found = Course.find(environ={"STAGELAB_LABS": str(other)}, cwd=tmp_path)
    assert found.labs == other
    missing = Course.find(environ={"STAGELAB_LABS": str(tmp_path / "nowhere")}, cwd=tmp_path)
    with pytest.raises(StagelabError, match=r"STAGELAB_LABS points to .*nowhere"):
        _ = missing.labs


def test_state_and_recordings_have_defaults_and_move_with_the_environment(tmp_path):
    default = Course.find(environ={"HOME": str(tmp_path)}, cwd=tmp_path)
    assert default.state == tmp_path / ".stagelab"
    assert default.progress_file == tmp_path / ".stagelab" / "progress.jsonl"
    assert default.recordings == ROOT / "src" / "stagelab" / "recordings"
    moved = Course.find(
        environ={"STAGELAB_HOME": str(tmp_path / "state"), "STAGELAB_RECORDINGS": "/r"},
        cwd=tmp_path,
    )
    assert moved.state == tmp_path / "state" and moved.recordings == Path("/r")


def test_the_environment_is_read_when_asked_not_at_import(tmp_path, monkeypatch):
    monkeypatch.setenv("STAGELAB_HOME", str(tmp_path / "first"))
    assert labs.progress_file() == tmp_path / "first" / "progress.jsonl"
    monkeypatch.setenv("STAGELAB_HOME", str(tmp_path / "second"))
    assert labs.progress_file() == tmp_path / "second" / "progress.jsonl"
    copy = tmp_path / "labs"
    copy.mkdir()
    monkeypatch.setenv("STAGELAB_LABS", str(copy))
    assert labs.labs_root() == copy


def test_a_removed_working_folder_or_no_home_still_finds_the_recordings(tmp_path, monkeypatch):
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    found = Course.find(environ={})
    assert found.start is None
    assert found.recordings == ROOT / "src" / "stagelab" / "recordings"
    assert found.root == ROOT  # the checkout, with no working folder to start from
    homeless = Course(start=None, user_home=None)
    with pytest.raises(StagelabError, match="set STAGELAB_HOME"):
        _ = homeless.state
