"""Shared fixtures: the engine, and one run of the course with no engine. The tiers (which
tests need an engine, root, a browser or the lessons) are the plugin in tiers.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiers import required

from stagelab import engine, site
from stagelab.notebook_runs import NotebookRun


@pytest.fixture(scope="session")
def docker_engine():
    """Return the engine's version document; skip (or, when required, fail) when none answers."""
    version = engine.ping()
    if version is None:
        advice = engine.advice_no_engine() + "\n(make test starts one: run it through make)"
        if required():
            pytest.fail(advice)
        pytest.skip("no Docker engine answers: " + advice.splitlines()[0])
    return version


@pytest.fixture(scope="session")
def replayed_course(tmp_path_factory) -> dict[Path, NotebookRun]:
    """Every lesson and lab task notebook, run once per session with no engine (each build
    replays its recording), several at once, as `make site` runs them; by notebook path.

    The replay, site and browser tests read these runs instead of running the notebooks again.
    """
    return site.page_runs(tmp_path_factory.mktemp("replayed-course"))


@pytest.fixture(scope="session")
def replayed_variants(tmp_path_factory) -> list[NotebookRun]:
    """Every lesson variant (the parameter values a lesson invites its reader to try, which
    Binder replays), run once per session with no engine."""
    return site.variant_runs(tmp_path_factory.mktemp("replayed-variants"))
