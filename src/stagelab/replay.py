"""No-engine mode: replay recordings of real builds when no Docker engine answers."""

from __future__ import annotations

from . import engine
from .errors import EngineUnavailable


def replay(request, watcher):
    """Replay the recording of this build, or raise EngineUnavailable when there is none."""
    raise EngineUnavailable(engine.advice_no_engine())


def record(request, result) -> None:
    """Save a recording of this real build when recording is switched on."""
