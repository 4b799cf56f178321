"""Install what a classroom needs, once: the hub's Python environment, the proxy, rootless parts.

- JupyterHub, jupyterhub-idle-culler and stagelab itself go into a virtual environment of their
  own (VENV) that every learner can read, pinned in classroom/requirements.txt.
- configurable-http-proxy comes from the npm registry, pinned in classroom/package.json.
- `uidmap` (setuid newuidmap/newgidmap), `slirp4netns` and `acl` come from the system's own
  release through apt; RootlessKit from Debian's newest suite, unpacked like the engine
  (provisioning.PrivateApt), since dockerd-rootless.sh of that engine expects RootlessKit 2.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..provisioning import PrivateApt, apt_install, run_command
from .layout import ASSETS, CHECKOUT, PROXY_HOME, ROOTLESS_HOME, VENV, ClassroomError

SYSTEM_PACKAGES = ["uidmap", "slirp4netns", "acl"]
# Learners run the hub environment's Python, so it must not live in a home they cannot
# enter (pyenv under /root, say): the system's own Python makes it.
SYSTEM_PYTHON = "/usr/bin/python3"
MIN_NODE_MAJOR = 18


def source_digest() -> str:
    """Return a digest of what the hub's environment is made from (pins and stagelab's source)."""
    digest = hashlib.sha256()
    files = [
        ASSETS / "requirements.txt",
        CHECKOUT / "pyproject.toml",
        *sorted((CHECKOUT / "src" / "stagelab").rglob("*.py")),
    ]
    for path in files:
        digest.update(str(path.relative_to(CHECKOUT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def ensure_hub_environment(say=print) -> bool:
    """Make VENV hold the pinned JupyterHub and this checkout's stagelab.

    Reinstalls only when the pins or stagelab's source changed since the last install, and
    returns True when it did (a running hub then needs a restart). Raises ProvisionError when
    pip fails.
    """
    python = VENV / "bin" / "python"
    stamp = VENV / ".stagelab-classroom"
    wanted = source_digest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return False
    say(f"hub: installing JupyterHub and stagelab into {VENV}")
    if not python.exists():
        apt_install(["python3-venv"])
        run_command([SYSTEM_PYTHON, "-m", "venv", str(VENV)], "create the hub's Python environment")
    # Not editable: learners read the installed copy, never the instructor's checkout.
    run_command(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
            str(ASSETS / "requirements.txt"),
            str(CHECKOUT),
        ],
        "install JupyterHub and stagelab into the hub's environment",
    )
    stamp.write_text(wanted)
    return True


def node_major() -> int | None:
    """Return Node.js's major version, or None when `node` is missing."""
    if shutil.which("node") is None:
        return None
    done = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    try:
        return int(done.stdout.strip().lstrip("v").split(".")[0])
    except ValueError:
        return None


def ensure_proxy(say=print) -> Path:
    """Install the pinned configurable-http-proxy from npm under PROXY_HOME; return its command.

    Raises ClassroomError when Node.js or npm is missing or too old, ProvisionError when npm
    fails.
    """
    command = PROXY_HOME / "node_modules" / ".bin" / "configurable-http-proxy"
    manifest = PROXY_HOME / "package.json"
    wanted = (ASSETS / "package.json").read_text()
    if command.exists() and manifest.exists() and manifest.read_text() == wanted:
        return command
    major = node_major()
    if major is None or major < MIN_NODE_MAJOR or shutil.which("npm") is None:
        raise ClassroomError(
            f"configurable-http-proxy needs Node.js {MIN_NODE_MAJOR} or newer "
            "and npm: `apt-get install nodejs npm` (Debian 12 and 13 have "
            "them), then retry."
        )
    say(f"hub: installing configurable-http-proxy from npm into {PROXY_HOME}")
    PROXY_HOME.mkdir(parents=True, exist_ok=True)
    manifest.write_text(wanted)
    run_command(
        ["npm", "install", "--omit=dev", "--no-audit", "--no-fund", "--prefix", str(PROXY_HOME)],
        "install configurable-http-proxy from npm",
    )
    return command


def ensure_rootless_parts(say=print) -> Path:
    """Install uidmap, slirp4netns and acl with apt, and unpack RootlessKit; return its folder.

    The folder returned holds `rootlesskit` and goes first on the engines' PATH. Raises
    ProvisionError when apt fails.
    """
    apt_install(SYSTEM_PACKAGES)
    binaries = ROOTLESS_HOME / "usr" / "bin"
    if (binaries / "rootlesskit").exists():
        return binaries
    say(f"engines: unpacking Debian's rootlesskit into {ROOTLESS_HOME}")
    with tempfile.TemporaryDirectory() as tmp:
        (deb,) = PrivateApt().download(["rootlesskit"], Path(tmp) / "debs")
        unpacked = Path(tmp) / "root"
        run_command(["dpkg", "-x", str(deb), str(unpacked)], "unpack rootlesskit")
        shutil.rmtree(ROOTLESS_HOME, ignore_errors=True)
        shutil.copytree(unpacked, ROOTLESS_HOME, symlinks=True)
    return binaries
