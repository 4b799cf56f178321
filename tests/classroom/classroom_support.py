"""Helpers of the classroom tests: the class's size, ports, domain and certificate; running
commands as root or as a class account; `*.localhost` names for Python's clients.

The test class runs as the issue asks a class with a domain to run: each learner's server on
an origin of its own under DOMAIN, over TLS, every port below 1024. Chromium resolves every
`*.localhost` name to the loopback address by itself; Python's resolver does not, so
`resolve_localhost_names()` tells it to (a wrapper of socket.getaddrinfo, for requests and
websocket-client alike).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from stagelab.classroom import rootless
from stagelab.classroom.layout import ClassroomLayout

LEARNERS = 3
PORT = int(os.environ.get("STAGELAB_CLASSROOM_TEST_PORT", "830"))
INTERNAL_PORT = PORT + 1
DOMAIN = "class.localhost"
BASE = f"https://{DOMAIN}:{PORT}"
MEMORY = "1G"
DISK = "5G"
STAGELAB = [sys.executable, "-m", "stagelab.cli"]
UP = [
    "classroom",
    "up",
    "--learners",
    str(LEARNERS),
    "--port",
    str(PORT),
    "--internal-port",
    str(INTERNAL_PORT),
    "--ip",
    "127.0.0.1",
]


def stagelab(*args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    """Run the stagelab command line (as root, like the instructor)."""
    return subprocess.run(
        [*STAGELAB, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def as_user(
    name: str, command: list[str], timeout: float = 300, input_text: str | None = None, **env: str
) -> subprocess.CompletedProcess:
    """Run a command as a class account (not confined: a process root starts as that uid),
    with its engine's environment and the hub's tools; `input_text` goes to its stdin."""
    layout = ClassroomLayout.from_environment()
    account = layout.account(name)
    environment = {**rootless.engine_environment(layout, account), **env}
    environment["PATH"] = f"{layout.venv / 'bin'}:{environment['PATH']}"
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input_text,
        env=environment,
        cwd=account.home,
        user=account.uid,
        group=account.gid,
        extra_groups=account.groups,
        check=False,
    )


def make_certificate(folder: Path, domain: str = DOMAIN) -> tuple[Path, Path]:
    """Make a self-signed certificate for `domain` and `*.domain` (one day) and its key in
    `folder`; return their paths."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={domain}",
            "-addext",
            f"subjectAltName=DNS:{domain},DNS:*.{domain}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        check=True,
    )
    return cert, key


_getaddrinfo = socket.getaddrinfo


def _loopback_for_localhost(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith(".localhost"):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)


def resolve_localhost_names() -> None:
    """Make every `*.localhost` name resolve to 127.0.0.1 in this process, as browsers do."""
    socket.getaddrinfo = _loopback_for_localhost


def attempt(lab: str, failed: list, total: int, time: str = "t") -> dict:
    """One line of a learner's progress record (labs/attempts.py): a check of `lab` at `time`
    in which the criteria `failed` of `total` failed."""
    return {
        "lab": lab,
        "time": time,
        "passed": total - len(failed),
        "total": total,
        "failed": failed,
    }
