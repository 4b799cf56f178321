"""Last: `down --purge` leaves nothing of the class behind, even with learners fighting it
(issue 24 item 5): a container running as a subordinate id, an `unshare`d process, a process
that re-forks every few milliseconds, and a process root started as a learner outside their
cgroup."""

from __future__ import annotations

import grp
import pwd
import socket
import subprocess
from pathlib import Path

import pytest
from classroom_support import PORT, as_user, stagelab
from hubclient import HubSession

from stagelab import engine, images
from stagelab.classroom import hardening, rootless
from stagelab.classroom.cgroups import CLASS_CGROUP
from stagelab.classroom.disks import mounts_under
from stagelab.classroom.layout import CLASS_GROUP, ClassroomLayout, group_exists
from stagelab.classroom.processes import processes_of
from stagelab.classroom.teardown import subordinate_ids

pytestmark = [pytest.mark.engine, pytest.mark.root]
LAYOUT = ClassroomLayout.from_environment()
BUSYBOX = "stagelab/offline-busybox:1.36"
BASE = f"http://127.0.0.1:{PORT}"

FIGHTS = {
    "learner01": "import subprocess\nprint(subprocess.run(['docker', 'run', '-d', '--user', "
    f"'1000:1000', {BUSYBOX!r}, 'sleep', '1000'], capture_output=True, text=True).returncode)",
    "learner02": "import subprocess, sys\n"
    "subprocess.Popen(['unshare', '--user', '--map-root-user', '--fork', 'sleep', '1000'], "
    "start_new_session=True)\n"
    "subprocess.Popen([sys.executable, '-c', 'import os, time\\nwhile True:\\n"
    "    if os.fork(): os._exit(0)\\n    time.sleep(0.005)'], start_new_session=True)\n"
    "print(0)",
    "learner03": "print(0)",
}


def test_down_purge_leaves_nothing_even_when_learners_fight_it(classroom):
    before = {name: hardening.current(name) for name in classroom.host_previous}
    assert before != classroom.host_previous  # the class changed them
    for name, code in FIGHTS.items():
        session = HubSession(BASE, name)
        assert session.login(classroom.passwords[name]).status_code == 302
        session.make_token()
        session.start_server()
        kernel = session.kernel()
        try:
            status, output = kernel.execute(code)
            assert status == "ok" and output == ["0\n"], (name, output)
        finally:
            kernel.close()
    # Root starting a process as a learner outside the learner's cgroup (none of stagelab's
    # do): it must end too.
    as_user("learner03", ["sh", "-c", "setsid sleep 1000 < /dev/null > /dev/null 2>&1 &"])
    uids = {name: LAYOUT.account(name).uid for name in classroom.accounts}
    ranges = {name: subordinate_ids(name) for name in classroom.accounts}
    assert processes_of(ranges["learner01"]), "the container runs as a subordinate id"
    class_gid = grp.getgrnam(CLASS_GROUP).gr_gid

    done = stagelab("classroom", "down", "--purge")

    assert done.returncode == 0, done.stdout + done.stderr
    for name, uid in uids.items():
        with pytest.raises(KeyError):
            pwd.getpwnam(name)
        assert not Path(f"/home/{name}").exists()  # homes, and the engines' data roots
        assert not Path(f"/run/user/{uid}").exists()  # runtime dirs, and the sockets
        left = processes_of({uid} | set(ranges[name]))
        assert not left, f"processes of {name} are left: {left}"
    assert not any(
        line.split(":")[0] in uids for line in Path("/etc/subuid").read_text().splitlines()
    )
    assert not group_exists(CLASS_GROUP)
    acl = subprocess.run(
        ["getfacl", "-cpn", str(rootless.TUN)], capture_output=True, text=True, check=False
    ).stdout
    assert f"group:{class_gid}:" not in acl, acl
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", PORT)) != 0, "the proxy still listens"
    assert not list(Path("/sys/fs/cgroup").glob(f"*/{CLASS_CGROUP}"))
    assert not mounts_under(LAYOUT.state) and not mounts_under(Path("/home/learner01"))
    assert not LAYOUT.state.exists() and not LAYOUT.sockets.exists()
    # The host's settings are back as they were before the class.
    assert {name: hardening.current(name) for name in classroom.host_previous} == (
        classroom.host_previous
    )
    # The shared root engine and its images are untouched.
    assert engine.ping() is not None and images.present(BUSYBOX)
