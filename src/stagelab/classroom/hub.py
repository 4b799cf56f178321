"""The hub: its settings file, starting and stopping JupyterHub, and asking its REST API.

JupyterHub (https://jupyterhub.readthedocs.io/) runs as root from the layout's venv with
jupyterhub_config.py (beside this module, in the hub's installed stagelab), which applies
hubconfig.configure_hub to the settings written here; it starts configurable-http-proxy on the
public port, the dashboard and idle-culler services, and one single-user server per learner
through spawner.RootlessDockerSpawner. Ports: see settings.HubSettings.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from .layout import INSTRUCTOR, ClassRecord, ClassroomError, ClassroomLayout
from .rootless import path_for_engines
from .settings import SETTINGS_ENV, HubSettings

HUB_START_TIMEOUT_S = 90
HUB_STOP_TIMEOUT_S = 90


def hub_settings(
    layout: ClassroomLayout, record: ClassRecord, course: Path, proxy_command: str
) -> HubSettings:
    """Return the hub's settings for the class of `record`, serving the course folder `course`
    (a new API token for the command line is made once and kept in the record)."""
    if not record.api_token:
        record.api_token = secrets.token_hex(32)
    return HubSettings(
        learners=list(record.learners),
        instructor=INSTRUCTOR,
        ip=record.ip,
        port=record.port,
        idle_timeout_s=record.idle_timeout_s,
        api_token=record.api_token,
        proxy_command=proxy_command,
        engine_path=path_for_engines(layout),
        course=course,
        layout=layout,
    )


def hub_alive(record: ClassRecord) -> bool:
    """Tell whether the hub process this class started is still running."""
    if not record.hub_pid:
        return False
    try:
        return "jupyterhub" in open(f"/proc/{record.hub_pid}/cmdline").read()
    except OSError:
        return False


def api(record: ClassRecord, path: str, method: str = "GET", timeout: float = 10) -> object:
    """Call the hub's REST API (`/hub/api` + path) with the class's own token; return its JSON.

    Raises ClassroomError when the hub does not answer or refuses.
    """
    request = urllib.request.Request(
        f"http://127.0.0.1:{record.port + 1}/hub/api{path}",
        method=method,
        headers={"Authorization": f"token {record.api_token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body = answer.read()
    except (urllib.error.URLError, OSError) as error:
        raise ClassroomError(
            f"The hub does not answer ({error}): run `stagelab classroom up`."
        ) from None
    return json.loads(body) if body else None


def users(record: ClassRecord) -> list[dict] | None:
    """Return the hub's user models (`GET /hub/api/users`), or None when the hub is down."""
    if not hub_alive(record):
        return None
    try:
        return api(record, "/users")
    except ClassroomError:
        return None


def hub_command(layout: ClassroomLayout) -> tuple[list[str], dict[str, str]]:
    """Return the command line that starts the class's JupyterHub and its environment: the
    hub loads the jupyterhub_config.py of the stagelab installed in the layout's venv, which
    reads the layout's settings file.

    Raises ClassroomError when stagelab is not installed there.
    """
    venv = layout.venv
    environment = {
        "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        SETTINGS_ENV: str(layout.settings),
    }
    return [str(venv / "bin" / "jupyterhub"), "-f", str(layout.hub_config_file)], environment


def start(layout: ClassroomLayout, record: ClassRecord, say=print) -> int:
    """Start JupyterHub (unless this class's hub runs) and wait until its API answers.

    Returns the hub's pid. Raises ClassroomError with the log's tail when it does not answer
    within HUB_START_TIMEOUT_S seconds.
    """
    log_path = layout.hub_log
    if not hub_alive(record):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        command, environment = hub_command(layout)
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                cwd=layout.state,
                start_new_session=True,
            )
        record.hub_pid = process.pid
        record.save()
        say(f"hub: starting JupyterHub (log: {log_path})")
    deadline = time.monotonic() + HUB_START_TIMEOUT_S
    while True:
        try:
            api(record, "/", timeout=3)
            # The hub answers before the proxy routes to it: wait for the public side too.
            public = record.ip if record.ip not in ("", "0.0.0.0") else "127.0.0.1"
            urllib.request.urlopen(f"http://{public}:{record.port}/hub/api/", timeout=3).close()
            return record.hub_pid
        except (ClassroomError, urllib.error.URLError, OSError):
            if not hub_alive(record) or time.monotonic() > deadline:
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
                raise ClassroomError(
                    f"JupyterHub did not answer. Its log ({log_path}) ends with:\n{tail}"
                ) from None
            time.sleep(0.5)


def stop_servers(record: ClassRecord, say=print, timeout: float = HUB_STOP_TIMEOUT_S) -> int:
    """Stop every running single-user server (and so its engine) through the hub's API.

    Returns how many were running. Servers still up after `timeout` seconds are left to
    the caller.
    """
    running = [user["name"] for user in users(record) or [] if user.get("servers")]
    for name in running:
        api(record, f"/users/{name}/server", method="DELETE", timeout=HUB_STOP_TIMEOUT_S)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(user.get("servers") for user in users(record) or []):
        time.sleep(0.5)
    if running:
        say(f"hub: stopped the servers of {', '.join(running)}")
    return len(running)


def stop(record: ClassRecord, say=print) -> bool:
    """Stop the hub and its proxy; single-user servers keep running (see stop_servers).

    Returns True when a hub was running. After HUB_STOP_TIMEOUT_S seconds its process group
    is killed.
    """
    if not hub_alive(record):
        record.hub_pid = None
        return False
    pid = record.hub_pid
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + HUB_STOP_TIMEOUT_S
    while hub_alive(record) and time.monotonic() < deadline:
        time.sleep(0.3)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)  # the hub's own session: itself and its proxy
    record.hub_pid = None
    say("hub: stopped JupyterHub and its proxy")
    return True
