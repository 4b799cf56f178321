"""Shared fixtures: the real engine for integration tests."""

from __future__ import annotations

import os
import tempfile

import pytest

from stagelab import engine

# Each test session keeps its own stagelab state (progress, the record of images stagelab made
# that `clean` removes): other sessions using the same engine and account are left alone.
os.environ["STAGELAB_HOME"] = tempfile.mkdtemp(prefix="stagelab-test-home-")


@pytest.fixture(scope="session")
def docker_engine():
    """Return the engine's version document; fail loudly when none answers."""
    version = engine.ping()
    if version is None:
        pytest.fail(engine.advice_no_engine() + "\n(make test starts one: run it through make)")
    return version
