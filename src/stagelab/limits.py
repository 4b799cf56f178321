"""The limits a classroom sets on a learner, seen from inside: which one a failure hit.

On a classroom server each learner's processes (their kernel, their engine, every build and
container) run in a cgroup of their own with a memory and a task limit, on a disk of their
own (stagelab.classroom: cgroups.py, disks.py). When a build or a container fails because of
one of them, the engine only says "killed" (exit code 137) or "no space left on device": this
module tells which limit it was, from the counters the kernel keeps for the learner's cgroup
(memory.oom_control's oom_kill and pids.events' max in cgroup v1, memory.events and
pids.events in v2: Documentation/admin-guide/cgroup-v1/memory.rst, cgroup-v2.rst) and the
free space of their home's file system. Outside a classroom (no such cgroup) it says nothing.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

CLASS_CGROUP = "stagelab-classroom"
CGROUP_ROOT = Path("/sys/fs/cgroup")
# Below this much free space on the home's file system, a failed build is blamed on it.
DISK_NEARLY_FULL_BYTES = 64 * 1024**2


def _cgroup_files() -> dict[str, Path]:
    """Return this process's classroom cgroup folder per controller ("memory", "pids"; "" for
    the v2 tree), from /proc/self/cgroup; {} outside a classroom."""
    found = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if f"/{CLASS_CGROUP}/" not in path + "/":
            continue
        if controllers == "":
            found[""] = CGROUP_ROOT / path.lstrip("/")
        for name in ("memory", "pids"):
            if name in controllers.split(","):
                found[name] = CGROUP_ROOT / name / path.lstrip("/")
    return found


def _counter(path: Path, key: str | None = None) -> int:
    try:
        text = path.read_text()
    except OSError:
        return 0
    if key is not None:
        values = [line.split()[1] for line in text.splitlines() if line.startswith(key + " ")]
        text = values[0] if values else "0"
    text = text.strip()
    return 0 if text in ("", "max") or not text.isdigit() else int(text)


@dataclass(frozen=True)
class Counters:
    """The learner's limit counters at one moment: memory limit (bytes) and out-of-memory
    kills; task limit and forks it refused; memory in use (bytes: memory.usage_in_bytes in v1,
    memory.current in v2, page cache included)."""

    memory_limit: int
    oom_kills: int
    tasks_limit: int
    tasks_refused: int
    memory_used: int = 0

    @classmethod
    def read(
        cls, tree: Path | None = None, memory: Path | None = None, pids: Path | None = None
    ) -> Counters:
        """Read one cgroup's counters: `tree`, its folder in a v2 tree, else `memory` and
        `pids`, its folders in the v1 hierarchies (None: that hierarchy's counters are 0).
        A file that is missing or holds no number counts as 0."""
        if tree is not None:
            return cls(
                _counter(tree / "memory.max"),
                _counter(tree / "memory.events", "oom_kill"),
                _counter(tree / "pids.max"),
                _counter(tree / "pids.events", "max"),
                _counter(tree / "memory.current"),
            )
        return cls(
            _counter(memory / "memory.limit_in_bytes") if memory else 0,
            _counter(memory / "memory.oom_control", "oom_kill") if memory else 0,
            _counter(pids / "pids.max") if pids else 0,
            _counter(pids / "pids.events", "max") if pids else 0,
            _counter(memory / "memory.usage_in_bytes") if memory else 0,
        )

    @classmethod
    def now(cls) -> Counters | None:
        """Return the counters of this process's classroom cgroup, or None outside one."""
        folders = _cgroup_files()
        if not folders:
            return None
        if "" in folders:
            return cls.read(tree=folders[""])
        return cls.read(memory=folders.get("memory"), pids=folders.get("pids"))


def _size(size: int) -> str:
    return f"{size / 1024**3:.3g} GiB" if size >= 1024**3 else f"{size / 1024**2:.0f} MiB"


def limit_note(before: Counters | None, home: Path | None = None) -> str:
    """Return what to tell a learner whose work just failed, when a classroom limit is why:
    their memory or task limit was hit since `before` (Counters.now() taken when the work
    started), or their disk (`home`'s file system, default: the home folder) is nearly full.
    "" when none was (or outside a classroom)."""
    if before is None:
        return ""
    after = Counters.now()
    notes = []
    if after is not None and after.oom_kills > before.oom_kills:
        notes.append(
            f"Your classroom account reached its memory limit ({_size(after.memory_limit)}): "
            "the kernel ended a process to stay within it. Close the kernels of notebooks you "
            "are not using and try again, or ask your instructor for more memory."
        )
    if after is not None and after.tasks_refused > before.tasks_refused:
        notes.append(
            f"Your classroom account reached its limit of {after.tasks_limit} processes and "
            "threads: a program could not start another. End what you started in terminals "
            "or notebooks and try again."
        )
    try:
        free = shutil.disk_usage(home or Path.home())
    except (OSError, RuntimeError):
        free = None
    if free is not None and free.free < DISK_NEARLY_FULL_BYTES:
        notes.append(
            f"Your classroom disk ({_size(free.total)}) is full ({_size(free.free)} free). "
            "`stagelab clean` removes what stagelab built and `docker builder prune` the "
            "engine's build cache; then try again."
        )
    return "\n".join(notes)
