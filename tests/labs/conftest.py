"""Lab tests never write to the learner's home or to the repo's lab folders."""

from __future__ import annotations

import shutil

import pytest

from stagelab import labs


@pytest.fixture(autouse=True)
def progress_home(tmp_path, monkeypatch):
    """Record attempts in a temporary STAGELAB_HOME; return its folder."""
    home = tmp_path / "stagelab-home"
    monkeypatch.setenv("STAGELAB_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def labs_copy(tmp_path, monkeypatch):
    """Point STAGELAB_LABS at a copy of the labs: learners' working files are made there."""
    copy = tmp_path / "labs"
    shutil.copytree(labs.labs_root(), copy, ignore=shutil.ignore_patterns(".backups"))
    monkeypatch.setenv("STAGELAB_LABS", str(copy))
    return copy
