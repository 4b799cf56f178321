"""A real class of 3 for the tests marked root (test_class_*.py): hub, proxy, rootless
engines, accounts, cgroups and disks, on per-user origins under class.localhost over TLS. The
folder's other tests are unit tests that need none of it (`make check`).

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
from classroom_support import (
    BASE,
    DISK,
    DOMAIN,
    MEMORY,
    PORT,
    UP,
    make_certificate,
    resolve_localhost_names,
    stagelab,
)
from hubclient import HubSession

from stagelab.classroom.class_record import ClassRecord
from stagelab.classroom.layout import ClassroomLayout

LOGS_KEPT = Path(__file__).resolve().parents[2] / "test-output" / "classroom-logs"
resolve_localhost_names()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for class.localhost and *.class.localhost, and its key."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def classroom(docker_engine, certificate):
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
    cert, key = certificate
    done = stagelab(
        *UP,
        "--domain",
        DOMAIN,
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
        "--memory",
        MEMORY,
        "--disk",
        DISK,
    )
    try:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        record = ClassRecord.load(layout.record)
        record.up_output = done.stdout
        yield record
    finally:
        # Keep the hub's and engines' logs for a failure's post-mortem: purging removes them.
        if layout.logs.is_dir():
            shutil.copytree(layout.logs, LOGS_KEPT, dirs_exist_ok=True)
        stagelab("classroom", "down", "--purge")


@pytest.fixture(scope="session")
def sessions(classroom, certificate):
    """Log the three learners and the instructor in over HTTPS, each with an API token."""
    logged_in = {}
    for name in ("learner01", "learner02", "learner03", "instructor"):
        session = HubSession(BASE, name, domain=DOMAIN, verify=str(certificate[0]))
        answer = session.login(classroom.passwords[name])
        assert answer.status_code == 302, (name, answer.status_code, answer.text[:500])
        session.make_token()
        logged_in[name] = session
    return logged_in


@pytest.fixture(scope="session")
def servers(sessions):
    """Start the learners' servers (and so their engines) through the hub's API."""
    for name in ("learner01", "learner02", "learner03"):
        sessions[name].start_server()
    return sessions
