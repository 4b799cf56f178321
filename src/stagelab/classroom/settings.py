"""The hub's settings: what `stagelab classroom up` tells the hub it starts about its class.

`up` writes them (mode 0600: they hold the API token of `stagelab classroom`'s own service)
to ClassroomLayout.settings; the hub's configuration (hubconfig.py, loaded through
jupyterhub_config.py), its spawner and the dashboard read them back. They carry the layout and
the course folder, so the hub's side computes no path of its own.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .heatmap import DEFAULT_STUCK_ATTEMPTS, DEFAULT_STUCK_MINUTES
from .layout import ClassroomError, ClassroomLayout

# Set by `up` in the hub's environment and in the dashboard service's: where the settings are.
SETTINGS_ENV = "STAGELAB_CLASSROOM_SETTINGS"


@dataclass(frozen=True)
class HubSettings:
    """A class's hub: who may log in, where it listens, its domain ("" for none) and whether it
    serves TLS, its idle time-out (seconds), the token of the command line's service, the
    proxy's command, the engines' PATH, the course folder served (its labs are the
    dashboard's columns), the classroom's layout, and when the dashboard flags a learner
    stuck on a criterion (that many failing checks in a row, or failing that many minutes).

    Ports, all of them below 1024 so that only root may bind them (class_record.py): the proxy
    (public) on `ip`:`port`; the hub on 127.0.0.1:`internal_port`, the dashboard on
    127.0.0.1:`internal_port`+1; the proxy's API on a Unix socket in the layout's root-only
    sockets folder.
    """

    learners: list[str]
    instructor: str
    ip: str
    port: int
    internal_port: int
    domain: str
    tls: bool
    idle_timeout_s: int
    api_token: str
    proxy_command: str
    engine_path: str
    course: Path
    layout: ClassroomLayout
    stuck_checks: int = DEFAULT_STUCK_ATTEMPTS
    stuck_minutes: int = DEFAULT_STUCK_MINUTES

    @property
    def hub_port(self) -> int:
        """Return the hub's own port (its API and pages, behind the proxy), on 127.0.0.1."""
        return self.internal_port

    @property
    def dashboard_port(self) -> int:
        """Return the port the dashboard service listens on, on 127.0.0.1."""
        return self.internal_port + 1

    @property
    def per_user_origins(self) -> bool:
        """Tell whether each learner's server has an origin of its own (a domain is set)."""
        return bool(self.domain)

    @property
    def domain_origin(self) -> str:
        """Return the class's origin on its domain (https://DOMAIN[:PORT]); "" without one."""
        if not self.domain:
            return ""
        return f"https://{self.domain}" + ("" if self.port == 443 else f":{self.port}")

    def to_json(self) -> str:
        """Return the settings as the JSON text kept in the settings file."""
        document = {name: getattr(self, name) for name in self.__dataclass_fields__}
        document.update(course=str(self.course), layout=self.layout.to_json())
        return json.dumps(document, indent=1)

    @classmethod
    def from_json(cls, text: str) -> HubSettings:
        """Return the settings to_json() wrote."""
        document = json.loads(text)
        document.update(
            course=Path(document["course"]), layout=ClassroomLayout.from_json(document["layout"])
        )
        return cls(**document)

    def write(self) -> bool:
        """Write the settings to the layout's settings file (mode 0600).

        Returns True when they differ from those written before (a running hub must restart).
        """
        path, text = self.layout.settings, self.to_json()
        if path.exists() and path.read_text() == text:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        os.chmod(path, 0o600)
        path.write_text(text)
        return True

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> HubSettings:
        """Read the settings file that $STAGELAB_CLASSROOM_SETTINGS names (in the hub and its
        dashboard, which `up` starts with it set).

        Raises ClassroomError when it is not set or the file cannot be read.
        """
        environ = os.environ if environ is None else environ
        if not environ.get(SETTINGS_ENV):
            raise ClassroomError(
                f"{SETTINGS_ENV} is not set: the hub's side runs under `stagelab classroom up`."
            )
        try:
            return cls.from_json(Path(environ[SETTINGS_ENV]).read_text())
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ClassroomError(
                f"Cannot read the hub's settings {environ[SETTINGS_ENV]} ({error}): "
                "run `stagelab classroom up` again."
            ) from None
