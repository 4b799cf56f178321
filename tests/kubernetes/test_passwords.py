"""The Kubernetes classroom's logins (issue 24, item 13): generated passwords, no first use.

The rendered values are config.yaml and the passwords.yaml `stagelab classroom passwords`
writes, merged over the chart's values as Helm merges them. The hub's side is config.yaml's
extraConfig, run here as the chart's jupyterhub_config.py runs it (exec, with the chart's
`z2jh.get_config` reading those values): in this process against a stand-in for JupyterHub's
Authenticator with the one method it uses (`normalize_username`, JupyterHub's default: lower
case), and, where this machine has the class's hub environment, in that hub's Python against
JupyterHub's own Authenticator and its allowed-users check.
"""

from __future__ import annotations

import asyncio
import json
import re
import stat
import subprocess
import sys
import types
from pathlib import Path

import jsonschema
import pytest
import yaml
from traitlets.config import Config

sys.path.insert(0, str(Path(__file__).parent))
from chart import chart_files, helm_merge, load_config
from tiers import required

from stagelab import cli
from stagelab.classroom.kubernetes.passwords import (
    password_hash,
    roster,
    write_passwords,
)
from stagelab.classroom.layout import ClassroomLayout

URL = "https://class.example.org"
# JupyterHub as the single-server class installs it (stagelab classroom up), when it is here.
HUB_PYTHON = ClassroomLayout().installs / "venv" / "bin" / "python"


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    """Passwords for 3 learners and the instructor: (rendered values, {name: password})."""
    values_file, sheet = write_passwords(tmp_path_factory.mktemp("class"), 3, URL)
    slips = re.findall(r"name:\s+(\S+)\n\s+password:\s+(\S+)", sheet.read_text())
    defaults, _ = chart_files()
    return helm_merge(defaults, load_config(values_file)), dict(slips)


def _get_config(values: dict):
    def get_config(key, default=None):
        node = values
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    return get_config


def _run_extra_config(values: dict, monkeypatch, version: str = "6.1.1") -> Config:
    """Run the rendered hub.extraConfig as the chart's jupyterhub_config.py does, in a hub whose
    JupyterHub is `version`; return `c`."""
    monkeypatch.setitem(sys.modules, "z2jh", types.SimpleNamespace(get_config=_get_config(values)))
    hub = types.ModuleType("jupyterhub")
    hub.__version__ = version
    monkeypatch.setitem(sys.modules, "jupyterhub", hub)
    monkeypatch.setitem(
        sys.modules, "jupyterhub.auth", types.SimpleNamespace(Authenticator=_StandIn)
    )
    config = Config()
    for _, code in sorted(values["hub"]["extraConfig"].items()):
        exec(code, {"c": config})
    return config


class _StandIn:
    """JupyterHub's Authenticator as far as the config uses it (jupyterhub/auth.py)."""

    def normalize_username(self, username: str) -> str:
        return username.lower()


def test_the_rendered_values_use_no_first_use_authenticator(issued):
    values, _ = issued
    _, schema = chart_files()
    jsonschema.validate(values, schema)
    # The chart's default (dummy: any password) is gone, and no authenticator that lets a
    # name be claimed (first use, sign-up) or any password through is named anywhere.
    assert "authenticator_class" not in values["hub"]["config"]["JupyterHub"]
    rendered = yaml.safe_dump(values).lower()
    for claimable in ("firstuse", "nativeauthenticator", "dummy", "tmpauthenticator"):
        assert claimable not in rendered, claimable
    assert values["hub"]["config"]["Authenticator"]["admin_users"] == []


def test_the_allowed_list_is_the_roster_and_each_name_has_its_own_password(issued, monkeypatch):
    values, passwords = issued
    assert list(passwords) == ["learner01", "learner02", "learner03", "instructor"]
    assert list(passwords) == roster(3)
    assert set(values["custom"]["passwordHashes"]) == set(passwords)
    config = _run_extra_config(values, monkeypatch)
    assert config.Authenticator.allowed_users == set(roster(3))
    authenticator = config.JupyterHub.authenticator_class()

    def login(name, password):
        data = {"username": name, "password": password}
        return asyncio.run(authenticator.authenticate(None, data))

    for name, password in passwords.items():
        assert login(name, password) == name
    # The instructor's name with anything but the instructor's password: refused.
    assert login("instructor", passwords["learner01"]) is None
    assert login("instructor", "") is None
    assert login("learner02", passwords["learner01"]) is None
    # A name outside the roster gets in with no password.
    assert login("learner04", passwords["learner01"]) is None
    assert login("admin", passwords["instructor"]) is None
    assert login("INSTRUCTOR", passwords["instructor"]) == "instructor"
    assert login("learner01", "x" * 100_000) is None


def test_without_passwords_the_hub_refuses_to_start(monkeypatch):
    defaults, _ = chart_files()
    values = helm_merge(defaults, load_config())
    with pytest.raises(SystemExit, match="stagelab classroom passwords"):
        _run_extra_config(values, monkeypatch)


def test_no_password_is_in_the_values_and_both_files_are_the_instructors_alone(tmp_path, capsys):
    assert (
        cli.main(
            ["classroom", "passwords", "--learners", "2", "--url", URL, "--out", str(tmp_path)]
        )
        == 0
    )
    values, sheet = tmp_path / "passwords.yaml", tmp_path / "credentials.txt"
    assert str(values) in capsys.readouterr().out
    for path in (values, sheet):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    slips = dict(re.findall(r"name:\s+(\S+)\n\s+password:\s+(\S+)", sheet.read_text()))
    assert list(slips) == ["learner01", "learner02", "instructor"]
    assert URL in sheet.read_text()
    text = values.read_text()
    assert not [password for password in slips.values() if password in text]
    hashes = yaml.safe_load(text)["custom"]["passwordHashes"]
    assert all(stored.startswith("scrypt$16384$8$1$") for stored in hashes.values())
    # A new salt each time: the same password never gives the same hash.
    assert password_hash("same") != password_hash("same")
    assert password_hash("same", b"s" * 16) == password_hash("same", b"s" * 16)


def test_jupyterhubs_own_authenticator_takes_the_config(issued, tmp_path):
    """The same logins through the real JupyterHub of the class's hub environment."""
    # Looked for when the test runs, not when it is collected: on a bare machine the classroom
    # tier, which runs first, installs it.
    if not HUB_PYTHON.exists():
        missing = f"no JupyterHub at {HUB_PYTHON}: `stagelab classroom up` installs it"
        if required():
            pytest.fail(missing)
        pytest.skip(missing)
    values, passwords = issued
    (tmp_path / "values.json").write_text(json.dumps(values))
    (tmp_path / "z2jh.py").write_text(
        "import json\n"
        f"VALUES = json.load(open({str(tmp_path / 'values.json')!r}))\n"
        "def get_config(key, default=None):\n"
        "    node = VALUES\n"
        "    for part in key.split('.'):\n"
        "        if not isinstance(node, dict) or part not in node:\n"
        "            return default\n"
        "        node = node[part]\n"
        "    return node\n"
    )
    attempts = [[name, password] for name, password in passwords.items()]
    attempts += [["instructor", passwords["learner01"]], ["learner04", passwords["learner01"]]]
    driver = (
        "import asyncio, json, sys\n"
        "from traitlets.config import Config\n"
        "from jupyterhub.auth import Authenticator\n"
        f"values = json.load(open({str(tmp_path / 'values.json')!r}))\n"
        "c = Config()\n"
        "for _, code in sorted(values['hub']['extraConfig'].items()):\n"
        "    exec(code, {'c': c})\n"
        "cls = c.JupyterHub.authenticator_class\n"
        "assert issubclass(cls, Authenticator)\n"
        "auth = cls(config=c)\n"
        "async def main():\n"
        "    results = []\n"
        f"    for name, password in {attempts!r}:\n"
        "        data = {'username': name, 'password': password}\n"
        "        user = await auth.get_authenticated_user(None, data)\n"
        "        results.append(user and user['name'])\n"
        "    print(json.dumps([sorted(auth.allowed_users), results]))\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [str(HUB_PYTHON), "-c", driver],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    allowed, results = json.loads(done.stdout.strip().splitlines()[-1])
    assert allowed == sorted(roster(3))
    assert results == [*passwords, None, None]


@pytest.mark.parametrize(
    "version, starts",
    [
        ("5.5.0", False),
        ("5.5.3", False),
        ("5.5.4", True),
        ("6.0.1", False),
        ("6.1.0", False),
        ("6.1.1", True),
        ("6.2.0", True),
    ],
)
def test_the_hub_starts_only_with_a_jupyterhub_that_has_the_security_fixes(
    issued, monkeypatch, version, starts
):
    values, _ = issued
    if starts:
        _run_extra_config(values, monkeypatch, version)
    else:
        with pytest.raises(SystemExit, match=f"JupyterHub is {version}, without"):
            _run_extra_config(values, monkeypatch, version)
