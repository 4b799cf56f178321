"""Preflight: what a server needs for a class of rootless engines, checked item by item
with the fix for each (`stagelab classroom preflight`, and `up` before it changes anything)."""

from __future__ import annotations

import os
import platform
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from .layout import Account, ClassroomError, ClassroomLayout
from .rootless import TUN, has_subids, tun_fix, tun_usable_by_class

# Kernel 5.11 lets an unprivileged user namespace mount overlayfs: overlay2 in rootless mode.
OVERLAY_KERNEL = (5, 11)


@dataclass(frozen=True)
class PreflightItem:
    """One preflight item: what was checked, whether it holds, and how to fix it.

    (doctor.Finding is a finding of `stagelab doctor` about the engine; this is the classroom's.)
    """

    what: str
    ok: bool
    detail: str = ""
    fix: str = ""
    required: bool = True

    def line(self) -> str:
        """Return the item as one line (two when there is a fix)."""
        label = "ok" if self.ok else "MISSING" if self.required else "note"
        text = f"[{label}] {self.what}" + (f": {self.detail}" if self.detail else "")
        return text + (f"\n      fix: {self.fix}" if self.fix and not self.ok else "")


def _kernel() -> tuple[int, ...]:
    return tuple(int(part) for part in platform.release().split("-")[0].split(".")[:2])


def _setuid_root(command: str) -> bool:
    path = shutil.which(command)
    if path is None:
        return False
    info = os.stat(path)
    return info.st_uid == 0 and bool(info.st_mode & stat.S_ISUID)


def preflight(layout: ClassroomLayout, accounts: list[Account] = ()) -> list[PreflightItem]:
    """Check what rootless engines need on this server, with the layout's installs; return one
    PreflightItem per item.

    `accounts` adds a check of each one's subordinate id ranges. Nothing is changed.
    """
    script = layout.engine.rootless_script
    userns = Path("/proc/sys/user/max_user_namespaces")
    debian_switch = Path("/proc/sys/kernel/unprivileged_userns_clone")
    items = [
        PreflightItem(
            "running as root", os.geteuid() == 0, fix="run `sudo stagelab classroom ...`"
        ),
        PreflightItem(
            "unprivileged user namespaces",
            userns.exists()
            and int(userns.read_text()) > 0
            and (not debian_switch.exists() or debian_switch.read_text().strip() == "1"),
            fix="sysctl -w user.max_user_namespaces=65536 kernel.unprivileged_userns_clone=1",
        ),
        PreflightItem(
            "newuidmap and newgidmap, setuid root (package uidmap)",
            _setuid_root("newuidmap") and _setuid_root("newgidmap"),
            fix="apt-get install uidmap",
        ),
        PreflightItem(
            "slirp4netns (the engines' network)",
            shutil.which("slirp4netns") is not None,
            fix="apt-get install slirp4netns",
        ),
        PreflightItem(
            "rootlesskit",
            (layout.rootlesskit_bin / "rootlesskit").exists(),
            fix="`stagelab classroom up` unpacks Debian's rootlesskit",
        ),
        PreflightItem(
            "dockerd-rootless.sh and dockerd",
            script.exists() and (layout.engine.bin / "dockerd").exists(),
            detail=str(script),
            fix="stagelab engine ensure",
        ),
        PreflightItem(
            "/dev/net/tun usable by the class (slirp4netns opens it as the learner)",
            tun_usable_by_class(),
            detail=f"mode {oct(TUN.stat().st_mode & 0o777)}" if TUN.exists() else "missing",
            fix=f"`stagelab classroom up` does it: {tun_fix()}" if TUN.exists() else "modprobe tun",
        ),
        PreflightItem(
            f"kernel {OVERLAY_KERNEL[0]}.{OVERLAY_KERNEL[1]} or newer (overlay2 in rootless mode)",
            _kernel() >= OVERLAY_KERNEL,
            detail=platform.release(),
            fix="use a newer kernel (Debian 12's is 6.1)",
        ),
    ]
    items.append(
        PreflightItem(
            "per-learner memory and CPU limits (cgroup v2 with systemd as PID 1)",
            _cgroup_limits(),
            detail="without them one learner's build can take the whole server's CPU and memory",
            fix="boot with systemd and the unified cgroup hierarchy (Debian 12's default)",
            required=False,
        )
    )
    for account in accounts:
        items.append(
            PreflightItem(
                f"subordinate ids of {account.name}",
                has_subids(account.name),
                fix=f"usermod --add-subuids 100000-165535 --add-subgids "
                f"100000-165535 {account.name} (a range no one else has)",
            )
        )
    return items


def _cgroup_limits() -> bool:
    # Docker's rootless docs: limits need cgroup v2 delegated by systemd.
    controllers = Path("/sys/fs/cgroup/cgroup.controllers")
    try:
        systemd = Path("/proc/1/comm").read_text().strip() == "systemd"
        return systemd and bool(controllers.read_text().split())
    except OSError:
        return False


def failed(items: list[PreflightItem]) -> list[PreflightItem]:
    """Return the required items that do not hold."""
    return [item for item in items if not item.ok and item.required]


def require(items: list[PreflightItem]) -> None:
    """Raise ClassroomError listing every item that does not hold, with its fix."""
    missing = failed(items)
    if missing:
        raise ClassroomError(
            "This server lacks what rootless engines need:\n"
            + "\n".join(item.line() for item in missing)
        )
