# JupyterHub's configuration for `stagelab classroom up`, read by the hub it starts.
# Everything that varies between classes comes from the settings file `up` writes
# (STAGELAB_CLASSROOM_SETTINGS); see src/stagelab/classroom/hub.py.
# Options: https://jupyterhub.readthedocs.io/en/stable/reference/api/app.html
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spawner import RootlessDockerSpawner

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)
with open(os.environ["STAGELAB_CLASSROOM_SETTINGS"]) as settings_file:
    settings = json.load(settings_file)
state, venv = settings["state_dir"], settings["venv"]
learners, instructor = settings["learners"], settings["instructor"]

# The public side: configurable-http-proxy from npm, started and stopped by the hub.
c.JupyterHub.bind_url = f"http://{settings['ip']}:{settings['port']}/"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{settings['hub_port']}"
c.ConfigurableHTTPProxy.command = [settings["proxy_command"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.ConfigurableHTTPProxy.pid_file = os.path.join(state, "jupyterhub-proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{os.path.join(state, 'jupyterhub.sqlite')}"
c.JupyterHub.cookie_secret_file = os.path.join(state, "jupyterhub_cookie_secret")
# A hub restart (new settings, a new install) leaves learners' servers and engines running;
# `stagelab classroom down` stops them through the API first.
c.JupyterHub.cleanup_servers = False

# Each learner logs in with their own account's password (PAM); only the class may log in.
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False  # no logind here: the spawner makes /run/user/UID
c.Authenticator.allowed_users = set(learners) | {instructor}
c.Authenticator.admin_users = set()

# Each single-user server runs as its learner, with that learner's rootless engine.
c.JupyterHub.spawner_class = RootlessDockerSpawner
c.Spawner.cmd = [os.path.join(venv, "bin", "jupyterhub-singleuser")]
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/lab/tree/notebooks/01_start_here.ipynb"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120
c.RootlessDockerSpawner.engine_path = settings["engine_path"]
c.RootlessDockerSpawner.venv = venv

# Services: the instructor's dashboard and the idle culler (jupyterhub-idle-culler's README).
c.JupyterHub.services = [
    {
        "name": "dashboard",
        "url": f"http://127.0.0.1:{settings['dashboard_port']}",
        "command": [
            os.path.join(venv, "bin", "python"),
            os.path.join(settings["assets"], "dashboard.py"),
        ],
        # It reads the checkout's labs (their criteria): no bytecode written into them.
        "environment": {
            "STAGELAB_CLASSROOM_SETTINGS": os.environ["STAGELAB_CLASSROOM_SETTINGS"],
            "STAGELAB_LABS": settings["labs"],
            "PYTHONDONTWRITEBYTECODE": "1",
            **settings["classroom_env"],
        },
        "oauth_no_confirm": True,
        "display": True,
    },
    {
        "name": "idle-culler",
        "command": [
            os.path.join(venv, "bin", "python"),
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={settings['idle_timeout_s']}",
            f"--cull-every={max(10, min(300, settings['idle_timeout_s'] // 4))}",
        ],
    },
    {"name": "stagelab-cli", "api_token": settings["api_token"]},
]
c.JupyterHub.load_roles = [
    # Learners: only themselves (the default), never another learner's server.
    {"name": "user", "scopes": ["self"]},
    # The instructor: sees every learner, opens any server (access:servers), the dashboard.
    {
        "name": "instructor",
        "users": [instructor],
        "scopes": [
            "self",
            "list:users",
            "read:users",
            "read:servers",
            "access:servers",
            "access:services!service=dashboard",
        ],
    },
    {
        "name": "dashboard",
        "services": ["dashboard"],
        "scopes": ["list:users", "read:users", "read:users:activity", "read:servers"],
    },
    {
        "name": "idle-culler",
        "services": ["idle-culler"],
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    },
    {
        "name": "stagelab-cli",
        "services": ["stagelab-cli"],
        "scopes": [
            "list:users",
            "read:users",
            "read:users:activity",
            "read:servers",
            "delete:servers",
        ],
    },
]
