"""The hub: its settings file, starting and stopping JupyterHub, and asking its REST API.

JupyterHub (https://jupyterhub.readthedocs.io/) runs as root from the layout's venv with
jupyterhub_config.py (beside this module, in the hub's installed stagelab), which applies
hubconfig.configure_hub to the settings written here; it starts configurable-http-proxy on the
public port, the dashboard and idle-culler services, and one single-user server per learner
through spawner.RootlessDockerSpawner. Ports: see settings.HubSettings.

The hub is known by its identity (processes.ProcessIdentity: pid, uid, start time), taken from
the process `start` launched and kept in the record: a pid alone could be anyone's by the next
command, and a freshly started process's /proc/PID/cmdline can still be empty while exec
installs the new program. While `start` waits for the hub to answer, it watches the process it
launched (Popen.poll), never a file that races with exec. Once the hub answers, every port of
the class must be held by the hub or a process the hub started, as root (`check_ports`).
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import ssl
import stat
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from .class_record import LOOPBACK, ClassRecord
from .layout import INSTRUCTOR, ClassroomError, ClassroomLayout
from .processes import ProcessIdentity, descendants, listeners, parent_pid
from .rootless import path_for_engines
from .settings import SETTINGS_ENV, HubSettings

HUB_START_TIMEOUT_S = 120
HUB_STOP_TIMEOUT_S = 90
# The hub and what it starts are the last the kernel's out-of-memory killer picks (proc(5),
# /proc/PID/oom_score_adj); learners' processes reset it to 0 (confine.py).
HUB_OOM_SCORE_ADJ = b"-900"


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
        internal_port=record.internal_port,
        domain=record.domain,
        tls=record.tls,
        idle_timeout_s=record.idle_timeout_s,
        stuck_checks=record.stuck_checks,
        stuck_minutes=record.stuck_minutes,
        api_token=record.api_token,
        proxy_command=proxy_command,
        engine_path=path_for_engines(layout),
        course=course,
        layout=layout,
    )


def hub_alive(record: ClassRecord) -> bool:
    """Tell whether the hub process this class started still runs (that very process)."""
    identity = record.hub
    return identity is not None and identity.current()


def api(record: ClassRecord, path: str, method: str = "GET", timeout: float = 10) -> object:
    """Call the hub's REST API (`/hub/api` + path) with the class's own token; return its JSON.

    Raises ClassroomError when the hub does not answer or refuses.
    """
    request = urllib.request.Request(
        record.hub_api_url + path,
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


def _protect_from_oom() -> None:
    """Lower the new hub's oom_score_adj; where root lacks CAP_SYS_RESOURCE (some containers)
    it cannot, and the class's parent cgroup's memory cap is what protects the hub."""
    descriptor = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
    try:
        os.write(descriptor, HUB_OOM_SCORE_ADJ)
    except PermissionError:
        pass
    finally:
        os.close(descriptor)


def start(layout: ClassroomLayout, record: ClassRecord, say=print) -> ProcessIdentity:
    """Start JupyterHub (unless this class's hub runs) and wait until it and the proxy answer.

    Returns the hub's identity. Raises ClassroomError with the log's tail when the hub ends
    or does not answer within HUB_START_TIMEOUT_S seconds.
    """
    log_path = layout.hub_log
    process = None
    if not hub_alive(record):
        layout.sockets.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(layout.sockets, 0o700)
        layout.logs.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(layout.logs, 0o700)
        command, environment = hub_command(layout)
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            # umask 077: the hub's database, its logs and whatever else it writes are root's.
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                cwd=layout.state,
                start_new_session=True,
                umask=0o077,
                preexec_fn=_protect_from_oom,
            )
        finally:
            os.close(log)
        identity = ProcessIdentity.of(process.pid) or ProcessIdentity(process.pid, 0, 0)
        record.hub_process = identity.to_text()
        record.save()
        say(f"hub: starting JupyterHub (log: {log_path})")
    deadline = time.monotonic() + HUB_START_TIMEOUT_S
    while True:
        if _answers(record):
            remember_helpers(record)
            return record.hub
        ended = process.poll() is not None if process is not None else not hub_alive(record)
        if ended or time.monotonic() > deadline:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
            why = "ended" if ended else f"did not answer within {HUB_START_TIMEOUT_S} s"
            raise ClassroomError(f"JupyterHub {why}. Its log ({log_path}) ends with:\n{tail}")
        time.sleep(0.5)


def _answers(record: ClassRecord) -> bool:
    """Tell whether the hub's API, its dashboard and, through the proxy, its public side
    answer (the hub starts its services after its API answers)."""
    try:
        api(record, "/", timeout=3)
    except ClassroomError:
        return False
    if not listeners(record.internal_port + 1):
        return False
    # The hub answers before the proxy routes to it: ask the public side too, by the name
    # learners use (host routing needs it); the certificate is the class's own.
    address = record.ip if record.ip not in ("", "0.0.0.0", "::") else LOOPBACK
    if record.tls:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        connection = http.client.HTTPSConnection(address, record.port, timeout=3, context=context)
    else:
        connection = http.client.HTTPConnection(address, record.port, timeout=3)
    try:
        connection.request("GET", "/hub/api/", headers={"Host": _host_header(record)})
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _host_header(record: ClassRecord) -> str:
    default = 443 if record.tls else 80
    return record.host + ("" if record.port == default else f":{record.port}")


def check_ports(layout: ClassroomLayout, record: ClassRecord) -> list[str]:
    """Return each of the class's ports or sockets that is not held by the hub or a process it
    started, running as root, with who holds it ([] when all are the class's own)."""
    hub = record.hub
    problems = []
    ports = {
        "the public port": record.port,
        "the hub's API": record.internal_port,
        "the dashboard": record.internal_port + 1,
    }
    for what, port in ports.items():
        found = listeners(port)
        if not found:
            problems.append(f"{what} ({port}): nothing listens")
        for listener in found:
            for holder in listener.holders or (None,):
                own = (
                    holder is not None
                    and hub is not None
                    and holder.uid == 0
                    and hub.pid in (holder.pid, parent_pid(holder.pid))
                )
                if not own:
                    who = f"pid {holder.pid}, uid {holder.uid}" if holder else "an unknown process"
                    problems.append(f"{what} ({listener.address}:{port}) is held by {who}")
    socket_path = layout.proxy_api_socket
    try:
        folder, entry = layout.sockets.lstat(), socket_path.lstat()
        if folder.st_uid != 0 or folder.st_mode & 0o077 or entry.st_uid != 0:
            problems.append(f"the proxy's API socket {socket_path} is not root's alone")
        elif not stat.S_ISSOCK(entry.st_mode):
            problems.append(f"{socket_path} is not a socket")
    except OSError as error:
        problems.append(f"the proxy's API socket {socket_path}: {error.strerror}")
    return problems


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


def remember_helpers(record: ClassRecord) -> None:
    """Keep in the record the root processes the hub started (its proxy and services; the
    learners' servers run as the learners and are not among them)."""
    hub = record.hub
    found = descendants(hub.pid) if hub is not None and hub.current() else []
    known = {identity for identity in record.helpers if identity.current()}
    record.hub_helpers = [
        identity.to_text() for identity in known | {one for one in found if one.uid == 0}
    ]


def stop(record: ClassRecord, say=print) -> bool:
    """Stop the hub, its proxy and its services; single-user servers keep running (see
    stop_servers).

    Returns True when a hub was running. After HUB_STOP_TIMEOUT_S seconds its process group
    is killed, and so is every root process it started that outlived it (a service it could
    not stop, say), even one a hub that died left behind. Signals only those very processes.
    """
    identity = record.hub
    running = identity is not None and identity.current()
    remember_helpers(record)
    if running:
        identity.signal(signal.SIGTERM)
        deadline = time.monotonic() + HUB_STOP_TIMEOUT_S
        while identity.current() and time.monotonic() < deadline:
            time.sleep(0.3)
        identity.kill_group()  # the hub's own session: itself and what it left
    for helper in record.helpers:
        helper.signal(signal.SIGKILL)
    record.hub_process, record.hub_helpers = "", []
    if running:
        say("hub: stopped JupyterHub, its proxy and its services")
    return running
