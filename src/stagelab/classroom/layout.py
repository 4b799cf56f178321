"""Where a classroom lives: install folders, state, accounts, and the record of what `up` made.

Installs (the hub's Python environment, the proxy, RootlessKit) go under CLASSROOM_HOME; the
class's state (its record, credentials, the base-image archive, engine pid files) under
STATE_DIR; logs under LOG_DIR. Each of the three can be moved with an environment variable.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import StagelabError

CLASSROOM_HOME = Path(os.environ.get("STAGELAB_CLASSROOM_HOME", "/opt/stagelab/classroom"))
STATE_DIR = Path(os.environ.get("STAGELAB_CLASSROOM_STATE", "/var/lib/stagelab/classroom"))
LOG_DIR = Path(os.environ.get("STAGELAB_CLASSROOM_LOGS", "/var/log/stagelab/classroom"))
# The checkout's files the hub needs (config, spawner, dashboard) and the course itself.
CHECKOUT = Path(__file__).resolve().parents[3]
ASSETS = CHECKOUT / "classroom"

VENV = CLASSROOM_HOME / "venv"
PROXY_HOME = CLASSROOM_HOME / "proxy"
ROOTLESS_HOME = CLASSROOM_HOME / "rootless"
RECORD = STATE_DIR / "class.json"
SETTINGS = STATE_DIR / "settings.json"
CREDENTIALS_SHEET = STATE_DIR / "credentials.txt"
ENGINE_PIDS = STATE_DIR / "engines"
IMAGES_ARCHIVE = STATE_DIR / "images" / "base-images.tar"

CLASS_GROUP = "stagelab-class"
INSTRUCTOR = "instructor"
LEARNER_PREFIX = "learner"
DEFAULT_PORT = 8000
DEFAULT_IDLE_TIMEOUT_S = 3600


class ClassroomError(StagelabError):
    """A classroom command cannot go on; the message says what to do."""


def learner_names(count: int) -> list[str]:
    """Return the learners' account names for a class of `count`: learner01, learner02, ...

    Raises ClassroomError for a count outside 1..99.
    """
    if not 1 <= count <= 99:
        raise ClassroomError(f"A class has 1 to 99 learners, not {count}: pass --learners N.")
    return [f"{LEARNER_PREFIX}{number:02d}" for number in range(1, count + 1)]


@dataclass(frozen=True)
class Account:
    """A Unix account of the class: name, uid, gid, home, and where its engine answers."""

    name: str
    uid: int
    gid: int
    home: Path

    @classmethod
    def named(cls, name: str) -> Account:
        """Look an account up in the user database; ClassroomError when it does not exist."""
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise ClassroomError(
                f"No account {name!r} on this machine: run `stagelab classroom up` first."
            ) from None
        return cls(name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))

    @property
    def groups(self) -> list[int]:
        """Return the account's group ids (its own and the supplementary ones)."""
        return os.getgrouplist(self.name, self.gid)

    @property
    def runtime_dir(self) -> Path:
        """Return the account's XDG runtime directory, /run/user/UID, as logind makes it."""
        return Path("/run/user") / str(self.uid)

    @property
    def socket(self) -> Path:
        """Return the path of the account's rootless engine socket."""
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
        """Return the account's lab progress record (STAGELAB_HOME is ~/.stagelab)."""
        return self.home / ".stagelab" / "progress.jsonl"

    @property
    def engine_pidfile(self) -> Path:
        """Return the root-owned file holding the pid of the account's engine (RootlessKit)."""
        return ENGINE_PIDS / f"{self.name}.pid"


@dataclass
class ClassRecord:
    """What `up` made, so that `down --purge` removes exactly that and nothing else."""

    learners: list[str] = field(default_factory=list)
    accounts_created: list[str] = field(default_factory=list)
    homes_ready: list[str] = field(default_factory=list)
    group_created: bool = False
    tun_acl_added: bool = False
    tun_had_acl: bool = False
    passwords: dict[str, str] = field(default_factory=dict)
    port: int = DEFAULT_PORT
    ip: str = ""
    idle_timeout_s: int = DEFAULT_IDLE_TIMEOUT_S
    hub_pid: int | None = None
    api_token: str = ""
    images_loaded: list[str] = field(default_factory=list)

    @classmethod
    def load(cls) -> ClassRecord:
        """Read the record (an empty one when no class was brought up)."""
        if not RECORD.exists():
            return cls()
        known = set(cls.__dataclass_fields__)
        return cls(
            **{key: value for key, value in json.loads(RECORD.read_text()).items() if key in known}
        )

    def save(self) -> None:
        """Write the record, readable by root only (it holds passwords and the API token)."""
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        temporary = RECORD.with_suffix(".tmp")
        temporary.touch(mode=0o600)
        os.chmod(temporary, 0o600)
        temporary.write_text(json.dumps(asdict(self), indent=1))
        temporary.replace(RECORD)

    @property
    def hub_url(self) -> str:
        """Return the URL learners open (this host's name when the hub listens everywhere)."""
        host = self.ip if self.ip not in ("", "0.0.0.0") else os.uname().nodename
        return f"http://{host}:{self.port}/"

    @property
    def accounts(self) -> list[str]:
        """Return every account of the class: the learners, then the instructor."""
        return [*self.learners, INSTRUCTOR]


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
