"""What each class account may use, and the sizing rule that picks it for a server.

Every account (each learner and the instructor) gets the same limits: memory and CPU (its
cgroup, cgroups.py), tasks (the cgroup's pids controller: processes and threads, which is what
a fork bomb spends) and disk (a file system of that size holding its home and its engine's
data, disks.py). The rule, for a server of M bytes of memory, C cores, P pids
(kernel.pid_max) and D bytes free where the disks go, with N accounts:

- memory: (M - 2 GiB) / N, kept between 1 GiB and 4 GiB. The 2 GiB are the system's, the hub's
  and the page cache's. An idle learner's server, kernel and engine take about 0.25 GiB and
  lesson 06's C builds about 0.45 GiB (benchmarks/bench_classroom.py), so 1 GiB is enough
  for the course and `up` refuses less. Past (M - 2 GiB) / 1 GiB accounts the limits add up to
  more than the server has: `up` says so, and the hub is the last process the kernel's
  out-of-memory killer would pick (its oom_score_adj).
- CPU: half the cores, at least one: no learner can take the whole server, and cpu.shares
  give every busy learner an equal part when all build at once.
- tasks: 2048 per account (a learner's server, kernels, engine and a parallel build use a few
  hundred); `up` raises kernel.pid_max when N x 2048 plus a reserve would not fit below it.
- disk: (D - 5 GiB) / N in steps of 256 MiB, kept between 1 GiB and 20 GiB. An engine gets
  busybox at `up` and every other base image from the class's archives when a build first
  names it (class_images.py), so an account's disk holds what the images it may load take
  (each one's own layers, ImageNeed) plus, for a moment, the largest archive being loaded
  (`docker load` stages it there), plus the course's builds (BUILDS_BYTES): `disk_needed`.
  With the course's ten images that is 2.98 GiB (`up` reads the sizes from the class's
  archives). 1 GiB is the hard minimum (the first lessons: busybox and their builds); below the
  full course's need `up` says which images, and so which lessons, would not fit. The files are
  sparse, so `up` refuses when N disks could fill the server's disk.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from .layout import ClassroomError

GIB = 1024**3
MIB = 1024**2
SYSTEM_RESERVE_BYTES = 2 * GIB
DISK_RESERVE_BYTES = 5 * GIB
MEMORY_RANGE = (1 * GIB, 4 * GIB)
DISK_RANGE = (1 * GIB, 20 * GIB)
DISK_STEP = 256 * MIB
# What the course's builds leave in an engine besides the base images, and ext4's own use of
# a small file system (measured: benchmarks/bench_classroom.py's disk per learner).
BUILDS_BYTES = 512 * MIB
TASKS_PER_ACCOUNT = 2048
PID_RESERVE = 8192
# What `up` raises kernel.pid_max to when the class needs more (the 64-bit kernel's maximum,
# Documentation/admin-guide/sysctl/kernel.rst, pid_max).
PID_MAX_LIMIT = 4194304
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    """One account's limits: memory and disk in bytes, CPUs (a fraction of cores allowed)
    and tasks (processes and threads)."""

    memory_bytes: int
    cpus: float
    tasks: int
    disk_bytes: int

    def to_json(self) -> dict:
        """Return the limits as a JSON-ready dict (the class record keeps them)."""
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict) -> Limits:
        """Return the limits to_json() wrote."""
        return cls(**document)

    def lines(self) -> list[str]:
        """Return the limits as words for the instructor."""
        return [
            f"memory {size_text(self.memory_bytes)}",
            f"CPU {self.cpus:g} core{'s' if self.cpus != 1 else ''}",
            f"{self.tasks} tasks",
            f"disk {size_text(self.disk_bytes)}",
        ]


@dataclass(frozen=True)
class Machine:
    """What the sizing rule reads of a server: memory in bytes, cores, kernel.pid_max, and the
    bytes free on the file system that will hold the class's disks."""

    memory_bytes: int
    cores: int
    pid_max: int
    free_disk_bytes: int

    @classmethod
    def this(cls, disks_folder: Path) -> Machine:
        """Return this server's figures (the disks go in `disks_folder`, or its nearest
        existing parent)."""
        folder = disks_folder
        while not folder.exists():
            folder = folder.parent
        return cls(
            os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
            os.cpu_count() or 1,
            int(Path("/proc/sys/kernel/pid_max").read_text()),
            shutil.disk_usage(folder).free,
        )


def parse_size(text: str) -> int:
    """Return the bytes a size like "1.5G", "512M", "2GiB" or "1073741824" means (powers of
    1024). Raises ClassroomError for anything else."""
    found = _SIZE.match(text)
    if found is None:
        raise ClassroomError(f"{text!r} is not a size: write it like 1.5G, 512M or 20G.")
    number, unit = float(found[1]), found[2].upper()
    return int(number * 1024 ** "_KMGT".index(unit or "_"))


def size_text(size: int) -> str:
    """Return a byte count as a short size: "1.5 GiB", "512 MiB"."""
    if size >= GIB:
        return f"{size / GIB:.3g} GiB"
    return f"{size / MIB:.0f} MiB"


def default_limits(accounts: int, machine: Machine) -> Limits:
    """Return the sizing rule's limits (this module's docstring) for `accounts` accounts."""
    memory = (machine.memory_bytes - SYSTEM_RESERVE_BYTES) // max(accounts, 1)
    disk = (machine.free_disk_bytes - DISK_RESERVE_BYTES) // max(accounts, 1)
    return Limits(
        memory_bytes=_clamp(memory, MEMORY_RANGE) // MIB * MIB,
        cpus=float(max(1, machine.cores // 2)),
        tasks=TASKS_PER_ACCOUNT,
        disk_bytes=_clamp(disk, DISK_RANGE) // DISK_STEP * DISK_STEP,
    )


@dataclass(frozen=True)
class ImageNeed:
    """What one base image takes on an account's disk: the layers it adds to the images it is
    built on (`built_on`, official names), its archive (staged while it loads), and the
    lessons and labs that use it."""

    official: str
    layers_bytes: int
    archive_bytes: int
    used_in: tuple[str, ...] = ()
    built_on: tuple[str, ...] = ()


def disk_needed(needs: list[ImageNeed]) -> int:
    """Return the disk an account needs to hold these images and the course's builds: every
    image's own layers, the largest archive staged while loading, and BUILDS_BYTES."""
    staged = max((need.archive_bytes for need in needs), default=0)
    return sum(need.layers_bytes for need in needs) + staged + BUILDS_BYTES


def not_fitting(disk_bytes: int, needs: list[ImageNeed]) -> list[ImageNeed]:
    """Return the images a disk of this size does not hold, taken in the order given (the
    course's): each that fits beside those before it that fit is loaded, the others not, nor
    an image built on one that does not fit (its layers count only on top of its base's)."""
    fitting: list[ImageNeed] = []
    for need in needs:
        based = {base.official for base in fitting} >= set(need.built_on)
        if based and disk_needed([*fitting, need]) <= disk_bytes:
            fitting.append(need)
    return [need for need in needs if need not in fitting]


def disk_note(disk_bytes: int, needs: list[ImageNeed]) -> str | None:
    """Return what `up` says when a disk is below the full course's need (None when it holds
    it): which images, and where the course uses them, would not fit."""
    left = not_fitting(disk_bytes, needs)
    if not left:
        return None
    where = sorted({place for need in left for place in need.used_in})
    return (
        f"note: a disk of {size_text(disk_bytes)} is below the "
        f"{size_text(disk_needed(needs))} the whole course needs: "
        f"{', '.join(need.official for need in left)} would not fit"
        + (f" ({', '.join(where)})" if where else "")
        + "; a learner's build there says the disk is full (pass a larger --disk)"
    )


def _clamp(value: int, bounds: tuple[int, int]) -> int:
    return max(bounds[0], min(bounds[1], value))


def check_fits(limits: Limits, accounts: int, machine: Machine) -> list[str]:
    """Return why `accounts` accounts with these limits do not fit this machine ([] when they
    do): memory below the floor, more disk than is free, CPUs beyond the cores."""
    problems = []
    if limits.memory_bytes < MEMORY_RANGE[0]:
        problems.append(
            f"memory {size_text(limits.memory_bytes)} per account is below "
            f"{size_text(MEMORY_RANGE[0])}: builds would be killed (pass --memory 1G or more)"
        )
    if limits.disk_bytes < DISK_RANGE[0]:
        problems.append(
            f"disk {size_text(limits.disk_bytes)} per account is below "
            f"{size_text(DISK_RANGE[0])}, what the first lessons need (pass --disk 1G or more)"
        )
    if limits.disk_bytes * accounts > machine.free_disk_bytes - DISK_RESERVE_BYTES:
        problems.append(
            f"{accounts} disks of {size_text(limits.disk_bytes)} need "
            f"{size_text(limits.disk_bytes * accounts)}, and "
            f"{size_text(machine.free_disk_bytes)} are free (keeping "
            f"{size_text(DISK_RESERVE_BYTES)} for the system): pass a smaller --disk"
        )
    if limits.cpus <= 0 or limits.cpus > machine.cores:
        problems.append(f"--cpus {limits.cpus:g}: this server has {machine.cores} cores")
    if limits.tasks < 256:
        problems.append(f"--tasks {limits.tasks}: a server and an engine need 256 or more")
    return problems


def pid_max_needed(limits: Limits, accounts: int, machine: Machine) -> int | None:
    """Return the kernel.pid_max the class needs when the current one is too small, else
    None: every account at its task limit, plus a reserve for the rest of the server."""
    needed = limits.tasks * accounts + PID_RESERVE
    if needed <= machine.pid_max:
        return None
    return min(PID_MAX_LIMIT, max(needed, 4 * machine.pid_max))
