"""One rootless Docker engine per account: what it needs, starting and stopping it as that user.

Each engine is Debian's `dockerd-rootless.sh` (docker.io's contrib/) under RootlessKit, run as
the account's Unix user with XDG_RUNTIME_DIR=/run/user/UID, so its socket is
/run/user/UID/docker.sock (mode 0660 in a 0700 folder) and its data root is in the account's
home. Container root maps to the account's uid and its subordinate ids (/etc/subuid), never to
host root (https://docs.docker.com/engine/security/rootless/). The script's network driver is
slirp4netns, which opens /dev/net/tun as the user: on these machines that device is 0600 root,
so the class group is given read-write on it with an ACL entry (see tun_fix).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from ..provisioning import run_command
from .layout import CLASS_GROUP, Account, ClassroomError, ClassroomLayout

TUN = Path("/dev/net/tun")
ENGINE_START_TIMEOUT_S = 60
ENGINE_STOP_TIMEOUT_S = 20


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


def prepare_runtime_dir(account: Account) -> None:
    """Make the account's runtime folder (/run/user/UID) as logind would: owned by the account,
    mode 0700."""
    folder = account.runtime_dir
    folder.mkdir(parents=True, exist_ok=True)
    os.chown(folder, account.uid, account.gid)
    os.chmod(folder, 0o700)


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


def server_environment(account: Account, venv: Path, engine_path: str) -> dict[str, str]:
    """Return what the spawner adds to a learner's single-user server's environment: their
    engine (DOCKER_HOST), their runtime folder, and the hub environment's tools first on PATH.

    The server's working folder is the learner's home, which holds their copy of the course:
    stagelab finds it there (course.py), so no path to it is passed.
    """
    return {
        "DOCKER_HOST": account.docker_host,
        "XDG_RUNTIME_DIR": str(account.runtime_dir),
        "PATH": f"{venv / 'bin'}:{engine_path}",
    }


def alive(pid: int) -> bool:
    """Tell whether a process runs (a zombie child of ours is reaped and does not count)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child: its parent reaps it
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def engine_pid(account: Account) -> int | None:
    """Return the pid of the account's running engine (RootlessKit), or None.

    The pid file is root's; the pid only counts while that process exists and is the account's.
    """
    try:
        pid = int(account.engine_pidfile.read_text())
        if os.stat(f"/proc/{pid}").st_uid == account.uid and alive(pid):
            return pid
    except (OSError, ValueError):
        pass
    return None


def engine_answers(account: Account, timeout: float = 2.0) -> bool:
    """Tell whether the account's engine answers `GET /_ping` on its socket."""
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(timeout)
            sock.connect(str(account.socket))
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
    pid = engine_pid(account)
    if pid is None:
        prepare_runtime_dir(account)
        account.engine_pidfile.parent.mkdir(parents=True, exist_ok=True)
        account.engine_log.parent.mkdir(parents=True, exist_ok=True)
        with open(account.engine_log, "ab") as log:
            process = subprocess.Popen(
                [str(layout.engine.rootless_script), "--data-root", str(account.data_root)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=engine_environment(layout, account),
                cwd=account.home,
                user=account.uid,
                group=account.gid,
                extra_groups=account.groups,
                start_new_session=True,
            )
        pid = process.pid
        account.engine_pidfile.write_text(str(pid))
    deadline = time.monotonic() + timeout
    while not engine_answers(account):
        if engine_pid(account) is None or time.monotonic() > deadline:
            stop_engine(account)
            tail = "\n".join(account.engine_log.read_text(errors="replace").splitlines()[-12:])
            raise ClassroomError(
                f"The engine of {account.name} did not start. Run `stagelab "
                f"classroom preflight`; its log ({account.engine_log}) ends "
                f"with:\n{tail}"
            )
        time.sleep(0.3)
    return pid


def stop_engine(account: Account, timeout: float = ENGINE_STOP_TIMEOUT_S) -> bool:
    """Stop the account's engine (SIGTERM, then SIGKILL to its process group); True if it ran."""
    pid = engine_pid(account)
    account.engine_pidfile.unlink(missing_ok=True)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
        # The engine was started in a session of its own: its group is RootlessKit,
        # slirp4netns, dockerd and containerd, and nothing else.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    return True


def as_account(
    layout: ClassroomLayout, account: Account, command: list[str], purpose: str, timeout=600
) -> subprocess.CompletedProcess:
    """Run a command as the account, with its engine's environment; ProvisionError on failure
    or after `timeout` seconds."""
    return run_command(
        command,
        purpose,
        env=engine_environment(layout, account),
        cwd=account.home,
        user=account.uid,
        group=account.gid,
        extra_groups=account.groups,
        timeout=timeout,
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


def load_images(layout: ClassroomLayout, account: Account) -> list[str]:
    """Load the layout's base-image archive into the account's running engine, as the account.

    Returns the names loaded. Raises ProvisionError when `docker load` fails.
    """
    archive = layout.images_archive
    done = as_account(
        layout,
        account,
        ["docker", "image", "load", "-q", "-i", str(archive)],
        f"load the base images into {account.name}'s engine",
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
