"""Start a process as a class account, confined: in the account's cgroup, with temporary
folders of its own, as the account's uid and groups only.

Every process root starts for an account goes through `Confinement.popen_kwargs()`: the
single-user server (the spawner), the account's engine, and what root runs as a learner
(`reset`, the dashboard's reads, `docker load`). Between fork and exec, still as root, the child:

1. writes its pid into the account's cgroup.procs files (cgroups.py), so that it and all it
   ever starts are counted, limited and stoppable there;
2. resets its oom_score_adj to 0 (the hub runs protected from the out-of-memory killer; its
   learners must not inherit that);
3. when the account has a disk (disks.py), enters mount and IPC namespaces of its own
   (unshare(2) with CLONE_NEWNS | CLONE_NEWIPC, mounts made private as
   Documentation/filesystems/sharedsubtree.rst says), binds the disk's tmp folder over /tmp
   and /var/tmp and mounts a tmpfs of its own on /dev/shm: what a learner writes there counts
   against their disk and memory, and no one else sees it;
4. drops to the account's uid and groups (setgroups, then setresgid and setresuid: a failure
   raises, so nothing runs half-dropped), then enters its working folder as the account.

This is what `preexec_fn` of subprocess.Popen runs; JupyterHub's LocalProcessSpawner drops
privileges the same way (jupyterhub/spawner.py, set_user_setuid). Only system calls run
there: the paths are prepared as bytes beforehand.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .cgroups import CgroupFs
from .layout import Account

# <sched.h> and <sys/mount.h>
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
# The private /dev/shm: POSIX shared memory is charged to the account's memory anyway.
SHM_SIZE = "256m"
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Confinement:
    """How root starts a process for a class account: its uid, gid and groups, the cgroup
    files it joins, the folder bound over its /tmp (None: the host's /tmp), and the folder it
    starts in (one the account may enter)."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    cgroup_procs: tuple[str, ...]
    private_tmp: str | None
    cwd: str
    umask: int = 0o022
    name: str = field(default="", compare=False)

    @classmethod
    def of(
        cls,
        account: Account,
        cgroups: CgroupFs,
        private_tmp: Path | None,
        cwd: Path | None = None,
    ) -> Confinement:
        """Return the confinement of `account`: its cgroup in `cgroups` (none when that does not
        exist), `private_tmp` over /tmp, starting in `cwd` (default: its home)."""
        group = cgroups.account(account.name)
        return cls(
            uid=account.uid,
            gid=account.gid,
            groups=tuple(account.groups),
            cgroup_procs=group.procs_files() if group.exists() else (),
            private_tmp=str(private_tmp) if private_tmp is not None else None,
            cwd=str(cwd or account.home),
            name=account.name,
        )

    def preexec(self) -> Callable[[], None]:
        """Return the function a new process runs between fork and exec (see the module)."""
        procs = [path.encode() for path in self.cgroup_procs]
        tmp = self.private_tmp.encode() if self.private_tmp is not None else None
        uid, gid, groups, cwd, umask = self.uid, self.gid, list(self.groups), self.cwd, self.umask

        def confine() -> None:
            pid = str(os.getpid()).encode()
            for path in procs:
                _write(path, pid)
            _reset_oom_score()
            if tmp is not None:
                _private_mounts(tmp)
            os.setgroups(groups)
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            if os.getuid() != uid or os.geteuid() != uid or set(os.getgroups()) - set(groups):
                raise PermissionError("could not drop to the account's ids")
            os.umask(umask)
            os.chdir(cwd)

        return confine

    def popen_kwargs(self) -> dict:
        """Return the keyword arguments of subprocess.Popen (or run) that start a process so
        confined, in a session of its own."""
        return {"preexec_fn": self.preexec(), "start_new_session": True}


def _write(path: bytes, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY)
    try:
        os.write(descriptor, data)
    finally:
        os.close(descriptor)


def _reset_oom_score() -> None:
    """Raise oom_score_adj back to 0 (raising needs no privilege; it is 0 unless the hub's)."""
    with contextlib.suppress(PermissionError):
        _write(b"/proc/self/oom_score_adj", b"0")


def _private_mounts(tmp: bytes) -> None:
    """In new mount and IPC namespaces: the account's tmp folder on /tmp and /var/tmp, a
    tmpfs of its own on /dev/shm."""
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    for target in (b"/tmp", b"/var/tmp"):
        _check(_libc.mount(tmp, target, None, MS_BIND, None), "bind " + target.decode())
    options = b"size=" + SHM_SIZE.encode() + b",mode=1777"
    _check(_libc.mount(b"tmpfs", b"/dev/shm", b"tmpfs", MS_NOSUID | MS_NODEV, options), "/dev/shm")


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")
