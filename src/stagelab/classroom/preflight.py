"""Preflight: what a server needs for a class of rootless engines, each learner confined and
limited, checked item by item with the fix for each (`stagelab classroom preflight`, and `up`
before it starts the hub). Items `up` sets itself (the host settings of hardening.py) are
notes here, not failures."""

from __future__ import annotations

import os
import platform
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from ..course import package_checkout
from . import hardening
from .cgroups import CgroupFs
from .class_record import ClassRecord
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


def cgroups_item() -> PreflightItem:
    """Return the item: a cgroup per learner can be made (v1 memory, pids, cpu and freezer,
    or v2 with the memory, pids and cpu controllers)."""
    version = CgroupFs().version
    return PreflightItem(
        "cgroups for per-learner limits and stopping (v1 memory, pids, cpu, freezer; or v2)",
        version is not None,
        detail=f"cgroup v{version}" if version else "none usable under /sys/fs/cgroup",
        fix="mount the cgroup hierarchies read-write (a container needs --cgroupns=host)",
    )


def host_items(record: ClassRecord | None) -> list[PreflightItem]:
    """Return the host settings a shared server needs (hardening.py): notes, since `up` sets
    them; and the unprivileged port start, which must stay above the class's ports."""
    items = [
        PreflightItem(
            f"{name} = {value}",
            hardening.current(name) == value,
            detail=f"now {hardening.current(name)}",
            fix="`stagelab classroom up` sets it (and `down` puts it back)",
            required=False,
        )
        for name, value in hardening.wanted_settings(None).items()
    ]
    if record is not None and record.learners:
        highest = max(record.port, record.internal_port + 1)
        start = hardening.unprivileged_port_start()
        items.append(
            PreflightItem(
                f"the class's ports ({record.port}, {record.internal_port}, "
                f"{record.internal_port + 1}) below net.ipv4.ip_unprivileged_port_start",
                highest < start,
                detail=f"it is {start}",
                fix=f"sysctl -w {hardening.UNPRIVILEGED_PORT_START}=1024",
            )
        )
    return items


def preflight(
    layout: ClassroomLayout, accounts: list[Account] = (), record: ClassRecord | None = None
) -> list[PreflightItem]:
    """Check what rootless engines and confined learners need on this server, with the
    layout's installs; return one PreflightItem per item.

    `accounts` adds a check of each one's subordinate id ranges; `record` the class's ports.
    Nothing is changed.
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
    checkout = package_checkout()
    if checkout is not None:
        writable = hardening.writable_by_others(checkout)
        items.append(
            PreflightItem(
                "the checkout root runs is root's alone (hub config, dashboard, labs' checks)",
                not writable,
                detail="; ".join(writable),
                fix=f"chown -R root: {checkout} && chmod -R go-w {checkout}",
            )
        )
    items += [
        cgroups_item(),
        PreflightItem(
            "loop devices and mkfs.ext4 (a disk of fixed size per learner)",
            Path("/dev/loop-control").exists() and shutil.which("mkfs.ext4") is not None,
            fix="modprobe loop; apt-get install e2fsprogs",
        ),
        *host_items(record),
    ]
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
