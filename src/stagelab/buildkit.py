"""BuildKit builds through `docker buildx build`: a thin runner that feeds its
`--progress=rawjson` stream to the pure reader in rawjson.py."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from .cleanup import remember
from .context import BuildRequest, buildx_command
from .errors import BuildFailed
from .images import size_of
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
        command = buildx_command(request, iidfile=iidfile)
        reader = RawJsonReader(
            request.dockerfile,
            watcher,
            build_args=request.build_args,
            target_ref=request.target_ref,
        )
        watcher.command(command)
        began = time.monotonic()
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        with _stopped_on_interrupt(process):
            for line in process.stderr:
                reader.feed(line)
            process.wait()
        duration = time.monotonic() - began
        image_id = iidfile.read_text().strip() if iidfile.exists() else None
    outcome = reader.outcome(failed=process.returncode != 0)
    result = request.result(
        stage_status=outcome.stage_status,
        steps=outcome.steps,
        shared_with=outcome.shared_with,
        image_id=image_id if outcome.failure is None else None,
        size_bytes=None,
        duration_s=duration,
        log=outcome.log,
        command=command,
    )
    if outcome.failure is not None:
        raise BuildFailed(**outcome.failure, command=command, log=outcome.log, result=result)
    if image_id:
        remember([image_id], request.tag)
        result.size_bytes = size_of(image_id)
    return result


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
