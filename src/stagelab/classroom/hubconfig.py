"""JupyterHub's configuration for a class: a pure function of the class's settings.

`configure_hub(c, settings)` sets every option on a traitlets Config `c`; jupyterhub_config.py
beside this module is the file the hub loads (`jupyterhub -f`), and it only calls this. The
pattern is the-littlest-jupyterhub's (its configurer applies its settings to `c`), so the whole
configuration is checked by unit tests on a bare Config. Options:
https://jupyterhub.readthedocs.io/en/stable/reference/api/app.html; roles and scopes:
https://jupyterhub.readthedocs.io/en/stable/rbac/scopes.html.

What JupyterHub's Security Overview (docs/source/explanation/websecurity.md) asks of a hub
for untrusted users, and where it is done:
- per-user origins: with a domain, every server has one of its own (`subdomain_host`) and the
  hub's cookies are `__Host-` cookies ("Cookie tossing"); only then may a person's role open
  learners' servers (`access:servers`), since "sharing access to servers ... is not suitable
  for untrusted users without also enabling per-user domains". Without a domain, no role a
  person holds can reach a learner's server: the dashboard reads what it shows of a learner as
  that learner (dashboard.py);
- no user config: `Spawner.disable_user_config` (nothing in a learner's home configures their
  server), a root-owned environment, an absolute command;
- kernels over ipc: `KernelManager.transport=ipc` on the server's command line, which no config
  file can override, puts the kernels' sockets in the learner's 0700 runtime folder
  ("Encrypt internal connections", on the zmq sockets other users could subscribe to);
- TLS at the proxy (`ssl_cert`, `ssl_key`), and then Secure cookies: the hub's
  (`cookie_options`, which its `_xsrf` cookie and the servers' login cookies follow) and
  Jupyter Server's own `_xsrf` (server_config.py).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from traitlets.config import Config

from .settings import SETTINGS_ENV, HubSettings

# The spawner and the dashboard, given by name: the hub imports them from its own environment.
SPAWNER_CLASS = "stagelab.classroom.spawner.RootlessDockerSpawner"
DASHBOARD_MODULE = "stagelab.classroom.dashboard"
DASHBOARD_SERVICE = "dashboard"
CULLER_SERVICE = "idle-culler"
# How long a learner's server (and its engine) may take to start and answer, in seconds. All
# 30 servers of a class on 2 cores came up in 105 s when started at once, but started while 12
# learners ran lab checks, 18 of 30 took longer than JupyterHub's default 120 s and were
# stopped (benchmarks/bench_classroom.py, 2026-12-06): a slow start beats a failed one.
SPAWN_TIMEOUT_S = 300
# The service whose token `stagelab classroom status` and `down` use.
CLI_SERVICE = "stagelab-cli"
DEFAULT_URL = "/lab/tree/notebooks/01_start_here.ipynb"

# Learners: only themselves (JupyterHub's default `self`), never another learner's server.
LEARNER_SCOPES = ["self"]
# The instructor: sees every learner and the dashboard; opens learners' servers only when each
# has an origin of its own (instructor_scopes).
INSTRUCTOR_SCOPES = [
    "self",
    "list:users",
    "read:users",
    "read:servers",
    f"access:services!service={DASHBOARD_SERVICE}",
]
SERVER_ACCESS = "access:servers"
# The single-user server's command-line options: they win over any config file.
SERVER_ARGS = ["--KernelManager.transport=ipc"]
# Over TLS, the servers' extra config file (Secure cookies): installed beside this module.
SERVER_CONFIG = Path(__file__).with_name("server_config.py")


def server_args(settings: HubSettings) -> list[str]:
    """Return the single-user server's options: SERVER_ARGS, and over TLS `--config` the
    file that makes Jupyter Server's own cookie Secure (server_config.py)."""
    return SERVER_ARGS + ([f"--config={SERVER_CONFIG}"] if settings.tls else [])


def instructor_scopes(settings: HubSettings) -> list[str]:
    """Return the instructor's scopes: INSTRUCTOR_SCOPES, plus access to learners' servers
    when the class runs on per-user origins (a domain), never on one origin."""
    return INSTRUCTOR_SCOPES + ([SERVER_ACCESS] if settings.per_user_origins else [])


def roles(settings: HubSettings) -> list[dict]:
    """Return the hub's roles (JupyterHub's load_roles): the learners', the instructor's and
    each service's, with the fewest scopes each needs (no service can reach a server)."""
    return [
        {"name": "user", "scopes": LEARNER_SCOPES},
        {
            "name": "instructor",
            "users": [settings.instructor],
            "scopes": instructor_scopes(settings),
        },
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

    The public side is configurable-http-proxy (from npm), started and stopped by the hub,
    serving TLS when the class has a certificate; learners log in with their own account's
    password (PAM), and only the class may; each single-user server runs as its learner beside
    that learner's rootless engine (spawner.RootlessDockerSpawner); the hub's database, cookie
    secret and proxy pid file are the layout's. The module's docstring lists what JupyterHub's
    Security Overview asks, and where each is done.
    """
    layout = settings.layout
    scheme = "https" if settings.tls else "http"
    c.JupyterHub.bind_url = f"{scheme}://{settings.ip}:{settings.port}/"
    if settings.tls:
        c.JupyterHub.ssl_cert = str(layout.tls_cert)
        c.JupyterHub.ssl_key = str(layout.tls_key)
        # Every cookie the hub sets (its _xsrf too) only over TLS; the servers get these
        # options too (JUPYTERHUB_COOKIE_OPTIONS, for their login cookie).
        c.JupyterHub.tornado_settings = {"cookie_options": {"secure": True}}
    if settings.per_user_origins:
        c.JupyterHub.subdomain_host = settings.domain_origin
        c.JupyterHub.cookie_host_prefix_enabled = True
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{settings.hub_port}"
    c.ConfigurableHTTPProxy.command = [settings.proxy_command]
    socket = quote(str(layout.proxy_api_socket), safe="")
    c.ConfigurableHTTPProxy.api_url = f"http+unix://{socket}"
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
    c.Spawner.args = server_args(settings)
    c.Spawner.disable_user_config = True
    c.Spawner.notebook_dir = "~"
    c.Spawner.default_url = DEFAULT_URL
    c.Spawner.start_timeout = SPAWN_TIMEOUT_S
    c.Spawner.http_timeout = SPAWN_TIMEOUT_S
    c.RootlessDockerSpawner.engine_path = settings.engine_path
    c.RootlessDockerSpawner.venv = str(layout.venv)
    c.RootlessDockerSpawner.classroom_layout = layout.to_json()

    c.JupyterHub.services = services(settings)
    c.JupyterHub.load_roles = roles(settings)
    return c
