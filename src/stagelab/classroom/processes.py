"""Processes as root sees them: who a pid is, which processes a set of uids runs, and who holds
a listening TCP port.

A pid alone names nobody for long: after a process ends, the kernel gives its number to the
next one. So the class keeps a process's identity, its pid with its start time (field 22 of
/proc/PID/stat, clock ticks after boot, fixed at fork and kept across exec) and its real uid,
and signals or trusts a pid only while all three still match (`ProcessIdentity.current`).
proc(5) documents the fields read here; /proc/net/tcp's columns are the kernel's
Documentation/networking/proc_net_tcp.rst.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
# /proc/net/tcp's state column: 0A is TCP_LISTEN (include/net/tcp_states.h).
TCP_LISTEN = "0A"


@dataclass(frozen=True)
class ProcessIdentity:
    """A process as it was when seen: pid, real uid and start time (clock ticks after boot)."""

    pid: int
    uid: int
    start: int

    @classmethod
    def of(cls, pid: int) -> ProcessIdentity | None:
        """Return the identity of the running process `pid`, or None (gone, or a zombie)."""
        try:
            fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
            status = (PROC / str(pid) / "status").read_text()
        except (OSError, IndexError):
            return None
        if fields[0] in ("Z", "X"):
            return None
        uid = next(line for line in status.splitlines() if line.startswith("Uid:"))
        # Field 22 of stat is the start time; fields here start after the name, at field 3.
        return cls(pid, int(uid.split()[1]), int(fields[19]))

    def current(self) -> bool:
        """Tell whether this very process still runs (same pid, uid and start time)."""
        return ProcessIdentity.of(self.pid) == self

    def signal(self, number: int) -> bool:
        """Send the signal `number` if this process still runs; return whether it was sent.

        Never signals a process that took over the pid.
        """
        if not self.current():
            return False
        try:
            os.kill(self.pid, number)
        except ProcessLookupError:
            return False
        return True

    def kill_group(self) -> None:
        """SIGKILL this process's process group, when the process still runs and leads it."""
        if self.current() and os.getpgid(self.pid) == self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)

    def to_text(self) -> str:
        """Return the identity as one line, for a pid file: `PID UID START`."""
        return f"{self.pid} {self.uid} {self.start}\n"

    @classmethod
    def from_text(cls, text: str) -> ProcessIdentity | None:
        """Return the identity a pid file holds (to_text), or None for anything else."""
        try:
            pid, uid, start = (int(part) for part in text.split())
        except ValueError:
            return None
        return cls(pid, uid, start)


def parent_pid(pid: int) -> int | None:
    """Return the pid of the parent of process `pid` (field 4 of /proc/PID/stat), or None."""
    try:
        return int((PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def descendants(pid: int) -> list[ProcessIdentity]:
    """Return every running process descended from `pid` (children, theirs, ...)."""
    children: dict[int, list[int]] = {}
    for folder in PROC.glob("[0-9]*"):
        parent = parent_pid(int(folder.name))
        if parent is not None:
            children.setdefault(parent, []).append(int(folder.name))
    found, pending = [], list(children.get(pid, []))
    while pending:
        child = pending.pop()
        identity = ProcessIdentity.of(child)
        if identity is not None:
            found.append(identity)
        pending.extend(children.get(child, []))
    return found


def processes_of(uids: set[int] | range) -> list[int]:
    """Return the pids of running processes (zombies aside: they have ended) whose real,
    effective or saved uid is in `uids`."""
    found = []
    # A process may end between the listing and the reading (pathlib's glob itself raises then,
    # so the listing is plain and each read is guarded).
    for name in os.listdir(PROC):
        if not name.isdigit():
            continue
        status = PROC / name / "status"
        try:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
        except OSError:
            continue
        if fields.get("State", "").split()[:1] in (["Z"], ["X"]):
            continue
        if any(int(uid) in uids for uid in fields.get("Uid", "").split()[:3]):
            found.append(int(status.parent.name))
    return found


@dataclass(frozen=True)
class Listener:
    """A listening TCP socket: its local address and port, and the processes holding it
    (pid and real uid each; empty when none could be found)."""

    address: str
    port: int
    holders: tuple[ProcessIdentity, ...]


def listeners(port: int) -> list[Listener]:
    """Return every listening TCP socket (IPv4 and IPv6) on `port`, with who holds it."""
    wanted: dict[str, str] = {}
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            columns = line.split()
            address, local_port = columns[1].rsplit(":", 1)
            if columns[3] == TCP_LISTEN and int(local_port, 16) == port:
                wanted[columns[9]] = _address(address)
    holders: dict[str, list[ProcessIdentity]] = {inode: [] for inode in wanted}
    for folder in PROC.glob("[0-9]*"):
        for link in _socket_links(folder / "fd"):
            inode = link[len("socket:[") : -1] if link.startswith("socket:[") else None
            if inode in holders:
                identity = ProcessIdentity.of(int(folder.name))
                if identity is not None and identity not in holders[inode]:
                    holders[inode].append(identity)
    return [Listener(address, port, tuple(holders[inode])) for inode, address in wanted.items()]


def _socket_links(fds: Path) -> list[str]:
    """Return where a process's file descriptors point (each one that can still be read)."""
    links = []
    try:
        entries = list(fds.iterdir())
    except OSError:
        return links
    for fd in entries:
        with contextlib.suppress(OSError):  # closed meanwhile
            links.append(os.readlink(fd))
    return links


def _address(hexadecimal: str) -> str:
    """Return /proc/net/tcp's address (hex, in host byte order per 32-bit word) as text."""
    raw = bytes.fromhex(hexadecimal)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if len(words) == 4:
        return ".".join(str(byte) for byte in words)
    return ":".join(words[i : i + 2].hex() for i in range(0, 16, 2))
