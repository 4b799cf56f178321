"""One control group per class account: everything the account runs, limited and stoppable as one.

Each account's single-user server, kernels, terminals, RootlessKit, dockerd, containerd and
every container (a rootless engine cannot make cgroups of its own without systemd's
delegation, so its containers stay in the engine's group) are started into the account's
cgroup (confine.py writes the new process into it before it runs a line of the account's
code). No unprivileged process can leave a cgroup: cgroup.procs is root's. So the cgroup is
where limits hold (memory, tasks, CPU) and what `down` stops: it freezes the group, so that a
process re-forking every few milliseconds cannot outrun the kill, SIGKILLs every member, then
thaws it, and they die (the freezer's documented use:
Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst).

Both hierarchies are supported. cgroup v1 (these machines: memory, pids, cpu and freezer
mounted under /sys/fs/cgroup/NAME): a folder per account in each, under `stagelab-classroom`,
with memory.limit_in_bytes (and memory.memsw.limit_in_bytes where swap is accounted),
pids.max, cpu.cfs_quota_us over cpu.cfs_period_us, freezer.state
(Documentation/admin-guide/cgroup-v1/memory.rst, pids.rst, the scheduler's
sched-bwc.rst). cgroup v2 (one tree with memory, pids and cpu controllers): memory.max,
memory.swap.max, pids.max, cpu.max, cgroup.freeze and cgroup.kill
(Documentation/admin-guide/cgroup-v2.rst). The class's parent group caps the whole class's
memory below the server's, so the hub keeps what it needs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..limits import CLASS_CGROUP, Counters
from .sizing import Limits

V1_CONTROLLERS = ("memory", "pids", "cpu", "freezer")
V2_CONTROLLERS = ("memory", "pids", "cpu")
CFS_PERIOD_US = 100_000
FREEZE_TIMEOUT_S = 10
EMPTY_TIMEOUT_S = 30


@dataclass(frozen=True)
class CgroupFs:
    """The cgroup file system of this server, mounted at `root`."""

    root: Path = Path("/sys/fs/cgroup")

    @property
    def version(self) -> int | None:
        """Return 2 for a unified hierarchy with the memory, pids and cpu controllers, 1 for v1
        hierarchies of memory, pids, cpu and freezer, None when neither is usable."""
        try:
            controllers = (self.root / "cgroup.controllers").read_text().split()
        except OSError:
            controllers = []
        if set(V2_CONTROLLERS) <= set(controllers):
            return 2
        if all((self.root / name / "cgroup.procs").is_file() for name in V1_CONTROLLERS):
            return 1
        return None

    def class_folders(self) -> list[Path]:
        """Return the class's parent group, one folder per hierarchy ([] with no cgroups)."""
        if self.version == 2:
            return [self.root / CLASS_CGROUP]
        if self.version == 1:
            return [self.root / name / CLASS_CGROUP for name in V1_CONTROLLERS]
        return []

    def account(self, name: str) -> AccountCgroup:
        """Return the cgroup of the class account `name`."""
        return AccountCgroup(self, name)

    def prepare_class(self, memory_bytes: int, tasks: int) -> None:
        """Make the class's parent group, capping the whole class's memory and tasks.

        Raises OSError when this server has no usable cgroups (preflight says so first).
        """
        if self.version is None:
            raise OSError("no usable cgroup hierarchy under " + str(self.root))
        if self.version == 2:
            _enable_controllers(self.root)
        for folder in self.class_folders():
            folder.mkdir(exist_ok=True)
        if self.version == 2:
            _enable_controllers(self.root / CLASS_CGROUP)
        _write_limits(self, self.class_folders(), memory_bytes, tasks, None)

    def remove_class(self) -> None:
        """Remove the class's parent group where it is empty."""
        for folder in self.class_folders():
            with contextlib.suppress(FileNotFoundError, OSError):
                folder.rmdir()


@dataclass(frozen=True)
class AccountCgroup:
    """The cgroup of one class account, in every hierarchy of `fs`."""

    fs: CgroupFs
    name: str

    def folders(self) -> list[Path]:
        """Return the account's cgroup folder in each hierarchy."""
        return [folder / self.name for folder in self.fs.class_folders()]

    def exists(self) -> bool:
        """Tell whether the account's cgroup exists in every hierarchy."""
        folders = self.folders()
        return bool(folders) and all(folder.is_dir() for folder in folders)

    def procs_files(self) -> tuple[str, ...]:
        """Return the cgroup.procs files a new process of the account writes its pid to."""
        return tuple(str(folder / "cgroup.procs") for folder in self.folders())

    def create(self, limits: Limits) -> None:
        """Make the account's cgroup (the class's parent must exist) and apply `limits`."""
        for folder in self.folders():
            folder.mkdir(exist_ok=True)
        self.apply(limits)

    def apply(self, limits: Limits) -> None:
        """Write `limits` (memory, tasks, CPU) to the account's cgroup; members keep running."""
        _write_limits(self.fs, self.folders(), limits.memory_bytes, limits.tasks, limits.cpus)

    def members(self) -> set[int]:
        """Return the pids of every process in the account's cgroup (and groups below it)."""
        found: set[int] = set()
        for folder in self.folders():
            for procs in folder.rglob("cgroup.procs"):
                with contextlib.suppress(OSError):
                    found.update(int(pid) for pid in procs.read_text().split())
        return found

    def freeze(self, frozen: bool, timeout: float = FREEZE_TIMEOUT_S) -> bool:
        """Freeze (or thaw) every process of the account; return whether the kernel reports
        the group frozen (thawed) within `timeout` seconds."""
        if self.fs.version == 2:
            control, value = self.folders()[0] / "cgroup.freeze", "1" if frozen else "0"
        else:
            control = self.fs.root / "freezer" / CLASS_CGROUP / self.name / "freezer.state"
            value = "FROZEN" if frozen else "THAWED"
        try:
            control.write_text(value)
        except OSError:
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._frozen() == frozen:
                return True
            time.sleep(0.05)
        return False

    def _frozen(self) -> bool:
        if self.fs.version == 2:
            events = (self.folders()[0] / "cgroup.events").read_text()
            return "frozen 1" in events
        state = (self.fs.root / "freezer" / CLASS_CGROUP / self.name / "freezer.state").read_text()
        return state.strip() == "FROZEN"

    def kill(self, timeout: float = EMPTY_TIMEOUT_S) -> set[int]:
        """End every process of the account: freeze the group, SIGKILL each member, thaw it,
        and wait until it is empty. Returns the pids still there after `timeout` seconds
        (uninterruptible ones, say); empty when all ended."""
        deadline = time.monotonic() + timeout
        while self.members() and time.monotonic() < deadline:
            self.freeze(True)
            for pid in self.members():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            if self.fs.version == 2:
                with contextlib.suppress(OSError):
                    (self.folders()[0] / "cgroup.kill").write_text("1")
            self.freeze(False)
            settle = time.monotonic() + 5
            while self.members() and time.monotonic() < min(settle, deadline):
                time.sleep(0.05)
        return self.members()

    def remove(self) -> list[str]:
        """Remove the account's cgroup; return what could not be removed, with why."""
        problems = []
        for folder in self.folders():
            for child in sorted(folder.rglob("*/"), key=lambda path: -len(path.parts)):
                with contextlib.suppress(OSError):
                    child.rmdir()
            try:
                folder.rmdir()
            except FileNotFoundError:
                continue
            except OSError as error:
                problems.append(f"cgroup {folder}: {error.strerror} (processes left in it)")
        return problems

    def counters(self) -> dict[str, int]:
        """Return the group's limit counters: memory limit and its hits (OOM kills), task
        limit and how often a fork was refused by it."""
        return read_counters(self.fs, self.folders())


def read_counters(fs: CgroupFs, folders: list[Path]) -> dict[str, int]:
    """Return `memory_limit`, `oom_kills`, `tasks_limit` and `tasks_refused` of the cgroup
    whose folders (one per hierarchy) are `folders`, read as limits.Counters reads them;
    missing files count as 0."""
    if fs.version == 2:
        (folder,) = folders
        return asdict(Counters.read(tree=folder))
    by_controller = {_controller(fs, folder): folder for folder in folders}
    return asdict(Counters.read(memory=by_controller.get("memory"), pids=by_controller.get("pids")))


def _controller(fs: CgroupFs, folder: Path) -> str:
    """Return the v1 hierarchy (memory, pids, ...) a cgroup folder is in."""
    return folder.relative_to(fs.root).parts[0]


def _enable_controllers(folder: Path) -> None:
    wanted = " ".join(f"+{name}" for name in V2_CONTROLLERS)
    (folder / "cgroup.subtree_control").write_text(wanted)


def _write_limits(
    fs: CgroupFs, folders: list[Path], memory_bytes: int, tasks: int, cpus: float | None
) -> None:
    """Write the memory, task and (unless None) CPU limits into a group's folders."""
    if fs.version == 2:
        (folder,) = folders
        (folder / "memory.max").write_text(str(memory_bytes))
        with contextlib.suppress(FileNotFoundError):
            (folder / "memory.swap.max").write_text("0")
        (folder / "pids.max").write_text(str(tasks))
        if cpus is not None:
            (folder / "cpu.max").write_text(f"{int(cpus * CFS_PERIOD_US)} {CFS_PERIOD_US}")
        return
    for folder in folders:
        controller = _controller(fs, folder)
        if controller == "memory":
            _write_memory_v1(folder, memory_bytes)
        elif controller == "pids":
            (folder / "pids.max").write_text(str(tasks))
        elif controller == "cpu" and cpus is not None:
            (folder / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
            (folder / "cpu.cfs_quota_us").write_text(str(int(cpus * CFS_PERIOD_US)))


def _write_memory_v1(folder: Path, limit: int) -> None:
    """memory.memsw.limit_in_bytes (memory and swap) may not fall below memory.limit_in_bytes:
    write them in the order that keeps that true."""
    memory, both = folder / "memory.limit_in_bytes", folder / "memory.memsw.limit_in_bytes"
    if not both.exists():
        memory.write_text(str(limit))
        return
    raising = limit > int(memory.read_text())
    for path in (both, memory) if raising else (memory, both):
        path.write_text(str(limit))
