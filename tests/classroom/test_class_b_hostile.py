"""Issue 24, one server: each item tried as a hostile learner would, on the real class of 3.

Learners act from their own kernels (the way a learner's code runs: confined, in their cgroup
and namespaces) unless a test says otherwise. Each test leaves the class as it found it.
"""

from __future__ import annotations

import json
import os
import stat
import time
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from classroom_support import BASE, DOMAIN, PORT, as_user, stagelab
from dashboard_browser import script_on_learner_origin

from stagelab.classroom import hardening, hub, rootless
from stagelab.classroom.cgroups import CgroupFs
from stagelab.classroom.layout import ClassroomError, ClassroomLayout
from stagelab.classroom.lifecycle import UpOptions, up
from stagelab.classroom.processes import processes_of
from stagelab.classroom.teardown import subordinate_ids

pytestmark = [pytest.mark.engine, pytest.mark.root]
LAYOUT = ClassroomLayout.from_environment()
BUSYBOX = "stagelab/offline-busybox:1.36"


@pytest.fixture(scope="module")
def kernels(servers):
    """A kernel in each learner's server, for the module."""
    opened = {name: servers[name].kernel() for name in ("learner01", "learner02", "learner03")}
    yield opened
    for kernel in opened.values():
        kernel.close()


def run(kernel, code: str) -> str:
    """Run code in a learner's kernel; return what it printed (it must succeed)."""
    status, output = kernel.execute(code)
    assert status == "ok", output
    return "".join(output)


# ------------------------------------------------------------------ 1. per-user origins


def test_each_server_has_an_origin_of_its_own_and_the_hub_cookie_stays_home(servers, classroom):
    server = servers["learner01"].api("GET", "/users/learner01").json()["servers"][""]
    assert server["full_url"] == f"https://learner01.{DOMAIN}:{PORT}/user/learner01/"
    login = next(
        cookie
        for cookie in servers["instructor"].http.cookies
        if cookie.name.endswith("jupyterhub-hub-login")
    )
    # A __Host- cookie: Secure, on its host alone (no Domain), path /: never sent to a server.
    assert login.name.startswith("__Host-") and login.secure and not login.domain_specified
    assert login.domain == DOMAIN and login.path == "/"


ATTACK = """async () => {
  const hub = "https://%(domain)s:%(port)s";
  const found = {cookies: document.cookie.split(";").map(c => c.split("=")[0].trim())};
  async function tryFetch(key, url, options) {
    try {
      const answer = await fetch(url, {credentials: "include", ...options});
      found[key] = "read " + answer.status + " " + (await answer.text()).slice(0, 200);
    } catch (error) { found[key] = "blocked"; }
  }
  await tryFetch("token", hub + "/hub/api/users/instructor/tokens",
                 {method: "POST", body: JSON.stringify({note: "planted"})});
  await tryFetch("users", hub + "/hub/api/users", {});
  await tryFetch("other", "https://learner02.%(domain)s:%(port)s/user/learner02/api/contents", {});
  return found;
}"""


@pytest.mark.browser
def test_a_script_on_a_learners_origin_cannot_act_as_the_instructor(servers, classroom, tmp_path):
    """Issue 24 item 1: the instructor opens learner01's server; a script learner01 planted
    there runs in the instructor's browser. It cannot mint a token, read the hub's API or
    reach another learner's server: they are other origins."""
    url = servers["learner01"].api("GET", "/users/learner01").json()["servers"][""]["full_url"]
    found = script_on_learner_origin(
        BASE,
        url,
        "instructor",
        classroom.passwords["instructor"],
        tmp_path,
        ATTACK % {"domain": DOMAIN, "port": PORT},
    )
    assert not any(name.endswith(("hub-login", "session-id")) for name in found["cookies"]), found
    assert (found["token"], found["users"], found["other"]) == ("blocked",) * 3, found
    tokens = servers["instructor"].api("GET", "/users/instructor/tokens").json()["api_tokens"]
    assert not any(token.get("note") == "planted" for token in tokens), tokens


# ------------------------------------------------------------------ 2. ports


BIND_ALL = """
import errno, socket
results = []
for port in %(ports)r:
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "0.0.0.0"),
                            (socket.AF_INET6, "::1"), (socket.AF_INET6, "::")):
        sock = socket.socket(family)
        try:
            sock.bind((address, port)); sock.listen(); results.append(f"bound {address} {port}")
        except OSError as error:
            results.append(errno.errorcode[error.errno])
        finally:
            sock.close()
print(sorted(set(results)))
"""


def test_no_learner_can_bind_a_port_of_the_class(kernels, classroom):
    ports = [classroom.port, classroom.internal_port, classroom.internal_port + 1]
    assert max(ports) < hardening.unprivileged_port_start()
    assert run(kernels["learner01"], BIND_ALL % {"ports": ports}).strip() == "['EACCES']"
    # The record as it is now: the hub and its helpers are those of the last start.
    assert hub.check_ports(LAYOUT, type(classroom).load(LAYOUT.record)) == []


def test_the_proxy_api_is_out_of_reach_and_the_hub_api_wants_a_token(kernels, classroom):
    code = f"""
import socket, urllib.request, urllib.error
s = socket.socket(socket.AF_UNIX)
try:
    s.connect({str(LAYOUT.proxy_api_socket)!r}); print("connected")
except PermissionError:
    print("denied")
try:
    urllib.request.urlopen("{classroom.hub_api_url}/users", timeout=30)
except urllib.error.HTTPError as error:
    print(error.code)
"""
    assert run(kernels["learner01"], code).split() == ["denied", "403"]


def test_a_port_held_by_anyone_but_the_class_is_named(kernels, classroom):
    listen = """
import socket
squatter = socket.socket(); squatter.bind(("127.0.0.1", 0)); squatter.listen()
print(squatter.getsockname()[1])
"""
    port = int(run(kernels["learner02"], listen))
    record = replace(type(classroom).load(LAYOUT.record), port=port)
    problems = hub.check_ports(LAYOUT, record)
    uid = LAYOUT.account("learner02").uid
    assert any(f"({port})" in problem or f":{port})" in problem for problem in problems)
    assert any(f"uid {uid}" in problem for problem in problems), problems
    run(kernels["learner02"], "squatter.close()")


# ------------------------------------------------------------------ 3. TLS


def test_logins_and_cookies_go_over_tls_only(servers, certificate):
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://{DOMAIN}:{PORT}/hub/login", timeout=30)
    cookies = list(servers["learner01"].http.cookies)
    assert cookies and all(cookie.secure for cookie in cookies), cookies


# ------------------------------------------------------------------ 4. kernels


def test_kernel_sockets_are_files_no_other_learner_can_open(kernels):
    account = LAYOUT.account("learner02")
    run(kernels["learner02"], "secret = 'only-learner02'")
    files = sorted((account.runtime_dir / "jupyter").glob("kernel-*.json"))
    assert files
    sockets = []
    for path in files:
        connection = json.loads(path.read_text())
        assert connection["transport"] == "ipc", connection
        assert Path(connection["ip"]).parent == account.runtime_dir / "jupyter"
        sockets += [f"{connection['ip']}-{connection[key]}" for key in ("iopub_port", "shell_port")]
    # On TCP, learner02 listens with their server's HTTP port and, per kernel, ipykernel's
    # IOPub pipe for forked children (ipykernel/iostream.py, _setup_pipe_in: hard-coded to
    # tcp://127.0.0.1): a PULL socket, which sends nothing, and drops every message that does
    # not start with its 16 random bytes. No kernel socket is on TCP.
    listening = [
        int(line.split()[1].split(":")[1], 16)
        for table in ("tcp", "tcp6")
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        if line.split()[3] == "0A" and int(line.split()[7]) == account.uid
    ]
    kernel_pids = [
        path.parent.name
        for path in Path("/proc").glob("[0-9]*/cmdline")
        if path.parent.stat().st_uid == account.uid and b"ipykernel_launcher" in _read(path)
    ]
    assert kernel_pids and len(listening) == 1 + len(kernel_pids), (listening, kernel_pids)
    code = f"""
import socket, zmq
for path in {sockets!r}:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path); print("connected", path)
    except PermissionError:
        print("denied")
# Every TCP port of learner02's: subscribing gets nothing; what is pushed is dropped.
context = zmq.Context()
for port in {listening!r}:
    sub = context.socket(zmq.SUB); sub.setsockopt(zmq.SUBSCRIBE, b""); sub.linger = 0
    sub.connect(f"tcp://127.0.0.1:{{port}}")
    push = context.socket(zmq.PUSH); push.linger = 500
    push.connect(f"tcp://127.0.0.1:{{port}}")
    push.send_multipart([bytes(16), b"planted"])
    push.close()
    print("read" if sub.poll(1000) else "denied")
    sub.close()
"""
    assert set(run(kernels["learner01"], code).split()) == {"denied"}
    # Nothing learner01 pushed reached learner02's notebook.
    assert run(kernels["learner02"], "print(secret)") == "only-learner02\n"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""  # it ended meanwhile


def test_a_learners_own_config_cannot_bring_tcp_kernels_back(servers, kernels):
    plant = """
import os, pathlib
home = pathlib.Path.home()
(home / ".jupyter").mkdir(exist_ok=True)
(home / ".jupyter/jupyter_server_config.py").write_text(
    "c.KernelManager.transport = 'tcp'\\nc.ServerApp.jpserver_extensions = {'planted': True}\\n")
extension = home / ".local/share/jupyter/labextensions/planted"
extension.mkdir(parents=True, exist_ok=True)
(extension / "package.json").write_text('{"name": "planted", "jupyterlab": {}}')
"""
    run(kernels["learner03"], plant)
    learner = servers["learner03"]
    assert learner.api("DELETE", "/users/learner03/server").status_code in (202, 204)
    deadline = time.monotonic() + 120
    while learner.api("GET", "/users/learner03").json().get("servers") and (
        time.monotonic() < deadline
    ):
        time.sleep(1)
    learner.start_server()
    kernels["learner03"] = learner.kernel()
    # Every kernel's connection file (those of kernels the restart ended may stay behind).
    connections = list((LAYOUT.account("learner03").runtime_dir / "jupyter").glob("kernel-*.json"))
    assert connections
    assert {json.loads(path.read_text())["transport"] for path in connections} == {"ipc"}
    page = learner.http.get(f"{learner.origin()}/user/learner03/lab", timeout=120)
    assert page.status_code == 200 and "jupyter-config-data" in page.text
    assert "planted" not in page.text
    run(
        kernels["learner03"],
        "import shutil, pathlib; h = pathlib.Path.home()\n"
        "shutil.rmtree(h / '.jupyter'); shutil.rmtree(h / '.local/share/jupyter/labextensions')",
    )


# ------------------------------------------------------------------ 6. limits


def test_each_learner_is_in_a_cgroup_of_their_own_with_its_limits(servers, classroom):
    limits = classroom.account_limits
    for name in ("learner01", "learner02", "learner03"):
        account = LAYOUT.account(name)
        group = CgroupFs().account(name)
        members = group.members()
        assert rootless.engine_pid(account) in members
        # Every process of the learner's uid is in their cgroup: server, kernels, engine.
        assert set(processes_of({account.uid})) <= members, name
        root = Path("/sys/fs/cgroup")
        folder = f"stagelab-classroom/{name}"
        assert int((root / "memory" / folder / "memory.limit_in_bytes").read_text()) == (
            limits.memory_bytes
        )
        assert (root / "pids" / folder / "pids.max").read_text().strip() == str(limits.tasks)
        quota = int((root / "cpu" / folder / "cpu.cfs_quota_us").read_text())
        assert quota == int(limits.cpus * 100_000)


FORK_BOMB = """
import os, subprocess, sys, time, pathlib
from stagelab.limits import Counters, limit_note
before = Counters.now()
done = pathlib.Path.home() / "bomb.txt"
bomb = subprocess.Popen([sys.executable, "-c", f'''
import os, time
children = 0
while True:
    try:
        pid = os.fork()
    except BlockingIOError:
        break
    if pid == 0:
        os.execv("/bin/sleep", ["sleep", "600"])
    children += 1
open({str(done)!r}, "w").write(str(children))
time.sleep(600)
'''], start_new_session=True)
while not done.exists():
    time.sleep(0.5)
print(done.read_text())
print(limit_note(before))
"""
TASKS_DURING_THE_BOMB = 400


def test_a_fork_bomb_hits_its_learners_task_limit_and_no_one_else(kernels, classroom):
    """Issue 24 item 6: the task limit is an option of `up`, applied to running learners
    at once (a small one here, so that the bomb stays far from the memory limit)."""
    lowered = stagelab("classroom", "up", "--learners", "3", "--tasks", str(TASKS_DURING_THE_BOMB))
    assert lowered.returncode == 0 and "starting JupyterHub" not in lowered.stdout, lowered
    try:
        output = run(kernels["learner03"], FORK_BOMB)
        children = int(output.split()[0])
        assert 100 < children < TASKS_DURING_THE_BOMB, output
        assert f"limit of {TASKS_DURING_THE_BOMB} processes and threads" in output, output
        # Meanwhile another learner starts processes as usual.
        started = run(kernels["learner01"], "import subprocess\nprint(subprocess.run(['true']))")
        assert "returncode=0" in started
        run(kernels["learner03"], "import signal\nos.killpg(bomb.pid, signal.SIGKILL)\nbomb.wait()")
    finally:
        restored = stagelab(
            "classroom", "up", "--learners", "3", "--tasks", str(classroom.account_limits.tasks)
        )
        assert restored.returncode == 0, restored
        Path("/home/learner03/bomb.txt").unlink(missing_ok=True)


def test_memory_beyond_the_limit_ends_only_the_learners_process_and_says_why(kernels):
    code = f"""
import stagelab as sl
try:
    sl.run({BUSYBOX!r}, ["sh", "-c", "head -c 1800m /dev/zero | tail"])
except Exception as error:
    print(type(error).__name__, error)
"""
    output = run(kernels["learner03"], code)
    assert output.startswith("RunFailed") and "exited with code 137" in output, output
    assert "reached its memory limit (1 GiB)" in output, output
    assert rootless.engine_answers(LAYOUT.account("learner01"))
    assert CgroupFs().account("learner01").counters()["oom_kills"] == 0


def test_a_full_disk_stops_only_its_learner_and_says_why(kernels):
    code = """
import os, pathlib, shutil, subprocess
from stagelab.limits import Counters, limit_note
home = pathlib.Path.home()
try:
    print(subprocess.run(["fallocate", "-l", "8G", str(home / "big")], capture_output=True,
                         text=True).stderr.strip().split(": ")[-1])
    (home / "big").unlink(missing_ok=True)  # a failed fallocate may keep what it got
    free = shutil.disk_usage(home).free
    subprocess.run(["fallocate", "-l", str(free - 16 * 1024**2), str(home / "big")], check=True)
    print(os.statvfs("/tmp").f_fsid == os.statvfs(home).f_fsid)
    print(limit_note(Counters.now()))
finally:
    (home / "big").unlink(missing_ok=True)
"""
    output = run(kernels["learner01"], code)
    assert output.splitlines()[:2] == ["No space left on device", "True"], output
    assert "Your classroom disk (" in output and ") is full" in output, output
    wrote = as_user("learner02", ["sh", "-c", "head -c 10M /dev/zero > ~/ten && rm ~/ten"])
    assert wrote.returncode == 0, wrote.stderr


# ------------------------------------------------------------------ 7. progress records


def test_one_learners_progress_record_cannot_break_the_board(servers, classroom):
    hostile = [
        "[" * 200_000,
        '{"lab": "01", "time": "t", "passed": ' + "9" * 5000 + ', "total": 4}',
        '{"lab": "01", "time": "t", "passed": NaN, "total": 4}',
        '{"lab": "01", "time": "' + "x" * 2_000_000 + '", "passed": 1, "total": 4}',
        '{"lab": "__proto__", "time": "<img src=x onerror=alert(1)>", "passed": 1, "total": 4}',
    ]
    record = "/home/learner02/.stagelab/progress.jsonl"
    as_user("learner02", ["mkdir", "-p", "/home/learner02/.stagelab"])
    as_user("learner02", ["sh", "-c", f"cat > {record}"], input_text="\n".join(hostile))
    as_user("learner03", ["mkdir", "-p", "/home/learner03/.stagelab"])
    as_user("learner03", ["ln", "-sf", "/etc/shadow", "/home/learner03/.stagelab/progress.jsonl"])
    board = servers["instructor"].http.get(f"{classroom.dashboard_url}api/board", timeout=120)
    assert board.status_code == 200, board.text[:500]
    rows = {row["name"]: row for row in board.json()["learners"]}
    assert rows["learner01"]["labs"]["01"]["done"], rows["learner01"]
    assert rows["learner02"]["skipped"] >= 4 and "error" not in rows["learner02"]
    assert rows["learner02"]["labs"]["__proto__"]["time"] == "<img src=x onerror=alert(1)>"
    assert rows["learner03"]["labs"] == {}  # /etc/shadow, read as learner03: nothing
    details = servers["instructor"].http.get(
        f"{classroom.dashboard_url}api/learner/learner01/01", timeout=120
    )
    assert details.status_code == 200 and any(
        file["path"] == "Dockerfile" for file in details.json()["files"]
    )
    for wrong in ("learner99/01", "learner01/1", "instructor/01"):
        url = f"{classroom.dashboard_url}api/learner/{wrong}"
        assert servers["instructor"].http.get(url, timeout=60).status_code == 404, wrong
    as_user("learner02", ["rm", "-f", record])
    as_user("learner03", ["rm", "-f", "/home/learner03/.stagelab/progress.jsonl"])


# ------------------------------------------------------------------ 8. the hub's files


def test_the_hub_database_logs_and_state_are_roots_alone(servers):
    for folder in (LAYOUT.state, LAYOUT.logs, LAYOUT.sockets, LAYOUT.disks, LAYOUT.tls):
        info = folder.stat()
        assert info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o700, folder
    for path in [LAYOUT.hub_database, LAYOUT.cookie_secret, LAYOUT.hub_log, LAYOUT.tls_key]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    for name in ("learner01", "learner02"):
        assert stat.S_IMODE(LAYOUT.engine_log(name).stat().st_mode) == 0o600
    for path in (LAYOUT.hub_database, LAYOUT.hub_log, LAYOUT.engine_log("learner02")):
        done = as_user("learner01", ["cat", str(path)])
        assert done.returncode != 0 and "Permission denied" in done.stderr, path


# ------------------------------------------------------------------ 9. reset


PLANT = r"""
import os, pathlib
home = pathlib.Path.home()
for package in ("stagelab", "stagelab/classroom"):
    (home / package).mkdir(parents=True, exist_ok=True)
    (home / package / "__init__.py").write_text(
        "import pathlib; pathlib.Path.home().joinpath('planted-ran').touch()\n"
        "print('\x1b]0;pwned\x07\x1b[2J')\n")
(home / "stagelab/classroom/as_learner.py").write_text((home / "stagelab/__init__.py").read_text())
site = home / ".local/lib/python3.11/site-packages"
site.mkdir(parents=True, exist_ok=True)
(site / "usercustomize.py").write_text((home / "stagelab/__init__.py").read_text())
lab = home / "labs/01-fix-the-pipeline"
evil = lab / "\x1b[2J\x1b[31mevil"
evil.mkdir(exist_ok=True)
(evil / "inside").write_text("mine")
os.chmod(evil, 0o555)
"""


def test_reset_runs_nothing_of_the_learners_and_escapes_what_they_wrote(kernels):
    run(kernels["learner01"], PLANT)
    done = stagelab("classroom", "reset", "learner01", "01")
    home = Path("/home/learner01")
    assert not (home / "planted-ran").exists(), done.stdout + done.stderr
    shown = done.stdout + done.stderr
    assert "\x1b" not in shown and "\x07" not in shown, repr(shown)
    assert "\\x1b[2J\\x1b[31mevil" in shown, shown  # the failure names it, escaped
    assert done.returncode == 1
    evil = home / "labs/01-fix-the-pipeline/\x1b[2J\x1b[31mevil"
    assert (evil / "inside").read_text() == "mine"  # all or nothing: it stayed
    run(
        kernels["learner01"],
        "import os, shutil, pathlib; h = pathlib.Path.home()\n"
        f"os.chmod({str(evil)!r}, 0o755); shutil.rmtree({str(evil)!r})\n"
        "shutil.rmtree(h / 'stagelab'); shutil.rmtree(h / '.local/lib')",
    )


# ------------------------------------------------------------------ 10. the host


def test_the_host_is_hardened_while_the_class_runs(kernels, classroom):
    for name, value in hardening.wanted_settings(None).items():
        assert hardening.current(name) == value, name
    code = """
import os
print(sorted({os.stat(f"/proc/{pid}").st_uid for pid in os.listdir("/proc") if pid.isdigit()}))
"""
    uid = LAYOUT.account("learner01").uid
    seen = json.loads(run(kernels["learner01"], code))
    assert set(seen) <= {uid} | set(subordinate_ids("learner01")), seen
    hub_pid = type(classroom).load(LAYOUT.record).hub.pid
    done = as_user("learner01", ["cat", f"/proc/{hub_pid}/cmdline"])
    assert done.returncode != 0 and "No such file" in done.stderr, done


def test_root_checks_who_listens_before_talking_to_a_learners_socket(servers):
    victim, other = LAYOUT.account("learner03"), LAYOUT.account("learner01")
    assert rootless.engine_answers(victim) and rootless.engine_answers(other)
    planted = as_user(
        "learner03", ["ln", "-sf", str(other.socket), str(victim.socket)]
    )  # learner03 cannot use it; root could
    assert planted.returncode == 0, planted.stderr
    assert not rootless.engine_answers(victim)  # root followed it, saw learner01, sent nothing
    learner = servers["learner03"]
    learner.api("DELETE", "/users/learner03/server")
    deadline = time.monotonic() + 120
    while learner.api("GET", "/users/learner03").json().get("servers") and (
        time.monotonic() < deadline
    ):
        time.sleep(1)
    learner.start_server()
    assert rootless.engine_answers(victim)


def test_up_refuses_a_checkout_others_can_write(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / "labs").mkdir(parents=True)
    os.chmod(checkout / "labs", 0o777)
    with pytest.raises(ClassroomError, match="others can change it") as refused:
        up(ClassroomLayout.under(tmp_path / "class"), UpOptions(learners=1), checkout, print)
    assert str(checkout / "labs") in str(refused.value)
    assert not (tmp_path / "class").exists()  # refused before anything was made
