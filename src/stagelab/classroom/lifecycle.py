"""Bring a class up and take it down: installs, accounts, engines and images, the hub.

`up` is idempotent: what exists is kept (accounts, homes and the learners' work, loaded
images, a running hub). Everything it makes is written to the class record (ClassRecord, kept
at ClassroomLayout.record) as it goes, and the files it makes are the layout's list
(ClassroomLayout.made_by_class), so `down --purge` removes exactly those, even after an `up`
that failed half-way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

from .. import provisioning, standins
from . import accounts, hub, installs, preflight, rootless
from .layout import (
    CLASS_GROUP,
    INSTRUCTOR,
    Account,
    ClassRecord,
    ClassroomError,
    ClassroomLayout,
    account_exists,
    group_exists,
    learner_names,
    source_checkout,
)


def require_root(action: str) -> None:
    """Raise ClassroomError unless running as root."""
    if os.geteuid() != 0:
        raise ClassroomError(
            f"`stagelab classroom {action}` manages accounts and engines: run it as root (sudo)."
        )


def up(
    layout: ClassroomLayout,
    learners: int,
    port: int,
    ip: str,
    idle_timeout_s: int,
    checkout: Path | None = None,
    say=print,
) -> ClassRecord:
    """Bring up a class of `learners` behind a hub on `port`; return its record.

    Installs what is missing (stagelab and the course from `checkout`, default: the checkout
    stagelab runs from), creates accounts learner01.. and `instructor` (each with a password,
    a subordinate id range and a 0700 home with its own copy of the course), loads the base
    images into each account's rootless engine from one archive, and starts JupyterHub.
    Raises ClassroomError (with what to fix) or ProvisionError when a step fails.
    """
    require_root("up")
    # The hub installs stagelab from this source, and every home gets this course.
    checkout = checkout or source_checkout("`stagelab classroom up`")
    record = ClassRecord.load(layout.record)
    names = learner_names(learners)
    if len(record.learners) > len(names):
        say(f"class: keeping the {len(record.learners)} learners already set up")
        names = record.learners
    record.learners, record.port, record.ip = names, port, ip
    record.idle_timeout_s = idle_timeout_s
    record.save()
    _ensure_engine_and_archive(layout, say)
    installs.ensure_rootless_parts(layout, say)
    reinstalled = installs.ensure_hub_environment(layout, checkout, say)
    proxy = installs.ensure_proxy(layout, checkout, say)
    accounts.ensure_group(record)
    class_accounts = []
    for name in record.accounts:
        try:
            class_accounts.append(accounts.ensure_account(layout, name, record, say))
        finally:
            record.save()
        if name not in record.homes_ready:
            # Only into a home made by this class, before its learner ever logged in: root
            # writes nothing in a home a learner uses (a planted symlink could redirect it).
            accounts.copy_course(checkout, class_accounts[-1])
            rootless.link_buildx(layout, class_accounts[-1])
            record.homes_ready.append(name)
            record.save()
    record.tun_acl_added, record.tun_had_acl = (
        (True, record.tun_had_acl) if record.tun_acl_added else rootless.grant_tun(say)
    )
    record.save()
    preflight.require(preflight.preflight(layout, class_accounts))
    for account in class_accounts:
        _load_images(layout, account, record, say)
    changed = hub.hub_settings(layout, record, checkout, str(proxy)).write()
    record.save()
    if (reinstalled or changed) and hub.hub_alive(record):
        say("hub: restarting JupyterHub with the new " + ("install" if reinstalled else "settings"))
        hub.stop(record, say)
    hub.start(layout, record, say)
    record.save()
    accounts.write_sheet(layout, record)
    say(
        f"class: {len(record.learners)} learners and {INSTRUCTOR}; credentials: "
        "`stagelab classroom credentials`"
    )
    return record


def _ensure_engine_and_archive(layout: ClassroomLayout, say) -> None:
    if not layout.engine.rootless_script.exists():
        provisioning.Provisioner(say, layout.engine).install_engine()
    archive = layout.images_archive
    if archive.exists():
        return
    provisioning.ensure_engine(say)
    standins.ensure_images(say, extras=standins.course_images())
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial")
    standins.export(partial, say)
    # Each learner's engine loads the archive as that learner.
    os.chmod(partial, 0o644)
    for folder in (layout.state, archive.parent):
        os.chmod(folder, 0o755)
    partial.replace(archive)


def _load_images(layout: ClassroomLayout, account: Account, record: ClassRecord, say) -> None:
    if account.name in record.images_loaded:
        return
    started = time.monotonic()
    running = rootless.engine_pid(account) is not None
    rootless.start_engine(layout, account)
    try:
        loaded = rootless.load_images(layout, account)
    finally:
        if not running:
            rootless.stop_engine(account)
    record.images_loaded.append(account.name)
    record.save()
    say(
        f"engines: {account.name}: loaded {len(loaded)} base images in "
        f"{time.monotonic() - started:.1f} s"
    )


def class_processes(uids: set[int]) -> list[int]:
    """Return the pids of processes whose real uid is one of `uids`."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            for line in status.read_text().splitlines():
                if line.startswith("Uid:"):
                    if int(line.split()[1]) in uids:
                        found.append(int(status.parent.name))
                    break
        except (OSError, ValueError):
            continue
    return found


def down(layout: ClassroomLayout, purge: bool, say=print) -> None:
    """Stop the hub, every server and engine of the class; with `purge`, remove what `up` made.

    Purging removes the accounts `up` created (homes, engine data, subordinate ids), the class
    group if `up` created it, its ACL entry on /dev/net/tun, and the files of the layout's
    list (remove_class_files). Installs (the hub's environment, the proxy, RootlessKit) stay.
    """
    require_root("down")
    record = ClassRecord.load(layout.record)
    if hub.hub_alive(record):
        hub.stop_servers(record, say)
    hub.stop(record, say)
    record.save()
    existing = [layout.account(name) for name in record.accounts if account_exists(name)]
    for account in existing:
        if rootless.stop_engine(account):
            say(f"engines: stopped {account.name}'s engine")
    leftovers = class_processes(
        {account.uid for account in existing if account.name in record.accounts_created}
    )
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if leftovers:
        say(f"class: ended {len(leftovers)} leftover processes of class accounts")
        time.sleep(0.5)
    if not purge:
        return
    for name in record.accounts_created:
        accounts.remove_account(layout, name, say)
    if record.group_created and group_exists(CLASS_GROUP):
        provisioning.run_command(["groupdel", CLASS_GROUP], "remove the class group")
    if record.tun_acl_added:
        rootless.revoke_tun(record.tun_had_acl)
    remove_class_files(layout, record.accounts)
    say("class: purged the accounts, homes, engine data and state that `up` made")


def remove_class_files(layout: ClassroomLayout, account_names: list[str]) -> list[Path]:
    """Remove what a class of these accounts made under the layout's state and logs folders
    (ClassroomLayout.made_by_class), then those folders if nothing else is left in them.

    Returns what was removed. Anything else in those folders stays.
    """
    removed = []
    for path in layout.made_by_class(account_names):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        else:
            continue
        removed.append(path)
    for folder in (layout.state, layout.logs):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            removed.append(folder)
    return removed
