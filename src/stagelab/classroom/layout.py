"""Where a classroom lives: one object, ClassroomLayout, owns every path a class uses.

Installs (the hub's Python environment, the proxy, RootlessKit) go under `installs`; the class's
state (its record, the hub's settings, database and cookie secret, the credentials sheet, the
base-image archive, the engines' pid files, the TLS certificate's copy, the accounts' disks)
under `state`, a folder only root may enter; logs under `logs`, root's too; the proxy's API
socket under `sockets` (root-only). Each account has its home (from the user database, on its
disk), a runtime folder under `runtime_root` holding its engine's socket and its kernels'
sockets, and its engine's data root, pid file and log. Nothing is read at import:
`ClassroomLayout.from_environment()` reads STAGELAB_CLASSROOM_HOME, STAGELAB_CLASSROOM_STATE
and STAGELAB_CLASSROOM_LOGS when called, and the hub gets the same layout from its settings.
"""

from __future__ import annotations

import grp
import os
import pwd
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..course import package_checkout
from ..errors import StagelabError
from ..provisioning import EnginePaths

INSTALLS_ENV = "STAGELAB_CLASSROOM_HOME"
STATE_ENV = "STAGELAB_CLASSROOM_STATE"
LOGS_ENV = "STAGELAB_CLASSROOM_LOGS"

CLASS_GROUP = "stagelab-class"
INSTRUCTOR = "instructor"
LEARNER_PREFIX = "learner"


class ClassroomError(StagelabError):
    """A classroom command cannot go on; the message says what to do."""


def learner_names(count: int) -> list[str]:
    """Return the learners' account names for a class of `count`: learner01, learner02, ...

    Raises ClassroomError for a count outside 1..99.
    """
    if not 1 <= count <= 99:
        raise ClassroomError(f"A class has 1 to 99 learners, not {count}: pass --learners N.")
    return [f"{LEARNER_PREFIX}{number:02d}" for number in range(1, count + 1)]


def source_checkout(purpose: str) -> Path:
    """Return the checkout stagelab runs from (course.package_checkout), which `purpose` needs.

    Raises ClassroomError saying so for an installed copy of stagelab.
    """
    checkout = package_checkout()
    if checkout is None:
        raise ClassroomError(
            f"{purpose} needs a stagelab checkout (git clone, then make setup): this stagelab "
            "is an installed copy."
        )
    return checkout


@dataclass(frozen=True)
class Account:
    """A Unix account of the class: name, uid, gid, home, and the paths of its engine.

    Made by ClassroomLayout.account(), which knows where runtime folders, pid files and logs go.
    """

    name: str
    uid: int
    gid: int
    home: Path
    runtime_dir: Path
    engine_pidfile: Path
    engine_log: Path

    @property
    def groups(self) -> list[int]:
        """Return the account's group ids (its own and the supplementary ones)."""
        return os.getgrouplist(self.name, self.gid)

    @property
    def socket(self) -> Path:
        """Return the path of the account's rootless engine socket (in its runtime folder)."""
        return self.runtime_dir / "docker.sock"

    @property
    def docker_host(self) -> str:
        """Return DOCKER_HOST for the account's rootless engine."""
        return f"unix://{self.socket}"

    @property
    def data_root(self) -> Path:
        """Return the rootless engine's data root (dockerd-rootless.sh's default place)."""
        return self.home / ".local" / "share" / "docker"

    @property
    def progress_file(self) -> Path:
        """Return the account's lab progress record (its stagelab state is ~/.stagelab)."""
        return self.home / ".stagelab" / "progress.jsonl"


@dataclass(frozen=True)
class ClassroomLayout:
    """Every path of a classroom: three folders of its own, the provisioned engine's, and the
    runtime folders' root (where logind would make /run/user/UID)."""

    installs: Path = Path("/opt/stagelab/classroom")
    state: Path = Path("/var/lib/stagelab/classroom")
    logs: Path = Path("/var/log/stagelab/classroom")
    engine: EnginePaths = field(default_factory=EnginePaths)
    runtime_root: Path = Path("/run/user")
    sockets: Path = Path("/run/stagelab-classroom")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ClassroomLayout:
        """Return the layout as the environment (default: os.environ) moves it now."""
        environ = os.environ if environ is None else environ
        default = cls()
        return cls(
            Path(environ.get(INSTALLS_ENV) or default.installs),
            Path(environ.get(STATE_ENV) or default.state),
            Path(environ.get(LOGS_ENV) or default.logs),
            EnginePaths.from_environment(environ),
        )

    @classmethod
    def under(cls, folder: Path) -> ClassroomLayout:
        """Return a layout with every folder under `folder` (for tests and trials)."""
        return cls(
            folder / "installs",
            folder / "state",
            folder / "logs",
            EnginePaths(folder / "engine", folder / "engine.log", folder / "apt"),
            folder / "run",
            folder / "sockets",
        )

    def to_json(self) -> dict[str, str]:
        """Return the layout as JSON-ready strings (the hub's settings carry it)."""
        return {
            "installs": str(self.installs),
            "state": str(self.state),
            "logs": str(self.logs),
            "runtime_root": str(self.runtime_root),
            "sockets": str(self.sockets),
            **{
                f"engine_{item.name}": str(getattr(self.engine, item.name))
                for item in fields(EnginePaths)
            },
        }

    @classmethod
    def from_json(cls, document: Mapping[str, str]) -> ClassroomLayout:
        """Return the layout that to_json() wrote."""
        engine = EnginePaths(
            **{item.name: Path(document[f"engine_{item.name}"]) for item in fields(EnginePaths)}
        )
        return cls(
            Path(document["installs"]),
            Path(document["state"]),
            Path(document["logs"]),
            engine,
            Path(document["runtime_root"]),
            Path(document["sockets"]),
        )

    # ------------------------------------------------------------ installs

    @property
    def venv(self) -> Path:
        """Return the hub's Python environment (JupyterHub, the culler, stagelab)."""
        return self.installs / "venv"

    @property
    def proxy(self) -> Path:
        """Return the folder configurable-http-proxy is installed into from npm."""
        return self.installs / "proxy"

    @property
    def rootless(self) -> Path:
        """Return the folder Debian's rootlesskit package is unpacked into."""
        return self.installs / "rootless"

    @property
    def hub_config_file(self) -> Path:
        """Return the file the hub loads: jupyterhub_config.py of the stagelab installed in the
        venv (never the instructor's checkout).

        Raises ClassroomError when stagelab is not installed there (`up` installs it).
        """
        pattern = "lib/python3*/site-packages/stagelab/classroom/jupyterhub_config.py"
        found = sorted(self.venv.glob(pattern))
        if not found:
            raise ClassroomError(
                f"stagelab is not installed in {self.venv}: run `stagelab classroom up`."
            )
        return found[-1]

    @property
    def rootlesskit_bin(self) -> Path:
        """Return the folder holding the unpacked `rootlesskit` (first on the engines' PATH)."""
        return self.rootless / "usr" / "bin"

    # ------------------------------------------------------------ the class's state and logs

    @property
    def record(self) -> Path:
        """Return the record of what `up` made (ClassRecord)."""
        return self.state / "class.json"

    @property
    def settings(self) -> Path:
        """Return the settings the hub reads (settings.HubSettings)."""
        return self.state / "settings.json"

    @property
    def credentials_sheet(self) -> Path:
        """Return the printable sheet of names and passwords."""
        return self.state / "credentials.txt"

    @property
    def hub_database(self) -> Path:
        """Return JupyterHub's SQLite database."""
        return self.state / "jupyterhub.sqlite"

    @property
    def cookie_secret(self) -> Path:
        """Return the file of JupyterHub's cookie secret."""
        return self.state / "jupyterhub_cookie_secret"

    @property
    def proxy_pidfile(self) -> Path:
        """Return the pid file of the proxy the hub starts."""
        return self.state / "jupyterhub-proxy.pid"

    @property
    def image_library(self) -> Path:
        """Return the folder of the class's base-image archives, one per image, which every
        account may read and none may write (class_images.py): beside the state folder, which
        only root may enter."""
        return self.state.with_name(self.state.name + "-images")

    @property
    def engine_pids(self) -> Path:
        """Return the root-owned folder of the engines' pid files."""
        return self.state / "engines"

    @property
    def hub_pidfile(self) -> Path:
        """Return the file of the hub's identity (processes.ProcessIdentity)."""
        return self.state / "jupyterhub.pid"

    @property
    def tls(self) -> Path:
        """Return the folder of the class's copy of its TLS certificate and key."""
        return self.state / "tls"

    @property
    def tls_cert(self) -> Path:
        """Return the class's copy of its TLS certificate (chain)."""
        return self.tls / "cert.pem"

    @property
    def tls_key(self) -> Path:
        """Return the class's copy of its TLS private key."""
        return self.tls / "key.pem"

    @property
    def disks(self) -> Path:
        """Return the folder of the accounts' disk images and their mount points."""
        return self.state / "disks"

    @property
    def proxy_api_socket(self) -> Path:
        """Return the Unix socket of the proxy's REST API (in a folder only root may enter)."""
        return self.sockets / "proxy-api.sock"

    @property
    def hub_log(self) -> Path:
        """Return the hub's (and its proxy's and services') log."""
        return self.logs / "jupyterhub.log"

    def engine_log(self, name: str) -> Path:
        """Return the file the engine of the account `name` logs to."""
        return self.logs / f"{name}-dockerd.log"

    def made_by_class(self, accounts: list[str]) -> list[Path]:
        """Return every file and folder a class of these accounts makes under the state, logs
        and sockets folders: what `down --purge` removes (installs stay for the next class)."""
        return [
            self.record,
            self.settings,
            self.credentials_sheet,
            self.hub_database,
            self.cookie_secret,
            self.proxy_pidfile,
            self.hub_pidfile,
            self.image_library,
            self.engine_pids,
            self.tls,
            self.disks,
            self.hub_log,
            *(self.engine_log(name) for name in accounts),
            self.sockets,
        ]

    # ------------------------------------------------------------ accounts

    def account_of(self, name: str, uid: int, gid: int, home: Path) -> Account:
        """Return the class account with these ids and home, and its engine's paths here."""
        return Account(
            name,
            uid,
            gid,
            home,
            runtime_dir=self.runtime_root / str(uid),
            engine_pidfile=self.engine_pids / f"{name}.pid",
            engine_log=self.engine_log(name),
        )

    def account(self, name: str) -> Account:
        """Look an account up in the user database; ClassroomError when it does not exist."""
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise ClassroomError(
                f"No account {name!r} on this machine: run `stagelab classroom up` first."
            ) from None
        return self.account_of(name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))


def group_exists(name: str) -> bool:
    """Tell whether a Unix group of this name exists."""
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def account_exists(name: str) -> bool:
    """Tell whether a Unix account of this name exists."""
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
