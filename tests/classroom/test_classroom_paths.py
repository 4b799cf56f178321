"""The classroom's paths and files, in temporary folders (no root, no accounts): where each
account's engine and state go, the record of what `up` made, what `down --purge` removes,
what a home gets, and what `reset` runs. useradd, chown to other users and the engines
themselves are the real class's tests (test_classroom.py)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from stagelab import class_images
from stagelab.classroom import accounts, as_learner, hub, lifecycle, rootless, teardown
from stagelab.classroom import layout as layout_module
from stagelab.classroom.class_record import ClassRecord
from stagelab.classroom.layout import ClassroomError, ClassroomLayout
from stagelab.classroom.learner_runs import as_learner_command, learner_environment
from stagelab.classroom.lifecycle import UpOptions
from stagelab.provisioning import EnginePaths

ROOT = Path(__file__).resolve().parents[2]


def test_the_layout_is_read_from_the_environment_when_asked():
    assert ClassroomLayout.from_environment({}) == ClassroomLayout()
    assert ClassroomLayout().state == Path("/var/lib/stagelab/classroom")
    moved = ClassroomLayout.from_environment(
        {
            "STAGELAB_CLASSROOM_HOME": "/i",
            "STAGELAB_CLASSROOM_STATE": "/s",
            "STAGELAB_CLASSROOM_LOGS": "/l",
            "STAGELAB_ENGINE_HOME": "/e",
        }
    )
    assert (moved.installs, moved.state, moved.logs) == (Path("/i"), Path("/s"), Path("/l"))
    assert moved.venv == Path("/i/venv") and moved.record == Path("/s/class.json")
    assert moved.engine.rootless_script.is_relative_to("/e")


def test_engine_paths_are_read_from_the_environment_when_asked(monkeypatch):
    monkeypatch.setenv("STAGELAB_APT_HOME", "/elsewhere/apt")
    assert EnginePaths.from_environment().apt_home == Path("/elsewhere/apt")
    monkeypatch.delenv("STAGELAB_APT_HOME")
    assert EnginePaths.from_environment().apt_home == Path("/var/lib/stagelab/apt")


def test_the_layout_survives_the_hubs_settings(tmp_path):
    layout = ClassroomLayout.under(tmp_path)
    assert ClassroomLayout.from_json(json.loads(json.dumps(layout.to_json()))) == layout


def test_an_accounts_engine_paths_are_its_own(tmp_path):
    layout = ClassroomLayout.under(tmp_path)
    a = layout.account_of("learner01", 1001, 1001, tmp_path / "home" / "learner01")
    b = layout.account_of("learner02", 1002, 1002, tmp_path / "home" / "learner02")
    assert a.runtime_dir == tmp_path / "run" / "1001"
    assert a.docker_host == f"unix://{tmp_path}/run/1001/docker.sock"
    assert a.data_root == tmp_path / "home" / "learner01" / ".local" / "share" / "docker"
    assert a.progress_file == tmp_path / "home" / "learner01" / ".stagelab" / "progress.jsonl"
    assert a.engine_pidfile.parent == layout.engine_pids
    assert a.engine_log.parent == layout.logs
    for one, other in [(a.socket, b.socket), (a.engine_pidfile, b.engine_pidfile)]:
        assert one != other
    assert a.engine_log != b.engine_log


def test_engines_and_servers_get_the_accounts_paths_and_the_installs(tmp_path):
    layout = ClassroomLayout.under(tmp_path)
    account = layout.account_of("learner01", 1001, 1001, tmp_path / "home")
    engine = rootless.engine_environment(layout, account)
    assert engine["HOME"] == str(account.home)
    assert engine["XDG_RUNTIME_DIR"] == str(account.runtime_dir)
    assert engine["DOCKER_HOST"] == account.docker_host
    path = engine["PATH"].split(":")
    assert path[:2] == [str(layout.rootlesskit_bin), str(layout.engine.bin)]
    server = rootless.server_environment(account, layout.venv, engine["PATH"], layout.image_library)
    assert server["DOCKER_HOST"] == account.docker_host
    assert server["PATH"].split(":")[0] == str(layout.venv / "bin")
    # The kernels' ipc sockets go in the account's own runtime folder (a 0700 tmpfs).
    assert server["JUPYTER_RUNTIME_DIR"] == str(account.runtime_dir / "jupyter")
    assert server["SHELL"] == "/bin/bash"  # the account's login shell is nologin
    # The course is found in the learner's home: no variable points at it; one names the
    # class's base images, beside the root-only state folder.
    assert {name for name in server if name.startswith("STAGELAB_")} == {class_images.ENV}
    assert server[class_images.ENV] == str(tmp_path / "state-images")


def test_the_record_round_trips_privately_and_ignores_unknown_keys(tmp_path):
    layout = ClassroomLayout.under(tmp_path)
    empty = ClassRecord.load(layout.record)
    assert empty.learners == [] and not layout.record.exists()
    empty.learners = ["learner01"]
    empty.passwords["learner01"] = "k7mq-2xpt-9hfr"
    empty.save()
    assert layout.record.stat().st_mode & 0o777 == 0o600
    document = json.loads(layout.record.read_text())
    assert "path" not in document
    document["from_a_newer_stagelab"] = True
    layout.record.write_text(json.dumps(document))
    again = ClassRecord.load(layout.record)
    assert again == empty and again.accounts == ["learner01", "instructor"]


def test_purge_removes_what_the_class_made_and_nothing_else(tmp_path):
    layout = ClassroomLayout.under(tmp_path)
    names = ["learner01", "instructor"]
    made = layout.made_by_class(names)
    for path in made:
        if path in (layout.image_library, layout.engine_pids):
            (path / "inside").mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("made by the class")
    mine = layout.state / "notes.txt"
    mine.write_text("the instructor's own")
    layout.venv.mkdir(parents=True)
    assert teardown.remove_class_files(layout, names) == []
    assert not any(path.exists() for path in made) and not layout.logs.exists()
    assert mine.read_text() == "the instructor's own" and layout.state.is_dir()
    assert layout.venv.is_dir()  # installs stay for the next class
    mine.unlink()
    teardown.remove_class_files(layout, names)
    assert not layout.state.exists()


def test_a_purge_that_left_something_keeps_the_record(tmp_path):
    layout = ClassroomLayout.under(tmp_path)
    record = ClassRecord.load(layout.record)
    record.save()
    teardown.remove_class_files(layout, ["learner01"], keep_record=True)
    assert layout.record.exists()  # for the next `down --purge`


def test_purge_lists_every_file_the_class_keeps_in_its_state(tmp_path):
    layout = ClassroomLayout.under(tmp_path)
    made = set(layout.made_by_class(["learner01", "instructor"]))
    for path in (
        layout.record,
        layout.settings,
        layout.credentials_sheet,
        layout.hub_database,
        layout.cookie_secret,
        layout.proxy_pidfile,
        layout.hub_pidfile,
        layout.hub_log,
        layout.image_library,
        layout.engine_pids,
        layout.tls,
        layout.disks,
        layout.sockets,
        layout.engine_log("learner01"),
        layout.engine_log("instructor"),
    ):
        assert path in made, path


def test_a_new_home_gets_its_own_copy_of_the_course(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    account = ClassroomLayout.under(tmp_path).account_of(
        "learner01", os.getuid(), os.getgid(), home
    )
    course = tmp_path / "course"
    for folder in accounts.COURSE_FOLDERS:
        shutil.copytree(ROOT / folder, course / folder)
    (course / "labs" / "01-fix-the-pipeline" / "Dockerfile").write_text("someone's work")
    accounts.copy_course(course, account)
    assert (home / "notebooks" / "01_start_here.ipynb").is_file()
    assert (home / "labs" / "01-fix-the-pipeline" / "starter").is_dir()
    assert not (home / "labs" / "01-fix-the-pipeline" / "Dockerfile").exists()
    assert (home / "classroom" / "kubernetes" / "image" / "Dockerfile").is_file()
    owners = {path.lstat().st_uid for path in home.rglob("*")}
    assert owners == {os.getuid()}


def test_reset_runs_the_hubs_stagelab_isolated_as_the_learner(tmp_path):
    layout = ClassroomLayout.under(tmp_path)
    account = layout.account_of("learner01", 1001, 1001, tmp_path / "home")
    command = as_learner_command(layout, "reset", "02")
    # -I: nothing of the learner's (current folder, PYTHON* variables, user site) is imported.
    assert command == [
        str(layout.venv / "bin" / "python"),
        "-I",
        "-m",
        "stagelab.classroom.as_learner",
        "reset",
        "02",
    ]
    environment = learner_environment(layout, account)
    assert environment["HOME"] == str(account.home)
    assert environment["USER"] == "learner01"
    assert environment["PATH"].split(":")[0] == str(layout.venv / "bin")
    assert not {name for name in environment if name.startswith(("STAGELAB_", "PYTHONPATH"))}


def test_reset_as_the_learner_finds_their_labs_in_their_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    for folder in ("notebooks", "labs"):
        shutil.copytree(ROOT / folder, home / folder, ignore=shutil.ignore_patterns(".backups"))
    lab = home / "labs" / "01-fix-the-pipeline"
    (lab / "Dockerfile").write_text("FROM scratch\n# the learner's attempt\n")
    monkeypatch.delenv("STAGELAB_LABS", raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home)  # `reset` runs in the learner's home
    (backup,) = as_learner.reset("01")
    assert Path(backup).parent == lab / ".backups"
    assert (Path(backup) / "Dockerfile").read_text() == "FROM scratch\n# the learner's attempt\n"
    assert (lab / "Dockerfile").read_text() == (lab / "starter" / "Dockerfile").read_text()
    assert not list((ROOT / "labs").glob("*/.backups/" + Path(backup).name))


def test_the_hubs_settings_come_from_the_record_and_keep_one_token(tmp_path):
    layout = ClassroomLayout.under(tmp_path)
    record = ClassRecord.load(layout.record)
    record.learners, record.port, record.ip, record.idle_timeout_s = ["learner01"], 830, "", 60
    record.domain, record.tls, record.internal_port = "class.example.org", True, 831
    settings = hub.hub_settings(layout, record, tmp_path / "course", "/proxy")
    assert settings.learners == ["learner01"] and settings.instructor == "instructor"
    assert (settings.port, settings.ip, settings.idle_timeout_s) == (830, "", 60)
    assert (settings.domain, settings.tls, settings.hub_port) == ("class.example.org", True, 831)
    assert settings.dashboard_port == 832
    assert len(settings.api_token) == 64 and record.api_token == settings.api_token
    assert hub.hub_settings(layout, record, tmp_path / "course", "/proxy") == settings
    assert settings.engine_path.split(":")[0] == str(layout.rootlesskit_bin)
    assert settings.layout == layout and settings.course == tmp_path / "course"


def test_an_installed_copy_cannot_serve_a_class_or_build_its_images(monkeypatch):
    assert layout_module.source_checkout("`stagelab classroom up`") == ROOT
    monkeypatch.setattr(layout_module, "package_checkout", lambda: None)
    with pytest.raises(ClassroomError, match="`stagelab classroom up` needs a stagelab checkout"):
        layout_module.source_checkout("`stagelab classroom up`")


def _chosen(tmp_path, say=None, **options) -> ClassRecord:
    layout = ClassroomLayout.under(tmp_path)
    record = ClassRecord.load(layout.record)
    lifecycle.choose_network(layout, record, UpOptions(learners=1, **options), say or print)
    return record


def test_without_tls_a_new_class_listens_on_loopback_and_warns_before_all(tmp_path):
    record = _chosen(tmp_path)
    assert (record.ip, record.port, record.tls) == ("127.0.0.1", 80, False)
    assert record.hub_url == "http://127.0.0.1/"
    said = []
    _chosen(tmp_path, said.append, ip="0.0.0.0")
    assert said and said[0].startswith("WARNING: without TLS, passwords")


def test_every_port_of_a_class_must_be_one_only_root_may_bind(tmp_path):
    with pytest.raises(ClassroomError, match="below 1024"):
        _chosen(tmp_path, port=8000)
    with pytest.raises(ClassroomError, match="--internal-port"):
        _chosen(tmp_path, internal_port=1023)  # the dashboard would be on 1024


def test_a_domain_needs_tls(tmp_path):
    with pytest.raises(ClassroomError, match="needs TLS"):
        _chosen(tmp_path, domain="class.example.org")


def test_the_record_names_each_origin(tmp_path):
    record = ClassRecord.load(ClassroomLayout.under(tmp_path).record)
    record.tls, record.port, record.domain = True, 443, "class.example.org"
    assert record.hub_url == "https://class.example.org/"
    assert (
        record.dashboard_url == "https://dashboard--service.class.example.org/services/dashboard/"
    )
    record.port = 830
    assert record.hub_url == "https://class.example.org:830/"
    record.domain, record.ip = "", "127.0.0.1"
    assert record.dashboard_url == "https://127.0.0.1:830/services/dashboard/"
    assert record.hub_api_url == "http://127.0.0.1:981/hub/api"
