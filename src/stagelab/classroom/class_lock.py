"""One command at a time changes a class: `up` and `down` hold the class's lock.

Two `down --purge` of the same class run at once raced and left the class record behind (seen
on 2026-12-06); an `up` during a `down` would be worse. The lock is flock(2) on a file beside
the class's socket folder (/run/stagelab-classroom.lock: a tmpfs, so a reboot clears it), held
for the whole command and released by the kernel when the command ends, even when it is
killed. A second command does not wait: it says which command holds the class and what to do.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from .layout import ClassroomError, ClassroomLayout


def lock_file(layout: ClassroomLayout) -> Path:
    """Return the lock's file: beside the folder of the class's sockets."""
    return layout.sockets.parent / f"{layout.sockets.name}.lock"


@contextlib.contextmanager
def holding_class(layout: ClassroomLayout, action: str) -> Iterator[None]:
    """Hold the class's lock while `action` (e.g. "up", "down --purge") runs.

    Raises ClassroomError at once, naming the command that holds it, when another command
    holds the lock; OSError only when the lock's folder cannot be written (not root).
    """
    path = lock_file(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 200, 0).decode(errors="replace").strip()
            raise ClassroomError(
                f"another `stagelab classroom {holder or 'command'}` is changing this class: "
                f"wait until it ends, then run `stagelab classroom {action}` again."
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{action} (pid {os.getpid()})".encode(), 0)
        yield
    finally:
        os.close(descriptor)
