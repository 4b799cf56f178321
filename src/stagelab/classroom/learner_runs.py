"""Running a command as a learner, for root: `stagelab classroom reset` and the dashboard's
reads of a learner's files.

The command runs confined as the learner (confine.py: their cgroup, their uid and groups),
from / (a folder they do not control), with an environment root chooses (their HOME, the hub
environment's tools first on PATH), and ends after a time-out. So a link they planted reaches
only what they may read, and nothing of theirs runs: stagelab's code comes from the hub's
root-owned environment, run isolated (as_learner.py). Its output is theirs to shape: root
shows it only with control characters escaped (terminal.py), the dashboard only as text.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..labs.attempts import parse_record
from .board import MAX_RECORD_BYTES
from .cgroups import CgroupFs
from .confine import Confinement
from .layout import Account, ClassroomLayout

AS_LEARNER_MODULE = "stagelab.classroom.as_learner"
AS_LEARNER_TIMEOUT_S = 120
READ_TIMEOUT_S = 20


def learner_environment(layout: ClassroomLayout, account: Account) -> dict[str, str]:
    """Return the environment of a command root runs as the learner."""
    return {
        "HOME": str(account.home),
        "USER": account.name,
        "LOGNAME": account.name,
        "PATH": f"{layout.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "DOCKER_HOST": account.docker_host,
    }


def as_learner_command(layout: ClassroomLayout, action: str, argument: str) -> list[str]:
    """Return the command line of as_learner's `action` (reset, report) with `argument`, run
    by the hub environment's Python in isolated mode."""
    python = str(layout.venv / "bin" / "python")
    return [python, "-I", "-m", AS_LEARNER_MODULE, action, argument]


def progress_command(account: Account, limit: int) -> list[str]:
    """Return the command that prints the first `limit` bytes of the learner's progress record
    (coreutils' head: a read that starts no Python)."""
    return ["head", "-c", str(limit), "--", str(account.progress_file)]


def run_as_learner(
    layout: ClassroomLayout,
    account: Account,
    command: list[str],
    timeout: float = AS_LEARNER_TIMEOUT_S,
) -> subprocess.CompletedProcess:
    """Run `command` as the learner, confined, from /, and return it done (stdout and stderr
    as bytes). Raises subprocess.TimeoutExpired after `timeout` seconds (the command is
    killed) and OSError when it cannot start."""
    confinement = Confinement.of(account, CgroupFs(), None, cwd=Path("/"))
    return subprocess.run(
        command,
        env=learner_environment(layout, account),
        capture_output=True,
        timeout=timeout,
        check=False,
        **confinement.popen_kwargs(),
    )


def read_record(layout: ClassroomLayout, account: Account) -> bytes:
    """Return the learner's progress record (its first board.MAX_RECORD_BYTES), read as the
    learner (b"" when they have none).

    Raises OSError when the read cannot run or does not end within READ_TIMEOUT_S.
    """
    try:
        done = run_as_learner(
            layout, account, progress_command(account, MAX_RECORD_BYTES), READ_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        raise OSError(f"reading {account.name}'s record took over {READ_TIMEOUT_S} s") from None
    return done.stdout if done.returncode == 0 else b""


def class_attempts(layout: ClassroomLayout, names: list[str]) -> tuple[dict[str, list], list]:
    """Return each learner's attempts (labs/attempts.parse_record), read as them, and the
    names of those whose record could not be read (their attempts are then [])."""
    found, unread = {}, []
    for name in names:
        try:
            found[name] = parse_record(read_record(layout, layout.account(name)))[0]
        except OSError:
            found[name], unread = [], [*unread, name]
    return found, unread
