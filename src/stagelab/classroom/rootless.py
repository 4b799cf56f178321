"""One rootless Docker engine per account: what it needs, starting and stopping it as that user.

Each engine is Debian's `dockerd-rootless.sh` (docker.io's contrib/) under RootlessKit, run as
the account's Unix user with XDG_RUNTIME_DIR=/run/user/UID, so its socket is
/run/user/UID/docker.sock (mode 0660 in a 0700 tmpfs, disks.mount_runtime) and its data root is
in the account's home, on its disk. Container root maps to the account's uid and its
subordinate ids (/etc/subuid), never to host root
(https://docs.docker.com/engine/security/rootless/). The engine is started confined
(confine.py): in the account's cgroup, so that it and every container count against the
account's limits and end with it. The script's network driver is slirp4netns, which opens
/dev/net/tun as the user: on these machines that device is 0600 root, so the class group is
given read-write on it with an ACL entry (see tun_fix).

Root talks to an engine's socket only to ask whether it answers (engine_answers), and checks
first who listens there (SO_PEERCRED, unix(7)): the socket's folder is the learner's, who could
put a link to another socket in its place. Everything else root does with an engine (list or
load images) runs as the account, confined.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

from .. import class_images
from ..provisioning import run_command
from .cgroups import CgroupFs
from .confine import Confinement
from .disks import AccountDisk, mount_runtime
from .layout import CLASS_GROUP, Account, ClassroomError, ClassroomLayout
from .processes import ProcessIdentity

TUN = Path("/dev/net/tun")
ENGINE_START_TIMEOUT_S = 60
ENGINE_STOP_TIMEOUT_S = 20
# The learners' terminals' shell: their accounts' login shell is nologin (accounts.py).
TERMINAL_SHELL = "/bin/bash"


def path_for_engines(layout: ClassroomLayout) -> str:
    """Return the PATH an engine runs with: RootlessKit, the engine's binaries, the system's."""
    return ":".join(
        [
            str(layout.rootlesskit_bin),
            str(layout.engine.bin),
            "/usr/local/bin",
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/bin",
        ]
    )


def tun_fix() -> str:
    """Return the shell command that lets the class group open /dev/net/tun."""
    return f"setfacl -m g:{CLASS_GROUP}:rw {TUN}"


def tun_usable_by_class() -> bool:
    """Tell whether members of the class group may open /dev/net/tun (mode or ACL entry)."""
    if not TUN.exists():
        return False
    if TUN.stat().st_mode & 0o006 == 0o006:
        return True
    done = subprocess.run(["getfacl", "-cp", str(TUN)], capture_output=True, text=True, check=False)
    return f"group:{CLASS_GROUP}:rw" in done.stdout


def has_subids(name: str) -> bool:
    """Tell whether /etc/subuid and /etc/subgid both give `name` a range."""

    def listed(path: str) -> bool:
        try:
            return any(line.split(":")[0] == name for line in Path(path).read_text().splitlines())
        except OSError:
            return False

    return listed("/etc/subuid") and listed("/etc/subgid")


def grant_tun(say=print) -> tuple[bool, bool]:
    """Give the class group read-write on /dev/net/tun with an ACL entry, when it lacks it.

    Returns (added, had_acl_before) for the class record, so that revoke_tun can undo exactly
    this. Stock Debian makes the device 0666; these machines make it 0600.
    """
    if tun_usable_by_class():
        return False, False
    listed = subprocess.run(
        ["getfacl", "-cp", str(TUN)], capture_output=True, text=True, check=False
    ).stdout
    had_acl = any(
        line.startswith(("user:", "group:")) and line.split(":")[1] for line in listed.splitlines()
    )
    mode = oct(TUN.stat().st_mode & 0o777)
    run_command(
        ["setfacl", "-m", f"g:{CLASS_GROUP}:rw", str(TUN)], "let the class open /dev/net/tun"
    )
    say(
        f"engines: /dev/net/tun was {mode}: gave group "
        f"{CLASS_GROUP} read-write with an ACL entry, so learners' slirp4netns can open it"
    )
    return True, had_acl


def revoke_tun(had_acl: bool) -> None:
    """Remove the class group's ACL entry from /dev/net/tun (all ACLs when it had none before)."""
    if TUN.exists():
        command = (
            ["setfacl", "-x", f"g:{CLASS_GROUP}", str(TUN)]
            if had_acl
            else ["setfacl", "-b", str(TUN)]
        )
        run_command(command, "remove the class's ACL entry from /dev/net/tun")


def confinement(layout: ClassroomLayout, account: Account, cwd: Path | None = None) -> Confinement:
    """Return how root starts a process of `account`: in its cgroup, with its disk's tmp over
    /tmp when it has a disk, in `cwd` (default: its home)."""
    disk = AccountDisk(layout, account.name)
    return Confinement.of(account, CgroupFs(), disk.tmp if disk.exists() else None, cwd)


def engine_environment(layout: ClassroomLayout, account: Account) -> dict[str, str]:
    """Return the environment an account's engine (and its docker CLI) runs with."""
    return {
        "HOME": str(account.home),
        "USER": account.name,
        "LOGNAME": account.name,
        "XDG_RUNTIME_DIR": str(account.runtime_dir),
        "PATH": path_for_engines(layout),
        "DOCKER_HOST": account.docker_host,
        "LANG": "C.UTF-8",
    }


def server_environment(
    account: Account, venv: Path, engine_path: str, image_library: Path
) -> dict[str, str]:
    """Return what the spawner adds to a learner's single-user server's environment: their
    engine (DOCKER_HOST), their runtime folder (where their kernels' ipc sockets go), their
    terminals' shell, the hub environment's tools first on PATH, and the class's base-image
    archives, which their builds load on first use (class_images.py).

    The server's working folder is the learner's home, which holds their copy of the course:
    stagelab finds it there (course.py), so no path to it is passed.
    """
    return {
        "DOCKER_HOST": account.docker_host,
        "XDG_RUNTIME_DIR": str(account.runtime_dir),
        "JUPYTER_RUNTIME_DIR": str(account.runtime_dir / "jupyter"),
        "SHELL": TERMINAL_SHELL,
        "PATH": f"{venv / 'bin'}:{engine_path}",
        class_images.ENV: str(image_library),
    }


def engine_identity(account: Account) -> ProcessIdentity | None:
    """Return the account's running engine (RootlessKit) as a process identity, or None.

    The pid file is root's; it counts only while that very process (pid, uid and start time)
    runs as the account.
    """
    try:
        identity = ProcessIdentity.from_text(account.engine_pidfile.read_text())
    except OSError:
        return None
    if identity is None or identity.uid != account.uid or not identity.current():
        return None
    return identity


def engine_pid(account: Account) -> int | None:
    """Return the pid of the account's running engine (RootlessKit), or None."""
    identity = engine_identity(account)
    return identity.pid if identity is not None else None


def peer_uid(sock: socket.socket) -> int:
    """Return the uid of the process that listens at the other end of a connected Unix socket
    (SO_PEERCRED: pid, uid, gid as three ints)."""
    credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", credentials)[1]


def engine_answers(account: Account, timeout: float = 2.0) -> bool:
    """Tell whether the account's engine answers `GET /_ping` on its socket.

    Sends nothing unless the listener is the account's own process (its uid): a link the
    learner put in the socket's place leads nowhere else.
    """
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(timeout)
            sock.connect(str(account.socket))
            if peer_uid(sock) != account.uid:
                return False
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b" 200 " in sock.recv(64)
    except OSError:
        return False


def start_engine(
    layout: ClassroomLayout, account: Account, timeout: float = ENGINE_START_TIMEOUT_S
) -> int:
    """Start the account's rootless engine as that user (once) and wait until it answers.

    Returns the engine's pid. Its log goes to account.engine_log. Raises ClassroomError with
    the log's tail when it does not answer within `timeout` seconds.
    """
    identity = engine_identity(account)
    if identity is None:
        mount_runtime(account)
        account.engine_pidfile.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        account.engine_log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        log = os.open(account.engine_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            process = subprocess.Popen(
                [str(layout.engine.rootless_script), "--data-root", str(account.data_root)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=engine_environment(layout, account),
                **confinement(layout, account).popen_kwargs(),
            )
        finally:
            os.close(log)
        # Popen returns once the child has exec'd: its identity is the engine's for good.
        identity = ProcessIdentity.of(process.pid) or ProcessIdentity(process.pid, account.uid, 0)
        account.engine_pidfile.write_text(identity.to_text())
    deadline = time.monotonic() + timeout
    while not engine_answers(account):
        if engine_identity(account) is None or time.monotonic() > deadline:
            stop_engine(account)
            tail = "\n".join(account.engine_log.read_text(errors="replace").splitlines()[-12:])
            raise ClassroomError(
                f"The engine of {account.name} did not start. Run `stagelab "
                f"classroom preflight`; its log ({account.engine_log}) ends "
                f"with:\n{tail}"
            )
        time.sleep(0.3)
    return identity.pid


def stop_engine(account: Account, timeout: float = ENGINE_STOP_TIMEOUT_S) -> bool:
    """Stop the account's engine (SIGTERM, then SIGKILL to its process group); True if it ran.

    Only ever signals the process the pid file names while it is that very process
    (engine_identity); whatever else the account left running, its cgroup ends (cgroups.py).
    """
    identity = engine_identity(account)
    account.engine_pidfile.unlink(missing_ok=True)
    if identity is None:
        return False
    identity.signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while identity.current() and time.monotonic() < deadline:
        time.sleep(0.2)
    # The engine was started in a session of its own: its group is RootlessKit, slirp4netns,
    # dockerd and containerd, and nothing else.
    identity.kill_group()
    return True


def as_account(
    layout: ClassroomLayout,
    account: Account,
    command: list[str],
    purpose: str,
    timeout=600,
    **kwargs,
) -> subprocess.CompletedProcess:
    """Run a command as the account, confined, with its engine's environment, in its home;
    ProvisionError on failure or after `timeout` seconds. `kwargs` go to subprocess.run."""
    return run_command(
        command,
        purpose,
        env=engine_environment(layout, account),
        timeout=timeout,
        **confinement(layout, account).popen_kwargs(),
        **kwargs,
    )


def engine_images(layout: ClassroomLayout, account: Account) -> list[str] | None:
    """Return the image names (repository:tag) in the account's engine; None when it is down."""
    if not engine_answers(account):
        return None
    done = as_account(
        layout,
        account,
        ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
        f"list {account.name}'s images",
    )
    return sorted(line for line in done.stdout.splitlines() if line and "<none>" not in line)


def load_images(layout: ClassroomLayout, account: Account, path: Path) -> list[str]:
    """Load a base-image archive of the class (`path`) into the account's running engine, as
    the account.

    Root opens the archive and gives it to `docker image load` on its standard input. Returns
    the names loaded. Raises ProvisionError when it fails.
    """
    with open(path, "rb") as archive:
        done = as_account(
            layout,
            account,
            ["docker", "image", "load", "-q"],
            f"load the base images into {account.name}'s engine",
            stdin=archive,
        )
    return [
        line.split(": ", 1)[1]
        for line in done.stdout.splitlines()
        if line.startswith("Loaded image")
    ]


def link_buildx(layout: ClassroomLayout, account: Account) -> None:
    """Link the engine's buildx plugin into the account's docker CLI plugin folder."""
    plugins = account.home / ".docker" / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    link = plugins / "docker-buildx"
    link.unlink(missing_ok=True)
    link.symlink_to(layout.engine.buildx_plugin)
    for path in (account.home / ".docker", plugins):
        os.chown(path, account.uid, account.gid)
    os.lchown(link, account.uid, account.gid)
