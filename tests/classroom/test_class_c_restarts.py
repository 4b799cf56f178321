"""The class restarted: a learner racing for the class's ports during a hub restart (issue 24
item 2), idle servers culled, the class on one origin (item 1: no person's role reaches a
learner's server), and `down` then `up` again and again under load (item 11).

Each `up` here restarts the hub, which drops every websocket to a kernel: tests open kernels
of their own. Cost: about 3 hub restarts and 3 rounds of `down` and `up` (accounts, disks and
images kept), some two to four minutes on a loaded 2-core machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from classroom_support import PORT, stagelab
from hubclient import HubSession

from stagelab.classroom import hub, rootless
from stagelab.classroom.board import server_state
from stagelab.classroom.cgroups import CgroupFs
from stagelab.classroom.class_record import ClassRecord
from stagelab.classroom.layout import ClassroomLayout

pytestmark = [pytest.mark.engine, pytest.mark.root]
LAYOUT = ClassroomLayout.from_environment()
PLAIN_BASE = f"http://127.0.0.1:{PORT}"
RESTARTS_UNDER_LOAD = 3

RACER = """
import socket, sys, time
seconds, log, ports = int(sys.argv[1]), sys.argv[2], [int(port) for port in sys.argv[3:]]
end = time.monotonic() + seconds
with open(log, "w") as out:
    while time.monotonic() < end:
        for port in ports:
            for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::")):
                sock = socket.socket(family)
                try:
                    sock.bind((address, port))
                    sock.listen()
                    out.write(f"took {address} {port}\\n")
                except OSError:
                    pass
                finally:
                    sock.close()
        time.sleep(0.005)
    out.write("done\\n")
"""


def test_a_hub_restart_leaves_no_class_port_to_race_for(servers, classroom):
    """While `up` restarts the hub, a learner's process tries every few milliseconds to take
    the class's ports; it never gets one, and after the restart each is held by the hub or a
    process it started."""
    ports = [classroom.port, classroom.internal_port, classroom.internal_port + 1]
    log = "/home/learner01/racer.log"
    kernel = servers["learner01"].kernel()
    try:
        status, output = kernel.execute(
            "import subprocess, sys\n"
            f"racer = subprocess.Popen([sys.executable, '-c', {RACER!r}, '90', {log!r}, "
            f"*map(str, {ports!r})], start_new_session=True)"
        )
        assert status == "ok", output
    finally:
        kernel.socket.close()
    done = stagelab("classroom", "up", "--learners", "3", "--idle-timeout", "3599")
    assert done.returncode == 0 and "restarting JupyterHub" in done.stdout, done
    deadline = time.monotonic() + 180
    while "done" not in Path(log).read_text() and time.monotonic() < deadline:
        time.sleep(1)
    assert Path(log).read_text() == "done\n"
    Path(log).unlink()
    assert hub.check_ports(LAYOUT, ClassRecord.load(LAYOUT.record)) == []


def test_idle_servers_and_their_engines_are_culled(servers, classroom):
    account = LAYOUT.account("learner01")
    assert rootless.engine_pid(account) is not None
    done = stagelab("classroom", "up", "--learners", "3", "--idle-timeout", "30")
    assert done.returncode == 0 and "restarting JupyterHub" in done.stdout, done
    culler = [
        path
        for path in Path("/proc").glob("[0-9]*/cmdline")
        if b"jupyterhub_idle_culler" in path.read_bytes()
    ]
    assert len(culler) == 1 and b"--timeout=30" in culler[0].read_bytes()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        model = servers["learner01"].api("GET", "/users/learner01").json()
        if server_state(model) == "stopped" and rootless.engine_pid(account) is None:
            break
        time.sleep(2)
    else:
        raise AssertionError(f"learner01's idle server was not culled: {model}")
    assert not rootless.engine_answers(account)
    assert CgroupFs().account("learner01").members() == set()
    assert (account.home / "labs" / "01-fix-the-pipeline" / "Dockerfile").exists()


@pytest.fixture(scope="module")
def one_origin(classroom):
    """The class again on one origin, over plain HTTP on 127.0.0.1, with sessions."""
    done = stagelab(
        "classroom", "up", "--learners", "3", "--domain", "", "--no-tls", "--idle-timeout", "3600"
    )
    assert done.returncode == 0 and "restarting JupyterHub" in done.stdout, done
    assert f"Hub: {PLAIN_BASE}/" in done.stdout and "WARNING" not in done.stdout, done.stdout
    sessions = {}
    for name in ("learner01", "instructor"):
        sessions[name] = HubSession(PLAIN_BASE, name)
        assert sessions[name].login(classroom.passwords[name]).status_code == 302
        sessions[name].make_token()
    sessions["learner01"].start_server()
    return sessions


def test_on_one_origin_no_role_a_person_holds_reaches_a_learners_server(one_origin):
    instructor = one_origin["instructor"]
    # Only their own server (JupyterHub's `self` gives access:servers!user=instructor).
    scopes = instructor.api("GET", "/user").json()["scopes"]
    reach = [scope for scope in scopes if scope.startswith("access:servers")]
    assert reach == ["access:servers!user=instructor"], scopes
    assert instructor.server("GET", "/status", user="learner01").status_code in (403, 404)
    page = instructor.http.get(f"{PLAIN_BASE}/user/learner01/api/status", timeout=60)
    assert page.status_code == 403 or "/hub/login" in page.url, (page.status_code, page.url)
    assert one_origin["learner01"].server("GET", "/status").status_code == 200


def test_on_one_origin_the_dashboard_links_into_no_server(one_origin):
    board = one_origin["instructor"].http.get(
        f"{PLAIN_BASE}/services/dashboard/api/board", timeout=120
    )
    assert board.status_code == 200, board.text[:300]
    rows = board.json()["learners"]
    assert rows and all(row.get("server_url") is None for row in rows), rows
    page = one_origin["instructor"].http.get(f"{PLAIN_BASE}/services/dashboard/", timeout=60)
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "/user/" not in page.text  # nothing on the page names a server's path


def test_up_starts_the_class_again_and_again_under_load(one_origin):
    """Issue 24 item 11: `up` once failed at random while exec was still installing the new
    hub. Each round here takes the class down and brings it up while both cores are busy."""
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
        for _ in range(2)
    ]
    try:
        for round_number in range(RESTARTS_UNDER_LOAD):
            down = stagelab("classroom", "down")
            assert down.returncode == 0, (round_number, down.stdout, down.stderr)
            again = stagelab("classroom", "up", "--learners", "3")
            assert again.returncode == 0, (round_number, again.stdout, again.stderr)
            assert "starting JupyterHub" in again.stdout
            record = ClassRecord.load(LAYOUT.record)
            assert hub.hub_alive(record) and hub.check_ports(LAYOUT, record) == []
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    status = json.loads(stagelab("classroom", "status", "--json").stdout)
    assert status["hub_url"] == f"{PLAIN_BASE}/"
