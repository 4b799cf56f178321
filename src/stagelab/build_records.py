"""The engine's own record of a build: `docker buildx history inspect`, beside what stagelab
read from the same build's progress.

BuildKit keeps a record of every build it ran (https://docs.docker.com/reference/cli/docker/
buildx/history/): its status, error, and counts of steps in all, completed and cached. Those
count every vertex of the build's graph, loading the Dockerfile and the context included,
where stagelab counts the Dockerfile's steps.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass

from . import replay_calls
from .errors import StagelabError
from .render.html import Table
from .results import BuildResult

INSPECT_TIMEOUT_S = 60


@dataclass(frozen=True)
class BuildRecord:
    """A build as the engine recorded it: `ref` (its name in `docker buildx history`),
    `status` ("completed", "failed", "canceled"), its steps in all, completed and cached, its
    error message ("" when none) and how long it took in seconds."""

    ref: str
    status: str
    total_steps: int
    completed_steps: int
    cached_steps: int
    error: str
    duration_s: float

    def beside(self, result: BuildResult) -> Table:
        """Return a table of this record beside what stagelab reported for the same build."""
        ours = result.steps
        return Table(
            ["", "the engine's record (docker buildx history)", "stagelab's report"],
            [
                ["status", self.status, "failed" if _failed(result) else "completed"],
                ["steps", self.total_steps, len(ours)],
                ["cached steps", self.cached_steps, sum(s.status == "cached" for s in ours)],
                ["error", self.error or "-", _error(result) or "-"],
            ],
            "stagelab-build-record",
        )

    def _repr_html_(self) -> str:
        rows = [
            ["status", self.status],
            ["steps", f"{self.total_steps} ({self.completed_steps} completed)"],
            ["cached steps", self.cached_steps],
            ["error", self.error or "-"],
            ["seconds", f"{self.duration_s:.1f}"],
        ]
        return Table(["build " + self.ref, ""], rows, "stagelab-build-record")._repr_html_()


def _failed(result: BuildResult) -> bool:
    return any(status == "failed" for status in result.stage_status.values())


def _error(result: BuildResult) -> str:
    return next((s.instruction for s in result.steps if s.status == "failed"), "")


def build_record(result: BuildResult) -> BuildRecord:
    """Return the engine's record of a build stagelab ran (or replays): `docker buildx
    history inspect` of its `build_ref`, on the engine it ran on.

    Raises StagelabError when the result has no ref (a classic build, or one made before
    stagelab kept refs) or the engine has no record of it (`docker buildx history rm`
    removes them), EngineUnavailable with no engine and no recording.
    """
    if not result.build_ref:
        raise StagelabError(
            "This build has no record in `docker buildx history`: only BuildKit keeps one "
            "(the classic builder does not), and stagelab knows its name from builds it ran."
        )
    fields = replay_calls.recorded_call(
        "buildx history inspect",
        result.build_ref,
        {},
        lambda: _inspect(result.build_ref, result.docker_host),
        errors=(StagelabError,),
    )
    return BuildRecord(**fields)


def _inspect(ref: str, host: str | None) -> dict:
    environment = {**os.environ, "DOCKER_HOST": host} if host else None
    done = subprocess.run(
        ["docker", "buildx", "history", "inspect", ref, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=INSPECT_TIMEOUT_S,
        env=environment,
        check=False,
    )
    if done.returncode != 0:
        raise StagelabError(
            f"The engine has no record of build {ref}: {done.stderr.strip()}",
            command=done.args,
            exit_code=done.returncode,
            output=done.stderr,
        )
    found = json.loads(done.stdout)
    error = found.get("Error") or {}
    return {
        "ref": ref,
        "status": str(found.get("Status", "")).lower(),
        "total_steps": int(found.get("NumTotalSteps") or 0),
        "completed_steps": int(found.get("NumCompletedSteps") or 0),
        "cached_steps": int(found.get("NumCachedSteps") or 0),
        "error": error.get("Message", "") if isinstance(error, dict) else str(error),
        "duration_s": round((found.get("Duration") or 0) / 1e9, 2),
    }
