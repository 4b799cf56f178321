"""The hub's configuration, applied to a bare traitlets Config (no hub, no root): who may log in
and with which scopes (which depend on per-user origins), the spawner and what a learner cannot
override, the services and the culler, ports, sockets, TLS and URLs, and the files the hub
keeps, which must be the ones `down --purge` removes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest
from traitlets.config import Config, PyFileConfigLoader

from stagelab.classroom.hubconfig import configure_hub, instructor_scopes
from stagelab.classroom.layout import ClassroomError, ClassroomLayout
from stagelab.classroom.settings import SETTINGS_ENV, HubSettings

LEARNERS = ["learner01", "learner02"]


@pytest.fixture
def settings(tmp_path) -> HubSettings:
    return HubSettings(
        learners=LEARNERS,
        instructor="instructor",
        ip="127.0.0.1",
        port=830,
        internal_port=831,
        domain="",
        tls=False,
        idle_timeout_s=3600,
        api_token="a" * 64,
        proxy_command="/opt/proxy/configurable-http-proxy",
        engine_path="/rootless/usr/bin:/engine/bin:/usr/bin:/bin",
        course=tmp_path / "course",
        layout=ClassroomLayout.under(tmp_path),
    )


@pytest.fixture
def c(settings) -> Config:
    return configure_hub(Config(), settings)


def _role(c: Config, name: str) -> dict:
    (role,) = [role for role in c.JupyterHub.load_roles if role["name"] == name]
    return role


def _service(c: Config, name: str) -> dict:
    (service,) = [service for service in c.JupyterHub.services if service["name"] == name]
    return service


def test_ports_and_urls(c, settings):
    assert c.JupyterHub.bind_url == "http://127.0.0.1:830/"
    assert c.JupyterHub.hub_bind_url == "http://127.0.0.1:831"
    assert c.ConfigurableHTTPProxy.command == ["/opt/proxy/configurable-http-proxy"]
    assert _service(c, "dashboard")["url"] == "http://127.0.0.1:832"
    # The proxy's API is a Unix socket in a folder only root may enter, never a TCP port.
    socket = settings.layout.proxy_api_socket
    assert c.ConfigurableHTTPProxy.api_url == "http+unix://" + quote(str(socket), safe="")
    assert socket.parent == settings.layout.sockets
    assert socket.parent in settings.layout.made_by_class(LEARNERS)


def test_listening_everywhere_keeps_the_hub_and_its_api_on_loopback(settings):
    c = configure_hub(Config(), replace(settings, ip=""))
    assert c.JupyterHub.bind_url == "http://:830/"
    assert c.JupyterHub.hub_bind_url.startswith("http://127.0.0.1:")
    assert c.ConfigurableHTTPProxy.api_url.startswith("http+unix://")


def test_tls_is_served_by_the_proxy_from_the_class_copy(settings):
    c = configure_hub(Config(), replace(settings, tls=True, port=443))
    assert c.JupyterHub.bind_url == "https://127.0.0.1:443/"
    assert c.JupyterHub.ssl_cert == str(settings.layout.tls_cert)
    assert c.JupyterHub.ssl_key == str(settings.layout.tls_key)
    assert settings.layout.tls in settings.layout.made_by_class(LEARNERS)
    assert "ssl_cert" not in configure_hub(Config(), settings).JupyterHub


def test_over_tls_every_cookie_is_secure_the_servers_own_too(settings, monkeypatch):
    c = configure_hub(Config(), replace(settings, tls=True, port=443))
    assert c.JupyterHub.tornado_settings == {"cookie_options": {"secure": True}}
    (option,) = [arg for arg in c.Spawner.args if arg.startswith("--config=")]
    # The file the server loads, as Jupyter Server loads it (traitlets' PyFileConfigLoader).
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/learner01/")
    path = Path(option.removeprefix("--config="))
    server = PyFileConfigLoader(path.name, str(path.parent)).load_config()
    assert server.ServerApp.tornado_settings == {
        "xsrf_cookie_kwargs": {"secure": True, "path": "/user/learner01/"}
    }
    plain = configure_hub(Config(), settings)
    assert "tornado_settings" not in plain.JupyterHub
    assert not any(arg.startswith("--config=") for arg in plain.Spawner.args)


def test_a_domain_gives_every_server_its_own_origin_and_host_cookies(settings):
    single = configure_hub(Config(), settings)
    assert "subdomain_host" not in single.JupyterHub
    assert "cookie_host_prefix_enabled" not in single.JupyterHub
    on_domain = replace(settings, domain="class.example.org", tls=True, port=443)
    c = configure_hub(Config(), on_domain)
    assert c.JupyterHub.subdomain_host == "https://class.example.org"
    assert c.JupyterHub.cookie_host_prefix_enabled is True
    odd_port = configure_hub(Config(), replace(on_domain, port=830))
    assert odd_port.JupyterHub.subdomain_host == "https://class.example.org:830"


def test_a_learner_cannot_configure_their_server_or_move_their_kernels_to_tcp(c):
    assert c.Spawner.disable_user_config is True
    # Command-line options win over every config file (traitlets' order of precedence).
    assert "--KernelManager.transport=ipc" in c.Spawner.args


def test_the_hub_keeps_its_files_in_the_layout_and_purge_removes_them(c, settings):
    layout = settings.layout
    assert c.JupyterHub.db_url == f"sqlite:///{layout.hub_database}"
    assert c.JupyterHub.cookie_secret_file == str(layout.cookie_secret)
    assert c.ConfigurableHTTPProxy.pid_file == str(layout.proxy_pidfile)
    made = layout.made_by_class(["learner01", "instructor"])
    for path in (layout.hub_database, layout.cookie_secret, layout.proxy_pidfile):
        assert path in made and path.is_relative_to(layout.state)
    # A restart of the hub leaves servers (and engines) running: `down` stops them.
    assert c.JupyterHub.cleanup_servers is False


def test_only_the_class_logs_in_each_with_their_own_password(c):
    assert c.JupyterHub.authenticator_class == "pam"
    assert c.Authenticator.allowed_users == {"learner01", "learner02", "instructor"}
    assert c.Authenticator.admin_users == set()
    assert c.PAMAuthenticator.open_sessions is False


def test_learners_get_only_their_own_server(c):
    assert _role(c, "user") == {"name": "user", "scopes": ["self"]}
    for role in c.JupyterHub.load_roles:
        if "access:servers" in role["scopes"]:
            assert set(role.get("users", [])) <= {"instructor"}, role
            assert not set(role.get("users", [])) & set(LEARNERS)


def test_on_one_origin_no_role_reaches_a_learners_server(c):
    """JupyterHub's Security Overview: access to others' servers is not for untrusted users
    without per-user domains. So neither a person's role nor a service's has it."""
    for role in c.JupyterHub.load_roles:
        assert not any(scope.startswith("access:servers") for scope in role["scopes"]), role
        assert not any(scope.startswith(("admin", "servers")) for scope in role["scopes"]), role
    instructor = _role(c, "instructor")
    assert instructor["users"] == ["instructor"]
    assert {"access:services!service=dashboard", "list:users", "read:users"} <= set(
        instructor["scopes"]
    )


def test_on_per_user_origins_the_instructor_opens_learners_servers(settings):
    on_domain = replace(settings, domain="class.example.org", tls=True)
    c = configure_hub(Config(), on_domain)
    instructor = _role(c, "instructor")
    assert "access:servers" in instructor["scopes"]
    assert instructor["scopes"] == instructor_scopes(on_domain)
    assert not {"admin:users", "admin:servers", "delete:servers"} & set(instructor["scopes"])
    for role in c.JupyterHub.load_roles:  # services never
        if role.get("services"):
            assert "access:servers" not in role["scopes"], role


def test_each_service_has_only_the_scopes_it_uses(c):
    assert _role(c, "dashboard")["services"] == ["dashboard"]
    assert set(_role(c, "dashboard")["scopes"]) == {
        "list:users",
        "read:users",
        "read:users:activity",
        "read:servers",
    }
    assert set(_role(c, "idle-culler")["scopes"]) == {
        "list:users",
        "read:users:activity",
        "read:servers",
        "delete:servers",
    }
    assert "delete:servers" in _role(c, "stagelab-cli")["scopes"]
    assert not any(
        scope.startswith("admin") for role in c.JupyterHub.load_roles for scope in role["scopes"]
    )


def test_the_spawner_runs_the_learners_server_beside_their_engine(c, settings):
    venv = settings.layout.venv
    assert c.JupyterHub.spawner_class == "stagelab.classroom.spawner.RootlessDockerSpawner"
    assert c.Spawner.cmd == [str(venv / "bin" / "jupyterhub-singleuser")]
    assert c.Spawner.notebook_dir == "~"
    assert c.Spawner.default_url == "/lab/tree/notebooks/01_start_here.ipynb"
    assert c.RootlessDockerSpawner.engine_path == settings.engine_path
    assert c.RootlessDockerSpawner.venv == str(venv)
    assert ClassroomLayout.from_json(c.RootlessDockerSpawner.classroom_layout) == settings.layout


def test_the_dashboard_runs_from_the_package_with_the_class_settings(c, settings):
    dashboard = _service(c, "dashboard")
    python = str(settings.layout.venv / "bin" / "python")
    assert dashboard["command"] == [python, "-m", "stagelab.classroom.dashboard"]
    assert dashboard["environment"] == {
        SETTINGS_ENV: str(settings.layout.settings),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    assert dashboard["oauth_no_confirm"] is True


@pytest.mark.parametrize("timeout, every", [(3600, 300), (30, 10), (600, 150)])
def test_the_culler_stops_idle_servers_after_the_class_time_out(settings, timeout, every):
    c = configure_hub(Config(), replace(settings, idle_timeout_s=timeout))
    command = _service(c, "idle-culler")["command"]
    assert command[:3] == [
        str(settings.layout.venv / "bin" / "python"),
        "-m",
        "jupyterhub_idle_culler",
    ]
    assert f"--timeout={timeout}" in command and f"--cull-every={every}" in command


def test_the_command_line_service_has_the_class_token(c, settings):
    assert _service(c, "stagelab-cli") == {"name": "stagelab-cli", "api_token": settings.api_token}


def test_settings_round_trip_through_their_file(settings):
    assert settings.write() is True
    assert settings.layout.settings.stat().st_mode & 0o777 == 0o600
    assert settings.write() is False  # the same settings: the hub needs no restart
    read = HubSettings.read({SETTINGS_ENV: str(settings.layout.settings)})
    assert read == settings
    changed = replace(settings, learners=[*LEARNERS, "learner03"])
    assert changed.write() is True


def test_the_config_file_the_hub_loads_applies_the_settings(settings, monkeypatch):
    settings.write()
    monkeypatch.setenv(SETTINGS_ENV, str(settings.layout.settings))
    config_file = (
        Path(__file__).resolve().parents[2] / "src/stagelab/classroom/jupyterhub_config.py"
    )
    loaded = Config()
    namespace = {"get_config": lambda: loaded}
    exec(compile(config_file.read_text(), str(config_file), "exec"), namespace)
    assert loaded == configure_hub(Config(), settings)
    assert "sys.path" not in config_file.read_text()


def test_missing_settings_say_what_to_do():
    with pytest.raises(ClassroomError, match="stagelab classroom up"):
        HubSettings.read({})
    with pytest.raises(ClassroomError, match="stagelab classroom up"):
        HubSettings.read({SETTINGS_ENV: "/nonexistent/settings.json"})


def test_a_server_has_minutes_to_start_on_a_busy_server(c):
    """JupyterHub stops a server that does not answer within Spawner.http_timeout (120 s by
    default); a class of 30 on 2 cores needed longer while learners ran checks."""
    assert c.Spawner.start_timeout >= 300
    assert c.Spawner.http_timeout >= 300
