"""Memory and scale of a classroom: 4 learners on this machine, each running a lesson at once.

Run as root on a machine with no class up: `.venv/bin/python benchmarks/bench_classroom.py`.
It brings up a class of LEARNERS (timing it), logs each learner in over HTTP, starts their
servers (and so their rootless engines), opens a kernel in each with stagelab imported, and
measures each learner's memory as PSS (the sum of Pss in /proc/PID/smaps_rollup over every
process of the learner's uid or subordinate ids: single-user server, kernel, RootlessKit,
slirp4netns, dockerd, containerd, containers), idle and then at its peak while all learners run
a lesson's cells at the same time
(BENCH_LESSON, default lesson 06, whose builds compile C with gcc). It prints a projection
for 30 learners and purges the class.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "classroom"))
from hubclient import HubSession  # noqa: E402

from stagelab.classroom.class_record import ClassRecord  # noqa: E402
from stagelab.classroom.layout import ClassroomLayout  # noqa: E402

LEARNERS = int(os.environ.get("BENCH_LEARNERS", "4"))
PROJECT_FOR = 30
# Every port of a class is below 1024 (only root may bind it); the hub's own on PORT + 1.
PORT = 840
BASE = f"http://127.0.0.1:{PORT}"
# Lesson 06 compiles C in gcc:12-bookworm: the heaviest builds of the course.
LESSON = os.environ.get("BENCH_LESSON", "06_why_multi_stage.ipynb")
LAYOUT = ClassroomLayout.from_environment()
GOAL_IDLE_MIB = 500
MACHINE_GIB = 24
MIB = 1024 * 1024


def stagelab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stagelab.cli", *args],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )


def subordinate_range(name: str) -> range:
    for line in Path("/etc/subuid").read_text().splitlines():
        user, start, count = line.split(":")
        if user == name:
            return range(int(start), int(start) + int(count))
    return range(0)


def pss_by_owner(owners: dict[str, set | range]) -> dict[str, int]:
    """Return PSS in bytes per owner name, from every process whose uid the owner holds."""
    totals = {name: 0 for name in owners}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            uid = int(
                next(
                    line for line in status.read_text().splitlines() if line.startswith("Uid:")
                ).split()[1]
            )
            for name, uids in owners.items():
                if uid in uids:
                    rollup = (status.parent / "smaps_rollup").read_text()
                    totals[name] += 1024 * int(
                        next(
                            line for line in rollup.splitlines() if line.startswith("Pss:")
                        ).split()[1]
                    )
                    break
        except (OSError, StopIteration, ValueError):
            continue
    return totals


def hub_pss(record: ClassRecord) -> int:
    """Return the PSS of the hub's session: JupyterHub, the proxy and the services."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if record.hub is not None and int(fields[3]) == record.hub.pid:  # the session id
                rollup = (stat.parent / "smaps_rollup").read_text()
                total += 1024 * int(
                    next(line for line in rollup.splitlines() if line.startswith("Pss:")).split()[1]
                )
        except (OSError, StopIteration, ValueError, IndexError):
            continue
    return total


def code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


def main() -> int:
    if os.geteuid() != 0:
        print("run as root: the benchmark creates accounts", file=sys.stderr)
        return 2
    if LAYOUT.record.exists():
        print(
            f"a class is up ({LAYOUT.record}): run `stagelab classroom down --purge` first",
            file=sys.stderr,
        )
        return 2
    started = time.monotonic()
    done = stagelab(
        "classroom",
        "up",
        "--learners",
        str(LEARNERS),
        "--port",
        str(PORT),
        "--internal-port",
        str(PORT + 1),
        "--ip",
        "127.0.0.1",
    )
    bring_up = time.monotonic() - started
    try:
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
            return 1
        return measure(ClassRecord.load(LAYOUT.record), bring_up, done.stdout)
    finally:
        stagelab("classroom", "down", "--purge")


def measure(record: ClassRecord, bring_up: float, up_output: str) -> int:
    sessions, kernels, spawn_s = {}, {}, {}
    for name in record.learners:
        session = HubSession(BASE, name)
        assert session.login(record.passwords[name]).status_code == 302
        session.make_token()
        began = time.monotonic()
        session.start_server()
        spawn_s[name] = time.monotonic() - began
        kernels[name] = session.kernel()
        status, output = kernels[name].execute("import stagelab as sl")
        assert status == "ok", output
        sessions[name] = session
    owners = {
        name: {LAYOUT.account(name).uid} | set(subordinate_range(name)) for name in record.learners
    }
    time.sleep(10)
    idle = pss_by_owner(owners)
    hub = hub_pss(record)

    peaks = dict(idle)
    outcomes: dict[str, str] = {}
    running = threading.Event()
    running.set()

    def sample():
        while running.is_set():
            for name, value in pss_by_owner(owners).items():
                peaks[name] = max(peaks[name], value)
            time.sleep(0.5)

    def lesson(name):
        for code in code_cells(LAYOUT.account(name).home / "notebooks" / LESSON):
            status, output = kernels[name].execute(code)
            if status != "ok":
                outcomes[name] = f"failed: {output[-1:]}"
                return
        outcomes[name] = "ok"

    sampler = threading.Thread(target=sample)
    sampler.start()
    began = time.monotonic()
    workers = [threading.Thread(target=lesson, args=(name,)) for name in record.learners]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    lesson_s = time.monotonic() - began
    running.clear()
    sampler.join()
    for kernel in kernels.values():
        kernel.close()
    disk = {
        name: subprocess.run(
            ["du", "-sb", str(LAYOUT.account(name).data_root)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()[0]
        for name in record.learners
    }

    print(
        f"classroom benchmark: {LEARNERS} learners, {os.cpu_count()} cores, kernel "
        f"{os.uname().release}"
    )
    print(f"bring-up (`stagelab classroom up --learners {LEARNERS}`): {bring_up:.1f} s")
    limits = record.account_limits
    print("limits per account: " + (", ".join(limits.lines()) if limits else "none"))
    print("  " + "\n  ".join(line for line in up_output.splitlines() if "loaded" in line))
    print(
        f"{'learner':<10} {'spawn s':>8} {'idle PSS MiB':>13} {'building PSS MiB':>17} "
        f"{'engine data MiB':>16}  {LESSON}"
    )
    for name in record.learners:
        print(
            f"{name:<10} {spawn_s[name]:>8.1f} {idle[name] / MIB:>13.0f} "
            f"{peaks[name] / MIB:>17.0f} {int(disk[name]) / MIB:>16.0f}  {outcomes[name]}"
        )
    mean_idle = sum(idle.values()) / len(idle) / MIB
    mean_peak = sum(peaks.values()) / len(peaks) / MIB
    print(f"hub, proxy, dashboard and culler: {hub / MIB:.0f} MiB PSS")
    print(f"{LESSON} by all {LEARNERS} at once: {lesson_s:.1f} s wall")
    idle_30 = (PROJECT_FOR * mean_idle + hub / MIB) / 1024
    busy_30 = (PROJECT_FOR * mean_peak + hub / MIB) / 1024
    print(
        f"projection for {PROJECT_FOR} learners: {idle_30:.1f} GiB all idle, "
        f"{busy_30:.1f} GiB all building at once (machine: {MACHINE_GIB} GiB)"
    )
    print(
        f"goal: at most {GOAL_IDLE_MIB} MiB per idle learner: mean {mean_idle:.0f} MiB -> "
        f"{'met' if mean_idle <= GOAL_IDLE_MIB else 'NOT met'}"
    )
    return 0 if all(outcome == "ok" for outcome in outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
