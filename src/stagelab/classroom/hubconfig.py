"""JupyterHub's configuration for a class: a pure function of the class's settings.

`configure_hub(c, settings)` sets every option on a traitlets Config `c`; jupyterhub_config.py
beside this module is the file the hub loads (`jupyterhub -f`), and it only calls this. The
pattern is the-littlest-jupyterhub's (its configurer applies its settings to `c`), so the whole
configuration is checked by unit tests on a bare Config. Options:
https://jupyterhub.readthedocs.io/en/stable/reference/api/app.html; roles and scopes:
https://jupyterhub.readthedocs.io/en/stable/rbac/scopes.html.
"""

from __future__ import annotations

from traitlets.config import Config

from .settings import SETTINGS_ENV, HubSettings

# The spawner and the dashboard, given by name: the hub imports them from its own environment.
SPAWNER_CLASS = "stagelab.classroom.spawner.RootlessDockerSpawner"
DASHBOARD_MODULE = "stagelab.classroom.dashboard"
DASHBOARD_SERVICE = "dashboard"
CULLER_SERVICE = "idle-culler"
# The service whose token `stagelab classroom status` and `down` use.
CLI_SERVICE = "stagelab-cli"
DEFAULT_URL = "/lab/tree/notebooks/01_start_here.ipynb"

# Learners: only themselves (JupyterHub's default `self`), never another learner's server.
LEARNER_SCOPES = ["self"]
# The instructor: sees every learner, opens any server (access:servers), and the dashboard.
INSTRUCTOR_SCOPES = [
    "self",
    "list:users",
    "read:users",
    "read:servers",
    "access:servers",
    f"access:services!service={DASHBOARD_SERVICE}",
]


def roles(settings: HubSettings) -> list[dict]:
    """Return the hub's roles (JupyterHub's load_roles): the learners', the instructor's and
    each service's, with the fewest scopes each needs."""
    return [
        {"name": "user", "scopes": LEARNER_SCOPES},
        {"name": "instructor", "users": [settings.instructor], "scopes": INSTRUCTOR_SCOPES},
        {
            "name": DASHBOARD_SERVICE,
            "services": [DASHBOARD_SERVICE],
            "scopes": ["list:users", "read:users", "read:users:activity", "read:servers"],
        },
        {
            "name": CULLER_SERVICE,
            "services": [CULLER_SERVICE],
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        },
        {
            "name": CLI_SERVICE,
            "services": [CLI_SERVICE],
            "scopes": [
                "list:users",
                "read:users",
                "read:users:activity",
                "read:servers",
                "delete:servers",
            ],
        },
    ]


def services(settings: HubSettings) -> list[dict]:
    """Return the hub's services: the instructor's dashboard (run by the hub from its own
    environment), the idle culler (jupyterhub-idle-culler's README) and the command line's."""
    python = str(settings.layout.venv / "bin" / "python")
    timeout = settings.idle_timeout_s
    return [
        {
            "name": DASHBOARD_SERVICE,
            "url": f"http://127.0.0.1:{settings.dashboard_port}",
            "command": [python, "-m", DASHBOARD_MODULE],
            # It reads the course's labs (their criteria): no bytecode written into them.
            "environment": {
                SETTINGS_ENV: str(settings.layout.settings),
                "PYTHONDONTWRITEBYTECODE": "1",
            },
            "oauth_no_confirm": True,
            "display": True,
        },
        {
            "name": CULLER_SERVICE,
            "command": [
                python,
                "-m",
                "jupyterhub_idle_culler",
                f"--timeout={timeout}",
                f"--cull-every={max(10, min(300, timeout // 4))}",
            ],
        },
        {"name": CLI_SERVICE, "api_token": settings.api_token},
    ]


def configure_hub(c: Config, settings: HubSettings) -> Config:
    """Set the hub's whole configuration for this class on `c` and return it.

    The public side is configurable-http-proxy (from npm), started and stopped by the hub;
    learners log in with their own account's password (PAM), and only the class may; each
    single-user server runs as its learner beside that learner's rootless engine
    (spawner.RootlessDockerSpawner); the hub's database, cookie secret and proxy pid file are
    the layout's.
    """
    layout = settings.layout
    c.JupyterHub.bind_url = f"http://{settings.ip}:{settings.port}/"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{settings.hub_port}"
    c.ConfigurableHTTPProxy.command = [settings.proxy_command]
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
    c.ConfigurableHTTPProxy.pid_file = str(layout.proxy_pidfile)
    c.JupyterHub.db_url = f"sqlite:///{layout.hub_database}"
    c.JupyterHub.cookie_secret_file = str(layout.cookie_secret)
    # A hub restart (new settings, a new install) leaves learners' servers and engines running;
    # `stagelab classroom down` stops them through the API first.
    c.JupyterHub.cleanup_servers = False

    c.JupyterHub.authenticator_class = "pam"
    c.PAMAuthenticator.open_sessions = False  # no logind here: the spawner makes the runtime dir
    c.Authenticator.allowed_users = {*settings.learners, settings.instructor}
    c.Authenticator.admin_users = set()

    c.JupyterHub.spawner_class = SPAWNER_CLASS
    c.Spawner.cmd = [str(layout.venv / "bin" / "jupyterhub-singleuser")]
    c.Spawner.notebook_dir = "~"
    c.Spawner.default_url = DEFAULT_URL
    c.Spawner.start_timeout = 180
    c.Spawner.http_timeout = 120
    c.RootlessDockerSpawner.engine_path = settings.engine_path
    c.RootlessDockerSpawner.venv = str(layout.venv)
    c.RootlessDockerSpawner.classroom_layout = layout.to_json()

    c.JupyterHub.services = services(settings)
    c.JupyterHub.load_roles = roles(settings)
    return c
