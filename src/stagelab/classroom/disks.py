"""A disk of its own for each class account: a file system of a fixed size holding its home,
its engine's data and its temporary files, and a small tmpfs for its runtime folder.

The disk is a sparse file under the class's root-only state folder, formatted ext4
(mkfs.ext4(8)) and loop-mounted (mount(8), `-o loop`) at ClassroomLayout.disk_mount(name),
a root-owned folder; it holds `home` (bound over /home/NAME) and `tmp` (bound over /tmp and
/var/tmp in the account's own mount namespace, confine.py). Both are the account's and mode
0700; the disk's root stays root's, so the account cannot swap either for a link. When it is
full, writes fail with ENOSPC for that account alone: the size is a real limit, not a quota
that a setuid helper or a container's subordinate ids could escape. The runtime folder
(/run/user/UID: the engine's socket, the kernels' ipc sockets) is a tmpfs of
RUNTIME_SIZE, mode 0700, as logind would make it (tmpfs(5)).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import ProvisionError
from ..provisioning import run_command
from .layout import Account, ClassroomError, ClassroomLayout

RUNTIME_SIZE = "64m"
MOUNTINFO = Path("/proc/self/mountinfo")


def mounts() -> list[Path]:
    """Return the mount points of this mount namespace, in mount order."""
    points = []
    for line in MOUNTINFO.read_text().splitlines():
        # Field 5 is the mount point, with spaces and such as octal escapes (proc(5)).
        point = line.split()[4]
        points.append(Path(point.encode().decode("unicode_escape")))
    return points


def is_mounted(path: Path) -> bool:
    """Tell whether something is mounted at `path`."""
    return path in mounts()


def mounts_under(folder: Path) -> list[Path]:
    """Return the mount points at or inside `folder`."""
    return [point for point in mounts() if point == folder or folder in point.parents]


@dataclass(frozen=True)
class AccountDisk:
    """The disk of one account: its image file and where it is mounted."""

    layout: ClassroomLayout
    name: str

    @property
    def image(self) -> Path:
        """Return the sparse image file of the file system."""
        return self.layout.disks / f"{self.name}.img"

    @property
    def mountpoint(self) -> Path:
        """Return where the file system is mounted (root's; holds `home` and `tmp`)."""
        return self.layout.disks / self.name

    @property
    def home(self) -> Path:
        """Return the folder bound over the account's home."""
        return self.mountpoint / "home"

    @property
    def tmp(self) -> Path:
        """Return the folder bound over the account's /tmp and /var/tmp."""
        return self.mountpoint / "tmp"

    def exists(self) -> bool:
        """Tell whether the image file exists."""
        return self.image.is_file()

    def create(self, size_bytes: int, account: Account) -> None:
        """Make the image (`size_bytes`, sparse), format it, mount it and make the account's
        `home` and `tmp` in it. Raises ProvisionError when a tool fails."""
        self.layout.disks.mkdir(parents=True, exist_ok=True)
        os.chmod(self.layout.disks, 0o700)
        partial = self.image.with_suffix(".partial")
        with open(partial, "wb") as image:
            image.truncate(size_bytes)
        os.chmod(partial, 0o600)
        run_command(
            ["mkfs.ext4", "-q", "-F", "-m", "0", "-L", f"stagelab-{self.name}"[:16], str(partial)],
            f"make the disk of {self.name}",
        )
        partial.replace(self.image)
        self.mount(account)

    def mount(self, account: Account) -> None:
        """Mount the image (unless mounted) and make sure `home` and `tmp` are the account's."""
        self.mountpoint.mkdir(mode=0o755, exist_ok=True)
        if not is_mounted(self.mountpoint):
            run_command(
                ["mount", "-o", "loop,nosuid,nodev", str(self.image), str(self.mountpoint)],
                f"mount the disk of {self.name}",
            )
        os.chown(self.mountpoint, 0, 0)
        os.chmod(self.mountpoint, 0o755)
        for folder in (self.home, self.tmp):
            if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
                raise ClassroomError(f"{folder} is not a folder: remove it, then retry.")
            folder.mkdir(mode=0o700, exist_ok=True)
            os.chown(folder, account.uid, account.gid)
            os.chmod(folder, 0o700)

    def bind_home(self, account: Account) -> None:
        """Bind the disk's `home` over the account's home folder (unless it is already)."""
        account.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not is_mounted(account.home):
            run_command(
                ["mount", "--bind", str(self.home), str(account.home)],
                f"put the home of {self.name} on its disk",
            )

    def usage(self) -> tuple[int, int]:
        """Return (bytes used, bytes in all) of the mounted file system."""
        total = shutil.disk_usage(self.mountpoint)
        return total.used, total.total

    def remove(self, account: Account | None) -> list[str]:
        """Unmount the home and the disk and delete the image; return what is left, with why
        (a file system still in use stays mounted and its image stays)."""
        problems = []
        places = [account.home] if account is not None else []
        for place in [*places, self.mountpoint]:
            if is_mounted(place):
                try:
                    run_command(["umount", str(place)], f"unmount {place}")
                except ProvisionError as error:  # in use
                    problems.append(f"{place} stays mounted: {error}")
        if problems:
            return problems + [f"{self.image} stays, since its file system is still mounted"]
        with contextlib.suppress(FileNotFoundError):
            self.mountpoint.rmdir()
        self.image.unlink(missing_ok=True)
        self.image.with_suffix(".partial").unlink(missing_ok=True)
        return []


def mount_runtime(account: Account) -> None:
    """Mount the account's runtime folder as a tmpfs of RUNTIME_SIZE, mode 0700, the
    account's (unless it is mounted already)."""
    folder = account.runtime_dir
    folder.mkdir(parents=True, exist_ok=True)
    if not is_mounted(folder):
        run_command(
            [
                "mount",
                "-t",
                "tmpfs",
                "-o",
                f"size={RUNTIME_SIZE},mode=0700,uid={account.uid},gid={account.gid},nosuid,nodev",
                f"stagelab-run-{account.name}",
                str(folder),
            ],
            f"make the runtime folder of {account.name}",
        )
    os.chown(folder, account.uid, account.gid)
    os.chmod(folder, 0o700)


def unmount_runtime(account: Account) -> list[str]:
    """Unmount and remove the account's runtime folder; return what is left, with why."""
    folder = account.runtime_dir
    if is_mounted(folder):
        try:
            run_command(["umount", str(folder)], f"unmount {folder}")
        except ProvisionError as error:  # in use
            return [f"{folder} stays mounted: {error}"]
    with contextlib.suppress(FileNotFoundError, OSError):
        folder.rmdir()
    return []
