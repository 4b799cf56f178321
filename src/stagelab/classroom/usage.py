"""Each learner's use of the server, for the instructor: what their engine holds (images,
containers, build cache, as `docker system df` counts them), their memory and CPU now (their
cgroup: limits.Counters and its members' CPU time), and pruning their build cache.

The engine is asked as the learner (learner_runs.run_as_learner: their uid, their cgroup,
their engine's socket in DOCKER_HOST), never by root; root reads only the cgroup's counters
and the CPU time of its processes in /proc.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

from .cgroups import CgroupFs
from .layout import Account, ClassroomLayout
from .learner_runs import run_as_learner

DF_TIMEOUT_S = 20
PRUNE_TIMEOUT_S = 120
CPU_SAMPLE_S = 1.0
# `docker system df` row types, and the keys they are given here.
DF_TYPES = {"Images": "images", "Containers": "containers", "Build Cache": "build_cache"}
# Docker prints sizes with decimal units (go-units HumanSize: kB, MB, GB, TB).
SIZE = re.compile(r"^([0-9.]+)\s*([kMGTP]?B)$")
UNITS = {"B": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15}


def size_bytes(text: str) -> int | None:
    """Return the bytes of a size `docker system df` prints ("1.2GB", "0B"), None for other
    text."""
    found = SIZE.match(text.strip())
    return None if found is None else round(float(found.group(1)) * UNITS[found.group(2)])


def parse_system_df(output: str) -> dict[str, dict]:
    """Return {images|containers|build_cache: {count, bytes}} from the lines of `docker system
    df --format '{{json .}}'` (one JSON object per type); types missing or unreadable are left
    out."""
    found = {}
    for line in output.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        key = DF_TYPES.get(row.get("Type")) if isinstance(row, dict) else None
        if key is None:
            continue
        count = str(row.get("TotalCount", ""))
        found[key] = {
            "count": int(count) if count.isdigit() else None,
            "bytes": size_bytes(str(row.get("Size", ""))),
        }
    return found


def engine_usage(layout: ClassroomLayout, account: Account) -> dict | None:
    """Return what the learner's engine holds (parse_system_df), asked as the learner; None
    when their engine does not answer in DF_TIMEOUT_S."""
    command = ["docker", "system", "df", "--format", "{{json .}}"]
    try:
        done = run_as_learner(layout, account, command, DF_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return parse_system_df(done.stdout.decode("utf-8", "replace")) or None


def cpu_seconds(pids: set[int], proc: Path = Path("/proc")) -> float:
    """Return the CPU time (user and system, seconds) the processes `pids` have used; a process
    that is gone counts as 0 (proc(5): /proc/PID/stat fields 14 and 15, in clock ticks)."""
    ticks = 0
    for pid in pids:
        try:
            stat = (proc / str(pid) / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def learner_usage(layout: ClassroomLayout, account: Account, fs: CgroupFs | None = None) -> dict:
    """Return one learner's use: name, engine (engine_usage, None when down), memory_bytes (in
    use in their cgroup), memory_limit, and cpu_percent (of one core, over CPU_SAMPLE_S, before
    the engine is asked; None without a cgroup). Takes CPU_SAMPLE_S or more."""
    group = (fs or CgroupFs()).account(account.name)
    before, began = cpu_seconds(group.members()), time.monotonic()
    time.sleep(CPU_SAMPLE_S)
    used = cpu_seconds(group.members()) - before
    cpu_percent = 100 * max(0.0, used) / (time.monotonic() - began)
    counters = group.counters() if group.exists() else None
    return {
        "name": account.name,
        "engine": engine_usage(layout, account),
        "memory_bytes": counters["memory_used"] if counters else None,
        "memory_limit": counters["memory_limit"] if counters else None,
        "cpu_percent": cpu_percent if counters else None,
    }


def prune_build_cache(layout: ClassroomLayout, account: Account) -> tuple[bool, str]:
    """Prune the learner's engine's build cache (`docker builder prune --all --force`: every
    record no build uses, not only dangling ones; as the learner); return whether it worked
    and what the engine said."""
    command = ["docker", "builder", "prune", "--all", "--force"]
    try:
        done = run_as_learner(layout, account, command, PRUNE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return False, f"the engine did not prune within {PRUNE_TIMEOUT_S} s"
    output = (done.stdout + done.stderr).decode("utf-8", "replace").strip()
    return done.returncode == 0, output
