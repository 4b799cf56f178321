"""What a server shared by learners needs of its kernel, and what `up` sets and `down` restores.

- fs.protected_symlinks=1 and fs.protected_hardlinks=1: in a sticky world-writable folder
  (/tmp), nobody follows another user's link, and nobody hard-links a file they could not
  write; fs.protected_fifos=2 and fs.protected_regular=2: nobody's O_CREAT open writes into
  another user's FIFO or file there, also in group-writable sticky folders
  (Documentation/admin-guide/sysctl/fs.rst).
- /proc mounted with hidepid=invisible: a learner sees only their own processes, not the
  command lines, environments' sizes or start times of anyone else's (proc(5), "Mount
  options"; the hub runs as root and sees all).
- kernel.pid_max large enough for every account's task limit (sizing.py).
- net.ipv4.ip_unprivileged_port_start above every port of the class: the class listens on
  ports below it, which only root can bind (Documentation/networking/ip-sysctl.rst), so no
  learner can take one even while the hub restarts.

`up` records each value it changes in the class record and `down` puts it back.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import ProvisionError
from ..provisioning import run_command

# The values a shared server needs, and what each means, for preflight and `up`.
SYSCTLS = {
    "fs.protected_symlinks": "1",
    "fs.protected_hardlinks": "1",
    "fs.protected_fifos": "2",
    "fs.protected_regular": "2",
}
PID_MAX = "kernel.pid_max"
UNPRIVILEGED_PORT_START = "net.ipv4.ip_unprivileged_port_start"
HIDEPID = "proc:hidepid"
HIDEPID_WANTED = "invisible"


def sysctl_path(name: str) -> Path:
    """Return the /proc/sys file of a sysctl name like fs.protected_fifos."""
    return Path("/proc/sys") / name.replace(".", "/")


def read_sysctl(name: str) -> str:
    """Return a sysctl's current value ("" where this kernel has none)."""
    try:
        return sysctl_path(name).read_text().strip()
    except OSError:
        return ""


def hidepid() -> str:
    """Return /proc's hidepid option ("off", "noaccess", "invisible", "ptraceable")."""
    names = {"0": "off", "1": "noaccess", "2": "invisible", "4": "ptraceable"}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == "/proc":
            for option in fields[-1].split(","):
                if option.startswith("hidepid="):
                    value = option.split("=", 1)[1]
                    return names.get(value, value)
            return "off"
    return "off"


def current(name: str) -> str:
    """Return the current value of a setting this module manages (a sysctl or HIDEPID)."""
    return hidepid() if name == HIDEPID else read_sysctl(name)


def wanted_settings(pid_max: int | None) -> dict[str, str]:
    """Return every setting a class needs, with its value (`pid_max`: the kernel.pid_max the
    class needs, None when the current one will do)."""
    settings = {**SYSCTLS, HIDEPID: HIDEPID_WANTED}
    if pid_max is not None:
        settings[PID_MAX] = str(pid_max)
    return settings


def missing(settings: dict[str, str]) -> dict[str, str]:
    """Return the settings whose current value differs: {name: current value}."""
    return {name: current(name) for name, value in settings.items() if current(name) != value}


def apply(name: str, value: str) -> None:
    """Set a sysctl or /proc's hidepid to `value`. Raises ProvisionError or OSError."""
    if name == HIDEPID:
        run_command(["mount", "-o", f"remount,hidepid={value}", "/proc"], "remount /proc")
    else:
        sysctl_path(name).write_text(value)


def set_all(settings: dict[str, str], previous: dict[str, str], say=print) -> None:
    """Set each setting that differs; keep the value it had first in `previous` (the class
    record's), so that `restore` can put it back."""
    for name, before in missing(settings).items():
        previous.setdefault(name, before)
        apply(name, settings[name])
        say(f"host: {name} {before} -> {settings[name]}")


def restore(previous: dict[str, str], say=print) -> list[str]:
    """Put back every setting `up` changed (`previous`, emptied as each is restored); return
    what could not be restored, with why."""
    problems = []
    for name, value in list(previous.items()):
        try:
            apply(name, value)
            say(f"host: {name} back to {value}")
            del previous[name]
        except (OSError, ProvisionError) as error:  # kept for the next down
            problems.append(f"{name} stays changed: {error}")
    return problems


def unprivileged_port_start() -> int:
    """Return the lowest port any user may bind (1024 unless changed; 0 where the kernel has
    no such setting is taken as 1024, its fixed value there)."""
    value = read_sysctl(UNPRIVILEGED_PORT_START)
    return int(value) if value else 1024


def writable_by_others(checkout: Path, limit: int = 5) -> list[str]:
    """Return up to `limit` paths of the checkout, or folders above it, that a user other
    than root may change: owned by someone else, or writable by group or others (a sticky
    folder above the checkout counts as safe). Root runs the checkout's code: the hub's
    config, the dashboard and the labs' checks come from it, and so does this command."""
    found: list[str] = []

    def judge(path: str, info: os.stat_result, above: bool) -> None:
        if stat.S_ISLNK(info.st_mode):
            return
        sticky = above and stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX
        if info.st_uid != 0:
            found.append(f"{path} (owned by uid {info.st_uid})")
        elif info.st_mode & 0o022 and not sticky:
            found.append(f"{path} (mode {oct(info.st_mode & 0o7777)})")

    root = checkout.resolve()
    for folder in reversed(root.parents):
        judge(str(folder), folder.lstat(), above=True)
    judge(str(root), root.lstat(), above=False)
    pending = [str(root)]
    while pending and len(found) < limit:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                info = entry.stat(follow_symlinks=False)
                judge(entry.path, info, above=False)
                if stat.S_ISDIR(info.st_mode):
                    pending.append(entry.path)
    return found[:limit]
