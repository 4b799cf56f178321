"""BuildKit builds through `docker buildx build`: a thin runner that feeds its
`--progress=rawjson` stream to the pure reader in rawjson.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from . import engine
from .cleanup import remember
from .context import BuildRequest, buildx_command
from .dockerfile import machine_platform
from .errors import BuildFailed
from .images import inspected
from .progress import Progress
from .rawjson import RawJsonReader
from .results import BuildResult


def run_buildkit(request: BuildRequest, watcher: Progress) -> BuildResult:
    """Run `docker buildx build` for this request, feeding its stream to a RawJsonReader.

    Returns the BuildResult; raises BuildFailed (holding the partial result) when buildx
    exits non-zero.
    """
    with tempfile.TemporaryDirectory(prefix="stagelab-build-") as tmp:
        iidfile = Path(tmp) / "iid"
        metadata = Path(tmp) / "metadata.json"
        command = buildx_command(request, iidfile=iidfile, metadata_file=metadata)
        reader = RawJsonReader(
            request.dockerfile,
            watcher,
            build_args=request.build_args,
            target_ref=request.target_ref,
            platforms=request.platforms,
            contexts=list(request.build_contexts),
        )
        watcher.command(command)
        began = time.monotonic()
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env=request.environment(),
        )
        with _stopped_on_interrupt(process):
            for line in process.stderr:
                reader.feed(line)
            process.wait()
        duration = time.monotonic() - began
        image_id = iidfile.read_text().strip() if iidfile.exists() else None
        build_ref = _build_ref(metadata) or _latest_ref(request)
    outcome = reader.outcome(failed=process.returncode != 0)
    result = request.result(
        stage_status=outcome.stage_status,
        steps=outcome.steps,
        shared_with=outcome.shared_with,
        image_id=image_id if outcome.failure is None else None,
        size_bytes=None,
        duration_s=duration,
        log=outcome.log,
        platform_status=outcome.platform_status,
        build_ref=build_ref,
        command=command,
    )
    if outcome.failure is not None:
        raise BuildFailed(
            **outcome.failure,
            command=command,
            log=outcome.log,
            result=result,
            advice=explain_foreign_cpu(outcome.failure, result),
        )
    if image_id:
        if request.docker_host is None:
            remember([image_id], request.tag)
        found = inspected(image_id, request.docker_host)
        result.size_bytes = found["Size"]
        result.layer_ids = list((found.get("RootFS") or {}).get("Layers") or [])
    return result


def _build_ref(metadata: Path) -> str | None:
    """The build's name in `docker buildx history` ("builder/node/ref": its last part)."""
    try:
        found = json.loads(metadata.read_text()).get("buildx.build.ref", "")
    except (OSError, ValueError):
        return None
    return found.rsplit("/", 1)[-1] or None


def _latest_ref(request: BuildRequest) -> str | None:
    """A failed build writes no metadata: its record is the newest one named after its
    context folder (buildx names a build by it)."""
    done = subprocess.run(
        ["docker", "buildx", "history", "ls", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=request.environment(),
        check=False,
    )
    records = []
    for line in done.stdout.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    mine = [r for r in records if r.get("name") == request.context_dir.name]
    newest = max(mine, key=lambda r: r.get("created_at", ""), default=None)
    return newest["ref"].rsplit("/", 1)[-1] if newest else None


def explain_foreign_cpu(failure: dict, result: BuildResult) -> str:
    """Say in plain words why a step of another CPU failed where no emulator is registered:
    its programs cannot run here ("exec format error"); "" for other failures."""
    if "exec format error" not in failure.get("log_tail", "") + failure.get("reason", ""):
        return ""
    step = next((s for s in reversed(result.steps) if s.status == "failed"), None)
    runs_on = step.runs_on if step is not None and step.runs_on else "another platform"
    emulators = ", ".join(engine.emulators()) or "none is registered"
    return (
        f"Stage {failure.get('stage')!r} runs for {runs_on}, and this machine is "
        f"{machine_platform()}: its RUN starts a program of another CPU, which cannot run "
        f"here without an emulator (binfmt_misc: {emulators}). Run the stage on the build "
        "machine instead, with `FROM --platform=$BUILDPLATFORM ...`, and compile for "
        "$TARGETARCH there (cross-compiling); or register an emulator (QEMU) for that CPU."
    )


@contextmanager
def _stopped_on_interrupt(process: subprocess.Popen):
    """On Ctrl-C or Jupyter's stop button, stop the engine's work before re-raising."""
    try:
        yield
    except BaseException:
        if process.poll() is None:
            # SIGINT makes buildx cancel the solve in BuildKit, which stops its containers.
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        raise
