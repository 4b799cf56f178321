"""Shared fixtures: the real engine for integration tests."""

from __future__ import annotations

import pytest

from stagelab import engine


@pytest.fixture(scope="session")
def docker_engine():
    """Return the engine's version document; fail loudly when none answers."""
    version = engine.ping()
    if version is None:
        pytest.fail(engine.advice_no_engine() + "\n(make test starts one: run it through make)")
    return version
