"""Helpers of the classroom tests: the class's size and port, running commands as root or as
a class account."""

from __future__ import annotations

import os
import subprocess
import sys

from stagelab.classroom import rootless
from stagelab.classroom.layout import ClassroomLayout

LEARNERS = 3
PORT = int(os.environ.get("STAGELAB_CLASSROOM_TEST_PORT", "18300"))
BASE = f"http://127.0.0.1:{PORT}"
STAGELAB = [sys.executable, "-m", "stagelab.cli"]


def stagelab(*args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    """Run the stagelab command line (as root, like the instructor)."""
    return subprocess.run(
        [*STAGELAB, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def as_user(
    name: str, command: list[str], timeout: float = 300, **env: str
) -> subprocess.CompletedProcess:
    """Run a command as a class account, with its engine's environment and the hub's tools."""
    layout = ClassroomLayout.from_environment()
    account = layout.account(name)
    environment = {**rootless.engine_environment(layout, account), **env}
    environment["PATH"] = f"{layout.venv / 'bin'}:{environment['PATH']}"
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=account.home,
        user=account.uid,
        group=account.gid,
        extra_groups=account.groups,
        check=False,
    )
