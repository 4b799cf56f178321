"""A full class on one server, measured for real (issue 21 item 5).

Run as root on a machine with no class up:
`.venv/bin/python benchmarks/bench_classroom.py --learners 30 [--groups 5,10,30] [--disk 1.3G]`.
It brings up a class of --learners (timing `up`), logs every learner in over HTTP and starts
all their servers at once (and so their rootless engines: timed too), opens a kernel in each
with stagelab imported, and measures memory as PSS (the sum of Pss in /proc/PID/smaps_rollup
over every process of the learner's uid or subordinate ids: single-user server, kernel,
RootlessKit, slirp4netns, dockerd, containerd, containers) for each idle learner and for the
hub side (JupyterHub, the proxy, the dashboard, the culler), and each learner's disk (their
engine's data and their file system's use). Then, for each group size N of --groups, the
first N learners run every cell of a lesson (--lesson, default lesson 02) at the same time,
each in a fresh kernel, their build caches pruned first (`classroom clean`'s prune): the wall
time per learner, the PSS peak (all learners and the hub), the machine's lowest MemAvailable,
and whether every cell ran (the lesson's cells assert the statuses its builds report). Last,
every learner at once runs a first build FROM an image `up` did not load (--first-use, default
gcc:12-bookworm, lesson 05's), which loads it from the class's images (class_images.py): the
same figures, each learner's one "loaded" line and its build's statuses, and the disk after.
Each figure is printed as soon as it is measured, so a run stopped early keeps what it had.
The class is purged at the end, whatever happened.
"""

from __future__ import annotations

import argparse
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
from stagelab.classroom.usage import prune_build_cache  # noqa: E402

# Every port of a class is below 1024 (only root may bind it); the hub's own on PORT + 1.
PORT = 840
BASE = f"http://127.0.0.1:{PORT}"
LESSON = "02_what_is_a_stage.ipynb"
LAYOUT = ClassroomLayout.from_environment()
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


def say(text: str) -> None:
    print(text, flush=True)


def mem_available() -> int:
    """Return the machine's MemAvailable (/proc/meminfo), in bytes."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=4)
    parser.add_argument("--groups", default="5,10,30", help="learners running the lesson at once")
    parser.add_argument("--lesson", default=LESSON)
    parser.add_argument("--disk", help="disk per account (`up --disk`)")
    parser.add_argument(
        "--first-use", default="gcc:12-bookworm", help="an image `up` does not load ('': none)"
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root: the benchmark creates accounts", file=sys.stderr)
        return 2
    if LAYOUT.record.exists():
        print(
            f"a class is up ({LAYOUT.record}): run `stagelab classroom down --purge` first",
            file=sys.stderr,
        )
        return 2
    up = ["classroom", "up", "--learners", str(args.learners), "--port", str(PORT)]
    up += ["--internal-port", str(PORT + 1), "--ip", "127.0.0.1"]
    up += ["--disk", args.disk] if args.disk else []
    say(
        f"classroom benchmark: {args.learners} learners, {os.cpu_count()} cores, "
        f"{mem_available() / 2**30:.1f} GiB available, kernel {os.uname().release}"
    )
    started = time.monotonic()
    done = stagelab(*up)
    bring_up = time.monotonic() - started
    try:
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
            return 1
        say(f"bring-up (`stagelab {' '.join(up)}`): {bring_up:.1f} s")
        groups = [int(n) for n in args.groups.split(",") if 0 < int(n) <= args.learners]
        return measure(
            ClassRecord.load(LAYOUT.record), done.stdout, groups, args.lesson, args.first_use
        )
    finally:
        stagelab("classroom", "down", "--purge")


def start_all(record: ClassRecord) -> dict[str, HubSession]:
    """Log every learner in and start all their servers at once; print how long it took."""
    sessions = {}
    for name in record.learners:
        session = HubSession(BASE, name)
        assert session.login(record.passwords[name]).status_code == 302
        session.make_token()
        sessions[name] = session
    began = time.monotonic()
    spawn_s = {}

    def start(name):
        sessions[name].start_server(timeout=1800)
        spawn_s[name] = time.monotonic() - began

    threads = [threading.Thread(target=start, args=(name,)) for name in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    say(
        f"every server and engine started at once: {time.monotonic() - began:.1f} s "
        f"(first ready {min(spawn_s.values()):.1f} s, last {max(spawn_s.values()):.1f} s; "
        f"{len(spawn_s)} of {len(sessions)})"
    )
    return sessions


def disk_used(name: str) -> tuple[int, int]:
    """Return the bytes of the learner's engine data (du) and used on their file system."""
    account = LAYOUT.account(name)
    du = subprocess.run(
        ["du", "-sb", str(account.data_root)], capture_output=True, text=True, check=False
    ).stdout.split()
    fs = os.statvfs(account.home)
    return (int(du[0]) if du else 0), (fs.f_blocks - fs.f_bfree) * fs.f_frsize


def first_build(image: str) -> list[str]:
    """Return the cells of a first build FROM `image`: it must say it loaded the image once,
    and every stage must be built (nothing is cached on a first use)."""
    return [
        "import stagelab as sl\n"
        f"text = 'FROM {image} AS build\\nRUN echo built > /v\\n"
        "FROM busybox:1.36\\nCOPY --from=build /v /v\\n'\n"
        "result = sl.build(text, progress=False)\n"
        "print(dict(result.stage_status))\n"
        "assert set(result.stage_status.values()) == {'built'}, result.stage_status"
    ]


def measure(
    record: ClassRecord, up_output: str, groups: list[int], lesson: str, first_use: str
) -> int:
    limits = record.account_limits
    say("limits per account: " + (", ".join(limits.lines()) if limits else "none"))
    shown = ("loaded", "note:", "images:")
    say(
        "  "
        + "\n  ".join(
            line for line in up_output.splitlines() if line.startswith(shown) or "loaded" in line
        )
    )
    sessions = start_all(record)
    kernels = {name: session.kernel() for name, session in sessions.items()}
    for kernel in kernels.values():
        status, output = kernel.execute("import stagelab as sl")
        assert status == "ok", output
    owners = {
        name: {LAYOUT.account(name).uid} | set(subordinate_range(name)) for name in record.learners
    }
    time.sleep(10)
    idle = pss_by_owner(owners)
    hub = hub_pss(record)
    mean_idle = sum(idle.values()) / len(idle)
    say(
        "idle, per learner (server, engine, a kernel with stagelab imported): "
        f"PSS mean {mean_idle / MIB:.0f} MiB, "
        f"min {min(idle.values()) / MIB:.0f}, max {max(idle.values()) / MIB:.0f}"
    )
    say(f"hub side (hub, proxy, dashboard, culler): {hub / MIB:.0f} MiB PSS")
    for kernel in kernels.values():
        kernel.close()
    disks = {name: disk_used(name) for name in record.learners}
    say(
        f"disk per learner after bring-up: engine data {_mean(d[0] for d in disks.values())} "
        f"MiB, file system used {_mean(d[1] for d in disks.values())} MiB (mean)"
    )
    failures = 0
    cells = code_cells(ROOT / "notebooks" / lesson)
    for size in groups:
        failures += run_group(sessions, owners, record.learners[:size], cells, lesson, hub)
    if first_use:
        loads = f"images: loaded {first_use} from the class's images"
        failures += run_group(
            sessions,
            owners,
            record.learners,
            first_build(first_use),
            f"a first build FROM {first_use}",
            hub,
            loads,
        )
    disks = {name: disk_used(name) for name in record.learners}
    say(
        f"disk per learner at the end: engine data {_mean(d[0] for d in disks.values())} MiB, "
        f"file system used {_mean(d[1] for d in disks.values())} MiB (mean), "
        f"largest {max(d[1] for d in disks.values()) / MIB:.0f} MiB"
    )
    return 1 if failures else 0


def _mean(values) -> str:
    values = list(values)
    return f"{sum(values) / len(values) / MIB:.0f}"


def run_group(
    sessions, owners, names: list[str], cells: list[str], what: str, hub: int, once: str = ""
) -> int:
    """Run `cells` in a fresh kernel of each of `names` at once; print the figures; return
    how many learners had a cell fail (or, with `once`, did not print a line starting so
    exactly once)."""
    for name in names:
        prune_build_cache(LAYOUT, LAYOUT.account(name))
    kernels = {name: sessions[name].kernel() for name in names}
    group = {name: owners[name] for name in names}
    peak = {"pss": 0, "learner": 0, "available": mem_available()}
    outcomes, wall = {}, {}
    running = threading.Event()
    running.set()

    def sample():
        while running.is_set():
            now = pss_by_owner(group)
            peak["pss"] = max(peak["pss"], sum(now.values()))
            peak["learner"] = max(peak["learner"], max(now.values()))
            peak["available"] = min(peak["available"], mem_available())
            time.sleep(1)

    def run(name):
        began = time.monotonic()
        outcomes[name] = "ok"
        printed = []
        for code in cells:
            status, output = kernels[name].execute(code)
            printed += "".join(output).splitlines()
            if status != "ok":
                outcomes[name] = f"failed: {output[-1:]}"
                break
        wall[name] = time.monotonic() - began
        said = [line for line in printed if once and line.startswith(once)]
        if once and outcomes[name] == "ok" and len(said) != 1:
            outcomes[name] = f"said {len(said)} times {once!r}: {printed[-3:]}"
        elif once:
            outcomes[name] += f": {said[0] if said else ''} {printed[-1:]}"

    sampler = threading.Thread(target=sample)
    sampler.start()
    began = time.monotonic()
    workers = [threading.Thread(target=run, args=(name,)) for name in names]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    total = time.monotonic() - began
    running.clear()
    sampler.join()
    for kernel in kernels.values():
        kernel.close()
    times = sorted(wall.values())
    failed = {name: why for name, why in outcomes.items() if not why.startswith("ok")}
    say(
        f"N={len(names)} running {what} at once: {total:.1f} s wall; per learner median "
        f"{times[len(times) // 2]:.1f} s, min {times[0]:.1f}, max {times[-1]:.1f}; PSS peak "
        f"{(peak['pss'] + hub) / MIB:.0f} MiB with the hub (largest learner "
        f"{peak['learner'] / MIB:.0f} MiB); lowest MemAvailable "
        f"{peak['available'] / 2**30:.1f} GiB; every cell ok for "
        f"{len(names) - len(failed)} of {len(names)}"
    )
    for name, why in failed.items():
        say(f"  {name}: {why}")
    if once:
        for name, why in outcomes.items():
            say(f"  {name}: {why}")
    return len(failed)


if __name__ == "__main__":
    sys.exit(main())
