"""A real class of 3 for the tests marked root (test_classroom.py): hub, proxy, rootless
engines, accounts. The folder's other tests are unit tests that need none of it (`make check`).

The class listens on 127.0.0.1 only. It is brought up once per session and purged at the end,
whatever happened. Account names are fixed (learner01.., instructor), so a class already up on
this machine would be taken over: the tests refuse to start then (unless it is on the tests'
own port: a class an interrupted run left, purged first).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from classroom_support import BASE, LEARNERS, PORT, stagelab
from hubclient import HubSession

from stagelab.classroom.layout import ClassRecord, ClassroomLayout

LOGS_KEPT = Path(__file__).resolve().parents[2] / "test-output" / "classroom-logs"


@pytest.fixture(scope="session")
def classroom(docker_engine):
    """Bring up a class of 3 (once) and yield its record; purge it at the end."""
    if os.geteuid() != 0:
        pytest.fail("The classroom tests create accounts: run them as root (make test does).")
    layout = ClassroomLayout.from_environment()
    if layout.record.exists() and ClassRecord.load(layout.record).port == PORT:
        stagelab("classroom", "down", "--purge")  # a test class an interrupted run left
    if layout.record.exists():
        pytest.fail(
            f"A class is up on this machine ({layout.record}): the tests would take it over. "
            "Run `stagelab classroom down --purge` first, or test on another machine."
        )
    done = stagelab(
        "classroom", "up", "--learners", str(LEARNERS), "--port", str(PORT), "--ip", "127.0.0.1"
    )
    try:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        yield ClassRecord.load(layout.record)
    finally:
        # Keep the hub's and engines' logs for a failure's post-mortem: purging removes them.
        if layout.logs.is_dir():
            shutil.copytree(layout.logs, LOGS_KEPT, dirs_exist_ok=True)
        stagelab("classroom", "down", "--purge")


@pytest.fixture(scope="session")
def sessions(classroom):
    """Log learner01, learner02 and the instructor in over HTTP, each with an API token."""
    logged_in = {}
    for name in ("learner01", "learner02", "instructor"):
        session = HubSession(BASE, name)
        answer = session.login(classroom.passwords[name])
        assert answer.status_code == 302, (name, answer.status_code, answer.text[:500])
        session.make_token()
        logged_in[name] = session
    return logged_in


@pytest.fixture(scope="session")
def servers(sessions):
    """Start both learners' servers (and so their engines) through the hub's API."""
    for name in ("learner01", "learner02"):
        sessions[name].start_server()
    return sessions
