"""engine.client_options: what a container gets to ask this engine for builds (lesson 06)."""

import pytest

from stagelab import engine
from stagelab.errors import StagelabError


@pytest.fixture
def engine_at(monkeypatch):
    def set_host(host):
        monkeypatch.setenv("DOCKER_HOST", host)
        engine.docker_host.cache_clear()

    yield set_host
    engine.docker_host.cache_clear()


def test_a_local_engine_gives_its_socket_and_the_cli(engine_at, monkeypatch, tmp_path):
    cli = tmp_path / "docker"
    cli.write_text("")
    monkeypatch.setattr(engine.shutil, "which", lambda name: str(cli))
    engine_at("unix:///run/user/1001/docker.sock")
    options = engine.client_options()
    mounts = {mount["Source"]: mount for mount in options["mounts"]}
    socket = mounts["/run/user/1001/docker.sock"]
    assert (socket["Type"], socket["Target"], socket["ReadOnly"]) == (
        "bind",
        engine.SOCKET_INSIDE,
        False,
    )
    client = mounts[str(cli)]
    assert (client["Type"], client["Target"], client["ReadOnly"]) == (
        "bind",
        "/usr/local/bin/docker",
        True,
    )
    assert options["environment"] == [f"DOCKER_HOST=unix://{engine.SOCKET_INSIDE}"]


@pytest.mark.parametrize("host", ["tcp://10.0.0.5:2376", "ssh://builder@example.org"])
def test_an_engine_elsewhere_is_refused_with_a_reason(engine_at, host):
    engine_at(host)
    with pytest.raises(StagelabError, match="Unix socket of this machine"):
        engine.client_options()


def test_no_docker_cli_is_refused_with_a_reason(engine_at, monkeypatch):
    monkeypatch.setattr(engine.shutil, "which", lambda name: None)
    engine_at("unix:///var/run/docker.sock")
    with pytest.raises(StagelabError, match="no docker CLI is on PATH"):
        engine.client_options()
