"""The class's Unix accounts: learners and the instructor, their passwords and their homes.

`useradd` gives each new account a subordinate uid/gid range no other account has
(SUB_UID_MIN.. in /etc/login.defs), which its rootless engine maps container ids into.
An account's login shell is nologin: it can be used through the hub only, never by ssh, su or
a console login, so that every process it runs is one root started confined (confine.py).
Homes are 0700, live on the account's own disk (disks.py) and hold the account's own copy of
notebooks/ and labs/ (labs without anyone's working files: those are made from starter/ on
first use).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

from ..labs.criteria import LITTER
from ..provisioning import run_command
from .class_record import ClassRecord
from .disks import AccountDisk, is_mounted, unmount_runtime
from .layout import (
    CLASS_GROUP,
    Account,
    ClassroomError,
    ClassroomLayout,
    account_exists,
    group_exists,
)
from .processes import processes_of
from .sizing import Limits

# Letters and digits that cannot be mistaken for one another on a printed sheet.
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
# What a lab folder holds that is the course's, not a learner's (labs/README.md).
LAB_FILES = {"starter", "solution", "checks.py", "task.ipynb", "task.md"}
NOLOGIN = "/usr/sbin/nologin"
HOMES = Path("/home")


def new_password() -> str:
    """Return a new password of 3 groups of 4 characters, e.g. 'k7mq-2xpt-9hfr' (about 59 bits)."""
    return "-".join("".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(4)) for _ in range(3))


def ensure_group(record: ClassRecord) -> None:
    """Create the class group (members may open /dev/net/tun) unless it exists."""
    if not group_exists(CLASS_GROUP):
        run_command(["groupadd", CLASS_GROUP], f"create the group {CLASS_GROUP}")
        record.group_created = True


def ensure_account(
    layout: ClassroomLayout, name: str, record: ClassRecord, limits: Limits, say=print
) -> Account:
    """Create the account `name` (once) with a subordinate id range, a password and a home on
    a disk of its own of `limits.disk_bytes`; mount that disk when it is not (after a reboot).

    An account of that name that this class did not create is refused, and so is a home that
    already holds files but has no disk: ClassroomError.
    """
    if account_exists(name) and name not in record.accounts_created:
        raise ClassroomError(
            f"An account {name!r} already exists and was not made by stagelab "
            "classroom: remove or rename it, then retry."
        )
    if not account_exists(name):
        run_command(
            [
                "useradd",
                "--no-create-home",
                "--home-dir",
                str(HOMES / name),
                "--shell",
                NOLOGIN,
                "--groups",
                CLASS_GROUP,
                "--comment",
                "stagelab classroom",
                name,
            ],
            f"create the account {name}",
        )
        record.accounts_created.append(name)
        say(f"accounts: created {name}")
    account = layout.account(name)
    disk = AccountDisk(layout, name)
    if name not in record.disks_made:
        if account.home.is_dir() and not is_mounted(account.home) and any(account.home.iterdir()):
            raise ClassroomError(
                f"{account.home} holds files and has no disk of its own: move them away "
                "(or `stagelab classroom down --purge`), then retry."
            )
        disk.create(limits.disk_bytes, account)
        record.disks_made.append(name)
        say(f"accounts: {name}'s disk: {limits.disk_bytes // 1024**3} GiB")
    else:
        disk.mount(account)
    disk.bind_home(account)
    if name not in record.passwords:
        record.passwords[name] = new_password()
        run_command(
            ["chpasswd"], f"set the password of {name}", input=f"{name}:{record.passwords[name]}\n"
        )
    return account


def copy_skeleton(account: Account) -> None:
    """Give a new home the system's default files (/etc/skel: the shell's start-up files)."""
    skeleton = Path("/etc/skel")
    if skeleton.is_dir():
        shutil.copytree(skeleton, account.home, symlinks=True, dirs_exist_ok=True)
        for path in [account.home, *account.home.rglob("*")]:
            os.lchown(path, account.uid, account.gid)
    os.chmod(account.home, 0o700)


# The course's folders, as a learner's home holds them (lesson 11 reads the learner image's
# Dockerfile at ../classroom/kubernetes/image).
COURSE_FOLDERS = ("notebooks", "labs", "classroom/kubernetes/image")


def copy_course(course: Path, account: Account) -> None:
    """Give a new account its own copy of the folders of the course folder `course` (course
    files only), owned by it: its home is then a course folder (course.py finds it there)."""
    for folder in COURSE_FOLDERS:
        target = account.home / folder
        shutil.copytree(course / folder, target, ignore=_course_only)
        for path in [target, *target.rglob("*")]:
            os.lchown(path, account.uid, account.gid)
        for parent in target.relative_to(account.home).parents[:-1]:
            os.lchown(account.home / parent, account.uid, account.gid)


def _course_only(folder: str, names: list[str]) -> set[str]:
    skipped = {name for name in names if name in LITTER or name == ".backups"}
    if Path(folder).parent.name == "labs":
        # Inside a lab folder: only the course's files, never someone's working files.
        skipped |= {name for name in names if name not in LAB_FILES}
    return skipped


def remove_account(layout: ClassroomLayout, name: str, say=print) -> list[str]:
    """Remove an account this class created, with its disk (home, engine data, temporary
    files), runtime folder and subordinate ids.

    Returns what could not be removed, each with why ([] when all went).
    """
    disk = AccountDisk(layout, name)
    if not account_exists(name):
        return disk.remove(None)
    account = layout.account(name)
    problems = disk.remove(account) + unmount_runtime(account)
    left = processes_of({account.uid})
    if left:
        return problems + [
            f"the account {name} stays: its processes {sorted(left)[:10]} are still running"
        ]
    done = subprocess.run(
        ["userdel", "--remove", name], capture_output=True, text=True, check=False
    )
    if done.returncode not in (0, 12):  # 12: the home could not be removed whole
        return problems + [f"the account {name} stays: userdel said {done.stderr.strip()}"]
    # Files written by container root belong to subordinate ids: userdel may leave them.
    if not is_mounted(account.home):
        shutil.rmtree(account.home, ignore_errors=True)
    shutil.rmtree(account.runtime_dir, ignore_errors=True)
    say(f"accounts: removed {name}, its disk and its home")
    return problems


def write_sheet(layout: ClassroomLayout, record: ClassRecord) -> Path:
    """Write the printable credentials sheet (mode 0600) and return its path."""
    passwords = {
        name: record.passwords[name] for name in record.accounts if name in record.passwords
    }
    sheet = layout.credentials_sheet
    sheet.parent.mkdir(parents=True, exist_ok=True)
    sheet.touch(mode=0o600)
    os.chmod(sheet, 0o600)
    sheet.write_text(sheet_text(record.hub_url, passwords))
    return sheet


def sheet_text(hub_url: str, passwords: dict[str, str]) -> str:
    """Return the printable sheet: where to log in, then a slip per name with its password."""
    lines = [f"stagelab classroom: open {hub_url} and log in with your name and password.", ""]
    for name, password in passwords.items():
        lines += ["-" * 60, f"  {hub_url}", f"  name:     {name}", f"  password: {password}", ""]
    return "\n".join(lines) + "\n"


def credential_lines(record: ClassRecord) -> list[str]:
    """Return one `NAME PASSWORD` line per account of the class, learners first."""
    return [
        f"{name} {record.passwords[name]}" for name in record.accounts if name in record.passwords
    ]
