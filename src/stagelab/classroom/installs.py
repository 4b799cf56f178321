"""Install what a classroom needs, once: the hub's Python environment, the proxy, rootless parts.

- JupyterHub, jupyterhub-idle-culler and stagelab itself (from the checkout `up` runs from) go
  into a virtual environment of their own (ClassroomLayout.venv) that every learner can read,
  pinned in the checkout's classroom/requirements.txt.
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
from .layout import ClassroomError, ClassroomLayout

SYSTEM_PACKAGES = ["uidmap", "slirp4netns", "acl"]
# Learners run the hub environment's Python, so it must not live in a home they cannot
# enter (pyenv under /root, say): the system's own Python makes it.
SYSTEM_PYTHON = "/usr/bin/python3"
MIN_NODE_MAJOR = 18


def source_digest(checkout: Path) -> str:
    """Return a digest of what the hub's environment is made from: the checkout's pins and
    stagelab's source (its Python files and its package data, the recordings)."""
    digest = hashlib.sha256()
    package = checkout / "src" / "stagelab"
    files = [
        checkout / "classroom" / "requirements.txt",
        checkout / "pyproject.toml",
        *sorted(package.rglob("*.py")),
        *sorted((package / "recordings").glob("*.json")),
    ]
    for path in files:
        digest.update(str(path.relative_to(checkout)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def ensure_hub_environment(layout: ClassroomLayout, checkout: Path, say=print) -> bool:
    """Make the layout's venv hold the pinned JupyterHub and the checkout's stagelab.

    Reinstalls only when the pins or stagelab's source changed since the last install, and
    returns True when it did (a running hub then needs a restart). Raises ProvisionError when
    pip fails.
    """
    venv = layout.venv
    python = venv / "bin" / "python"
    stamp = venv / ".stagelab-classroom"
    wanted = source_digest(checkout)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return False
    say(f"hub: installing JupyterHub and stagelab into {venv}")
    if not python.exists():
        apt_install(["python3-venv"])
        run_command([SYSTEM_PYTHON, "-m", "venv", str(venv)], "create the hub's Python environment")
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
            str(checkout / "classroom" / "requirements.txt"),
            str(checkout),
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


def ensure_proxy(layout: ClassroomLayout, checkout: Path, say=print) -> Path:
    """Install the checkout's pinned configurable-http-proxy from npm into the layout's proxy
    folder; return its command.

    Raises ClassroomError when Node.js or npm is missing or too old, ProvisionError when npm
    fails.
    """
    home = layout.proxy
    command = home / "node_modules" / ".bin" / "configurable-http-proxy"
    manifest = home / "package.json"
    wanted = (checkout / "classroom" / "package.json").read_text()
    if command.exists() and manifest.exists() and manifest.read_text() == wanted:
        return command
    major = node_major()
    if major is None or major < MIN_NODE_MAJOR or shutil.which("npm") is None:
        raise ClassroomError(
            f"configurable-http-proxy needs Node.js {MIN_NODE_MAJOR} or newer "
            "and npm: `apt-get install nodejs npm` (Debian 12 and 13 have "
            "them), then retry."
        )
    say(f"hub: installing configurable-http-proxy from npm into {home}")
    home.mkdir(parents=True, exist_ok=True)
    manifest.write_text(wanted)
    run_command(
        ["npm", "install", "--omit=dev", "--no-audit", "--no-fund", "--prefix", str(home)],
        "install configurable-http-proxy from npm",
    )
    return command


def ensure_rootless_parts(layout: ClassroomLayout, say=print) -> Path:
    """Install uidmap, slirp4netns and acl with apt, and unpack RootlessKit into the layout's
    rootless folder; return the folder holding `rootlesskit`.

    That folder goes first on the engines' PATH. Raises ProvisionError when apt fails.
    """
    apt_install(SYSTEM_PACKAGES)
    binaries = layout.rootlesskit_bin
    if (binaries / "rootlesskit").exists():
        return binaries
    say(f"engines: unpacking Debian's rootlesskit into {layout.rootless}")
    with tempfile.TemporaryDirectory() as tmp:
        (deb,) = PrivateApt(layout.engine.apt_home).download(["rootlesskit"], Path(tmp) / "debs")
        unpacked = Path(tmp) / "root"
        run_command(["dpkg", "-x", str(deb), str(unpacked)], "unpack rootlesskit")
        shutil.rmtree(layout.rootless, ignore_errors=True)
        shutil.copytree(unpacked, layout.rootless, symlinks=True)
    return binaries
