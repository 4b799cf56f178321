"""The class record: what `up` made and chose, so that `down --purge` removes exactly that.

Kept at ClassroomLayout.record, readable by root only (it holds the passwords and the command
line's API token). Every port of a class is one only root may bind (hardening.py): the public
port (`port`: 443 with TLS, 80 without), the hub's own API on 127.0.0.1:`internal_port`, the
dashboard on 127.0.0.1:`internal_port`+1; the proxy's API is a Unix socket in a folder only
root may enter (ClassroomLayout.proxy_api_socket).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .heatmap import DEFAULT_STUCK_ATTEMPTS, DEFAULT_STUCK_MINUTES
from .layout import INSTRUCTOR
from .processes import ProcessIdentity
from .sizing import Limits

DEFAULT_IDLE_TIMEOUT_S = 3600
HTTP_PORT = 80
HTTPS_PORT = 443
DEFAULT_INTERNAL_PORT = 981
LOOPBACK = "127.0.0.1"
ALL_INTERFACES = ("", "0.0.0.0", "::")
# JupyterHub's name for a service's own domain (jupyterhub/utils.py, subdomain_hook_idna).
DASHBOARD_SUBDOMAIN = "dashboard--service"


@dataclass
class ClassRecord:
    """What `up` made, so that `down --purge` removes exactly that and nothing else; and
    what it chose (ports, address, domain, TLS, limits) for the next `up` and `down`.

    `path` is where it is kept (ClassroomLayout.record); it is not part of the record.
    `host_previous` holds each host setting `up` changed with the value it had before.
    """

    learners: list[str] = field(default_factory=list)
    accounts_created: list[str] = field(default_factory=list)
    homes_ready: list[str] = field(default_factory=list)
    disks_made: list[str] = field(default_factory=list)
    group_created: bool = False
    tun_acl_added: bool = False
    tun_had_acl: bool = False
    passwords: dict[str, str] = field(default_factory=dict)
    port: int = HTTP_PORT
    internal_port: int = DEFAULT_INTERNAL_PORT
    ip: str = LOOPBACK
    domain: str = ""
    tls: bool = False
    idle_timeout_s: int = DEFAULT_IDLE_TIMEOUT_S
    stuck_checks: int = DEFAULT_STUCK_ATTEMPTS
    stuck_minutes: int = DEFAULT_STUCK_MINUTES
    limits: dict = field(default_factory=dict)
    hub_process: str = ""
    hub_helpers: list[str] = field(default_factory=list)
    api_token: str = ""
    images_loaded: list[str] = field(default_factory=list)
    host_previous: dict[str, str] = field(default_factory=dict)
    path: Path | None = field(default=None, repr=False, compare=False)

    @classmethod
    def load(cls, path: Path) -> ClassRecord:
        """Read the record kept at `path` (an empty one when no class was brought up)."""
        if not path.exists():
            return cls(path=path)
        known = {item.name for item in fields(cls)} - {"path"}
        document = json.loads(path.read_text())
        return cls(**{key: value for key, value in document.items() if key in known}, path=path)

    def save(self) -> None:
        """Write the record to its path, readable by root only (it holds passwords and the
        API token). Raises ValueError for a record that was not loaded from a path."""
        if self.path is None:
            raise ValueError("This class record has no path: load it with ClassRecord.load.")
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        document = asdict(self)
        del document["path"]
        temporary = self.path.with_suffix(".tmp")
        temporary.touch(mode=0o600)
        os.chmod(temporary, 0o600)
        temporary.write_text(json.dumps(document, indent=1))
        temporary.replace(self.path)

    @property
    def hub(self) -> ProcessIdentity | None:
        """Return the identity of the hub process `up` started (None: none started)."""
        return ProcessIdentity.from_text(self.hub_process) if self.hub_process else None

    @property
    def helpers(self) -> list[ProcessIdentity]:
        """Return the root processes the hub started (its proxy and services), as last seen."""
        return [
            identity
            for identity in map(ProcessIdentity.from_text, self.hub_helpers)
            if identity is not None
        ]

    @property
    def account_limits(self) -> Limits | None:
        """Return each account's limits, as `up` last set them (None before that)."""
        return Limits.from_json(self.limits) if self.limits else None

    @property
    def scheme(self) -> str:
        """Return "https" for a class with TLS, else "http"."""
        return "https" if self.tls else "http"

    @property
    def host(self) -> str:
        """Return the host name learners open: the class's domain, its address, or this
        server's name when it listens everywhere."""
        if self.domain:
            return self.domain
        return self.ip if self.ip not in ALL_INTERFACES else os.uname().nodename

    def _origin(self, host: str) -> str:
        default = HTTPS_PORT if self.tls else HTTP_PORT
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")

    @property
    def hub_url(self) -> str:
        """Return the URL learners open."""
        return self._origin(self.host) + "/"

    @property
    def dashboard_url(self) -> str:
        """Return the instructor's dashboard's URL (its own origin on a class with a domain)."""
        host = f"{DASHBOARD_SUBDOMAIN}.{self.domain}" if self.domain else self.host
        return self._origin(host) + "/services/dashboard/"

    @property
    def hub_api_url(self) -> str:
        """Return the hub's own REST API, on the loopback address (no proxy, no TLS)."""
        return f"http://{LOOPBACK}:{self.internal_port}/hub/api"

    @property
    def accounts(self) -> list[str]:
        """Return every account of the class: the learners, then the instructor."""
        return [*self.learners, INSTRUCTOR]
