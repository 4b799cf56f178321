"""Run the classroom's two images as a learner's pod runs them, on this machine's engine.

Two containers share a socket volume (the pod's emptyDir) and a network namespace: the engine,
privileged, serving its socket there; the learner's container (its own entry point loads the
base images) running lessons 01 and 02 against that engine with nbval, as `make test` does,
with no recordings to fall back on. Everything the smoke test makes is removed afterwards.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass

from ... import engine, lazy
from ...images import labels
from ..layout import ClassroomError
from .layout import ENGINE, LEARNER, SOCKET_DIR

LESSONS = ("01_start_here.ipynb", "02_what_is_a_stage.ipynb")
SMOKE_KIND = "classroom-smoke"
SMOKE_TIMEOUT_S = 1800
# An empty recordings folder: a lesson that tried to replay instead of building would fail.
_LEARNER_SCRIPT = (
    "mkdir -p /tmp/no-recordings && cd notebooks && "
    "STAGELAB_RECORDINGS=/tmp/no-recordings python -m pytest -p no:cacheprovider "
    "--nbval-lax -q " + " ".join(LESSONS)
)
_BUILT_BY_LESSONS = [
    "docker",
    "-H",
    f"unix://{SOCKET_DIR}/docker.sock",
    "image",
    "ls",
    "-q",
    "--filter",
    "label=io.stagelab.kind=build",
]


@dataclass(frozen=True)
class SmokeReport:
    """What the smoke test saw: the nbval summary line, the builds the lessons left in the
    pod's engine, its version, and the seconds taken (all, and the lessons' part)."""

    summary: str
    builds_in_pod_engine: int
    pod_engine_version: str
    seconds: float
    lessons_seconds: float

    def lines(self) -> list[str]:
        """Return the report as lines for a terminal."""
        return [
            f"smoke: lessons {', '.join(LESSONS)}: {self.summary}",
            f"smoke: {self.builds_in_pod_engine} images built by the lessons are in the "
            f"pod's engine (Docker Engine {self.pod_engine_version}), none replayed",
            f"smoke: {self.seconds:.0f} s in all, {self.lessons_seconds:.0f} s for the lessons",
        ]


def passed_summary(log: str) -> str | None:
    """Return nbval's final line ("29 passed in 9.50s") when nothing failed, else None."""
    lines = [line.strip() for line in log.splitlines() if re.search(r"\d+ passed", line)]
    if not lines or re.search(r"failed|error", lines[-1]):
        return None
    return lines[-1].strip("= ")


def smoke(learner: str = LEARNER.ref, pod_engine: str = ENGINE.ref, say=print) -> SmokeReport:
    """Run the learner image against the engine image as a pod would; return what happened.

    Raises ClassroomError: with the learner container's log and the engine's when a lesson
    fails, the engine does not start or the run exceeds SMOKE_TIMEOUT_S; saying what to run when
    an image is missing (`stagelab classroom image` builds both).
    """
    client = engine.client()
    for ref in (learner, pod_engine):
        if not client.images.list(name=ref):
            raise ClassroomError(f"No image {ref}: run `stagelab classroom image` first.")
    name = f"stagelab-smoke-{uuid.uuid4().hex[:8]}"
    # Not kind "container": `stagelab clean` (another notebook's, say) would remove them.
    made = labels(SMOKE_KIND)
    started = time.monotonic()
    volumes = [
        client.volumes.create(f"{name}-{part}", labels=made) for part in ("socket", "engine-data")
    ]
    containers = []
    try:
        containers.append(
            client.containers.run(
                pod_engine,
                name=f"{name}-engine",
                detach=True,
                privileged=True,
                labels=made,
                volumes={
                    volumes[0].name: {"bind": SOCKET_DIR},
                    volumes[1].name: {"bind": "/var/lib/docker"},
                },
            )
        )
        say(f"smoke: pod engine {containers[0].name} started; running the learner's container")
        lessons_started = time.monotonic()
        containers.append(
            client.containers.run(
                learner,
                ["sh", "-c", _LEARNER_SCRIPT],
                name=f"{name}-learner",
                detach=True,
                labels=made,
                network_mode=f"container:{containers[0].id}",
                volumes={volumes[0].name: {"bind": SOCKET_DIR}},
            )
        )
        exit_code = _wait(containers[1])
        log = containers[1].logs().decode("utf-8", "replace")
        summary = passed_summary(log)
        if exit_code != 0 or summary is None:
            engine_log = containers[0].logs(tail=15).decode("utf-8", "replace")
            raise ClassroomError(
                f"Smoke test failed (exit code {exit_code}). The learner's "
                f"container said:\n{log.strip()[-3000:]}\nThe pod engine's "
                f"log ends with:\n{engine_log.strip()}"
            )
        lessons_seconds = time.monotonic() - lessons_started
        builds = containers[0].exec_run(_BUILT_BY_LESSONS).output.decode().split()
        version = (
            containers[0]
            .exec_run(
                [
                    "docker",
                    "-H",
                    f"unix://{SOCKET_DIR}/docker.sock",
                    "version",
                    "--format",
                    "{{.Server.Version}}",
                ]
            )
            .output.decode()
            .strip()
        )
        return SmokeReport(
            summary, len(builds), version, time.monotonic() - started, lessons_seconds
        )
    finally:
        for container in reversed(containers):
            container.remove(force=True, v=True)
        for volume in volumes:
            volume.remove(force=True)


def _wait(container) -> int:
    try:
        return container.wait(timeout=SMOKE_TIMEOUT_S)["StatusCode"]
    except (lazy.docker.errors.APIError, OSError) as error:  # requests' timeout is an OSError
        raise ClassroomError(
            f"The learner's container did not finish within {SMOKE_TIMEOUT_S} s "
            f"({error}); its log ends with:\n"
            f"{container.logs(tail=30).decode('utf-8', 'replace')}"
        ) from None
