"""Take a class down: stop the hub, every server and engine, end every process of the class's
accounts, put the host settings back; with `--purge`, remove what `up` made.

Ending a class's processes does not rely on pids or process groups, which a learner's code
can leave (setsid, unshare, a container running as a subordinate id, a loop that re-forks
every few milliseconds): each account's cgroup holds them all, and is frozen, killed and
thawed (cgroups.AccountCgroup.kill). Processes of an account's uid or subordinate ids found
outside it (none should be) are killed by uid. A purge goes on past what fails and then says
exactly what is left and why; the record stays until nothing is left, so that `down --purge`
can be run again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

from ..errors import ProvisionError
from ..provisioning import run_command
from . import accounts, hardening, hub, rootless
from .cgroups import CgroupFs
from .class_record import ClassRecord
from .disks import mounts_under
from .layout import CLASS_GROUP, ClassroomError, ClassroomLayout, account_exists, group_exists
from .lifecycle import require_root
from .processes import processes_of

KILL_WAIT_S = 10


def subordinate_ids(name: str) -> range:
    """Return the subordinate uid range /etc/subuid gives `name` (empty when none)."""
    with contextlib.suppress(OSError):
        for line in Path("/etc/subuid").read_text().splitlines():
            parts = line.split(":")
            if len(parts) == 3 and parts[0] == name:
                return range(int(parts[1]), int(parts[1]) + int(parts[2]))
    return range(0)


def end_processes(layout: ClassroomLayout, record: ClassRecord, say=print) -> list[str]:
    """Stop every engine of the class and end every process of its accounts (their cgroups,
    then anything of their uids or subordinate ids outside them). Returns what is left."""
    cgroups = CgroupFs()
    left = []
    for name in record.accounts:
        if not account_exists(name):
            continue
        account = layout.account(name)
        if rootless.stop_engine(account):
            say(f"engines: stopped {name}'s engine")
        group = cgroups.account(name)
        stuck = group.kill() if group.exists() else set()
        uids = {account.uid} | set(subordinate_ids(name))
        strays = [pid for pid in processes_of(uids) if pid not in stuck]
        for pid in strays:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + KILL_WAIT_S
        while processes_of(uids) and time.monotonic() < deadline:
            time.sleep(0.1)
        if strays:
            say(f"class: ended {len(strays)} processes of {name} outside its cgroup")
        remaining = sorted(processes_of(uids))
        if remaining:
            left.append(f"{name}: processes {remaining[:10]} did not end (uninterruptible?)")
    return left


def down(layout: ClassroomLayout, purge: bool, say=print) -> None:
    """Stop the hub, every server, engine and process of the class and restore the host's
    settings; with `purge`, also remove the accounts `up` created (disks, homes, engine data,
    subordinate ids, cgroups), the class group if `up` created it, its ACL entry on
    /dev/net/tun, and the files of the layout's list (remove_class_files). Installs (the hub's
    environment, the proxy, RootlessKit) stay.

    Raises ClassroomError listing what is left, and why, when something could not be ended or
    removed (after doing all the rest).
    """
    require_root("down")
    record = ClassRecord.load(layout.record)
    if hub.hub_alive(record):
        hub.stop_servers(record, say)
    hub.stop(record, say)
    record.save()
    left = end_processes(layout, record, say)
    left += hardening.restore(record.host_previous, say)
    record.save()
    if purge:
        left += _purge(layout, record, say)
    if left:
        raise ClassroomError(
            "Not everything could be "
            + ("removed" if purge else "stopped")
            + ":\n  "
            + "\n  ".join(left)
            + "\nEnd or unmount what is named, then run `stagelab classroom down"
            + (" --purge` again." if purge else "` again.")
        )


def _purge(layout: ClassroomLayout, record: ClassRecord, say) -> list[str]:
    left = []
    cgroups = CgroupFs()
    for name in list(record.accounts_created):
        problems = accounts.remove_account(layout, name, say)
        left += problems
        if not account_exists(name):
            record.accounts_created.remove(name)
            with contextlib.suppress(ValueError):
                record.disks_made.remove(name)
    for name in record.accounts:
        left += cgroups.account(name).remove()
    cgroups.remove_class()
    if record.group_created and group_exists(CLASS_GROUP):
        try:
            run_command(["groupdel", CLASS_GROUP], "remove the class group")
            record.group_created = False
        except ProvisionError as error:
            left.append(f"the group {CLASS_GROUP} stays: {error}")
    if record.tun_acl_added:
        try:
            rootless.revoke_tun(record.tun_had_acl)
            record.tun_acl_added = False
        except ProvisionError as error:
            left.append(f"the class's ACL entry on {rootless.TUN} stays: {error}")
    if left:
        record.save()  # what is left is still recorded, for the next purge
    left += [
        f"{path} stays: {why}"
        for path, why in remove_class_files(layout, record.accounts, keep_record=bool(left))
    ]
    if not left:
        say("class: purged the accounts, disks, homes, engine data and state that `up` made")
    return left


def remove_class_files(
    layout: ClassroomLayout, account_names: list[str], keep_record: bool = False
) -> list[tuple[Path, str]]:
    """Remove what a class of these accounts made under the layout's state, logs and sockets
    folders (ClassroomLayout.made_by_class), then those folders if nothing else is left in
    them. A folder with something still mounted in it is left whole, and so is the record
    when `keep_record`.

    Returns what was not removed, each with why. Anything else in those folders stays.
    """
    left = []
    for path in layout.made_by_class(account_names):
        if keep_record and path == layout.record:
            continue
        mounted = mounts_under(path)
        if mounted:
            left.append((path, f"{mounted[0]} is still mounted in it"))
        elif path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    for folder in (layout.state, layout.logs, layout.sockets):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return left
