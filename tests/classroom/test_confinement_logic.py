"""The pure parts of confining learners (no root, no class): what root's terminal shows, the
sizing rule, process identities and listeners, cgroup files (in a folder laid out like the
cgroup file system), the checkout check, certificates, and the limit notes a learner sees.
The real class (test_class_*.py) tries each on the real thing."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from classroom_support import make_certificate

from stagelab import limits
from stagelab.classroom import hardening, tls
from stagelab.classroom.cgroups import CLASS_CGROUP, CgroupFs
from stagelab.classroom.layout import ClassroomError
from stagelab.classroom.processes import ProcessIdentity, listeners, processes_of
from stagelab.classroom.sizing import (
    GIB,
    Limits,
    Machine,
    check_fits,
    default_limits,
    parse_size,
    pid_max_needed,
)
from stagelab.classroom.terminal import PrintableStream, printable

# ---------------------------------------------------------------- root's terminal


def test_control_characters_are_shown_never_obeyed():
    hostile = "name\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil\rend\tok\n"
    shown = printable(hostile)
    assert shown == "name\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202eevil\\x0dend\tok\n"
    assert printable("plain text, ünïcode and emoji ✓\n") == "plain text, ünïcode and emoji ✓\n"
    stream = io.StringIO()
    PrintableStream(stream).write("a\x1bb")
    assert stream.getvalue() == "a\\x1bb"


# ---------------------------------------------------------------- sizing


def test_sizes_read_as_an_instructor_writes_them():
    assert parse_size("1.5G") == int(1.5 * GIB)
    assert parse_size("512M") == 512 * 1024**2
    assert parse_size("2GiB") == 2 * GIB and parse_size("1073741824") == GIB
    with pytest.raises(ClassroomError, match=r"1\.5G"):
        parse_size("lots")


def test_the_sizing_rule_on_a_2_core_24_gib_server():
    machine = Machine(24 * GIB, 2, 32768, 200 * GIB)
    small = default_limits(4, machine)
    assert small == Limits(4 * GIB, 1.0, 2048, 20 * GIB)
    big = default_limits(31, machine)  # 30 learners and the instructor
    assert big.memory_bytes == GIB and big.cpus == 1.0 and big.disk_bytes == 6.25 * GIB
    assert check_fits(big, 31, machine) == []
    assert pid_max_needed(big, 31, machine) == 4 * 32768  # 31 x 2048 + reserve > 32768
    assert pid_max_needed(small, 4, machine) is None


def test_limits_that_do_not_fit_say_what_to_pass():
    machine = Machine(24 * GIB, 2, 32768, 20 * GIB)
    problems = check_fits(Limits(GIB // 2, 3.0, 100, 10 * GIB), 4, machine)
    assert any("--memory" in problem for problem in problems)
    assert any("--disk" in problem for problem in problems)
    assert any("2 cores" in problem for problem in problems)
    assert any("--tasks" in problem for problem in problems)


# ---------------------------------------------------------------- processes


def test_a_pid_counts_only_while_it_is_the_same_process():
    child = subprocess.Popen(["sleep", "60"])
    identity = ProcessIdentity.of(child.pid)
    assert identity is not None and identity.current() and identity.uid == os.getuid()
    assert ProcessIdentity.from_text(identity.to_text()) == identity
    impostor = ProcessIdentity(child.pid, identity.uid, identity.start + 1)
    assert not impostor.current() and not impostor.signal(signal.SIGTERM)
    assert child.poll() is None  # the impostor's signal was never sent
    child.kill()
    child.wait()
    assert not identity.current() and not identity.signal(signal.SIGTERM)
    assert ProcessIdentity.from_text("not a pid file") is None


def test_a_fresh_process_has_its_identity_before_exec_is_done():
    # The identity comes from /proc/PID/stat, set at fork: no race with exec (issue 24 item 11).
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert ProcessIdentity.of(child.pid).current()
    finally:
        child.kill()
        child.wait()


def test_listeners_name_who_holds_a_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        (found,) = listeners(port)
        assert found.address == "127.0.0.1" and found.port == port
        assert ProcessIdentity.of(os.getpid()) in found.holders
    assert listeners(port) == []
    assert os.getpid() in processes_of({os.getuid()})


# ---------------------------------------------------------------- cgroups


def _fake_v1(root: Path) -> CgroupFs:
    for controller in ("memory", "pids", "cpu", "freezer"):
        (root / controller).mkdir(parents=True)
        (root / controller / "cgroup.procs").write_text("")
    return CgroupFs(root)


def test_v1_limits_go_to_each_hierarchy(tmp_path):
    fs = _fake_v1(tmp_path)
    assert fs.version == 1
    for folder in fs.class_folders():
        folder.mkdir()
    group = fs.account("learner01")
    for folder in group.folders():
        folder.mkdir()
    (tmp_path / "memory" / CLASS_CGROUP / "learner01" / "memory.limit_in_bytes").write_text("0")
    group.apply(Limits(GIB, 1.5, 512, 3 * GIB))
    folder = f"{CLASS_CGROUP}/learner01"
    assert (tmp_path / "memory" / folder / "memory.limit_in_bytes").read_text() == str(GIB)
    assert (tmp_path / "pids" / folder / "pids.max").read_text() == "512"
    assert (tmp_path / "cpu" / folder / "cpu.cfs_quota_us").read_text() == "150000"
    assert group.procs_files() == tuple(
        str(tmp_path / name / folder / "cgroup.procs")
        for name in ("memory", "pids", "cpu", "freezer")
    )
    (tmp_path / "memory" / folder / "memory.oom_control").write_text(
        "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"
    )
    (tmp_path / "pids" / folder / "pids.events").write_text("max 7\n")
    (tmp_path / "memory" / folder / "memory.usage_in_bytes").write_text("123456\n")
    assert group.counters() == {
        "memory_limit": GIB,
        "oom_kills": 3,
        "tasks_limit": 512,
        "tasks_refused": 7,
        "memory_used": 123456,
    }


def test_v2_limits_go_to_one_tree(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    fs = CgroupFs(tmp_path)
    assert fs.version == 2
    (tmp_path / CLASS_CGROUP / "learner01").mkdir(parents=True)
    fs.account("learner01").apply(Limits(GIB, 1.0, 2048, 3 * GIB))
    folder = tmp_path / CLASS_CGROUP / "learner01"
    assert (folder / "memory.max").read_text() == str(GIB)
    assert (folder / "pids.max").read_text() == "2048"
    assert (folder / "cpu.max").read_text() == "100000 100000"
    assert CgroupFs(tmp_path / "nothing").version is None


# ---------------------------------------------------------------- the checkout


def test_a_checkout_others_can_change_is_named(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / "labs").mkdir(parents=True)
    (checkout / "labs" / "checks.py").write_text("root runs me")
    os.chmod(checkout / "labs" / "checks.py", 0o666)
    (checkout / "link").symlink_to("/tmp")
    found = hardening.writable_by_others(checkout, limit=50)
    assert any(line.startswith(f"{checkout / 'labs' / 'checks.py'} (mode") for line in found)
    assert not any("link" in line for line in found)


# ---------------------------------------------------------------- certificates


def test_a_certificate_must_be_the_keys_and_name_the_domain(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cert, key = make_certificate(tmp_path / "a", "class.example.org")
    _, other_key = make_certificate(tmp_path / "b", "class.example.org")
    assert tls.certificate_problems(cert, key, "class.example.org") == []
    assert tls.certificate_problems(cert, key, "") == []
    assert any("not the key" in p for p in tls.certificate_problems(cert, other_key, ""))
    wrong = tls.certificate_problems(cert, key, "other.example.org")
    assert any("not valid for other.example.org" in problem for problem in wrong)
    assert tls.certificate_problems(key, key, "") == [f"{key} is not a PEM certificate"]


# ---------------------------------------------------------------- what a learner is told


def test_outside_a_classroom_no_limit_note_is_made():
    assert limits.limit_note(None) == ""
    if limits.Counters.now() is None:  # this test process is in no classroom cgroup
        assert limits.limit_note(limits.Counters.now()) == ""


def test_counters_move_and_the_note_says_which_limit(tmp_path, monkeypatch):
    folder = tmp_path / "memory" / CLASS_CGROUP / "learner01"
    pids = tmp_path / "pids" / CLASS_CGROUP / "learner01"
    folder.mkdir(parents=True)
    pids.mkdir(parents=True)
    (folder / "memory.limit_in_bytes").write_text(str(GIB))
    (folder / "memory.oom_control").write_text("oom_kill 0\n")
    (pids / "pids.max").write_text("2048")
    (pids / "pids.events").write_text("max 0\n")
    monkeypatch.setattr(limits, "_cgroup_files", lambda: {"memory": folder, "pids": pids})
    before = limits.Counters.now()
    (folder / "memory.oom_control").write_text("oom_kill 1\n")
    (pids / "pids.events").write_text("max 5\n")
    note = limits.limit_note(before, home=tmp_path)
    assert "memory limit (1 GiB)" in note and "limit of 2048 processes" in note
    assert "classroom disk" not in note
