"""The engine, doctor and images commands against the real engine."""

import json
import os
import subprocess
import sys

import pytest

from stagelab import engine, images, provisioning, standins

pytestmark = pytest.mark.engine


def stagelab(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "stagelab.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )


def test_engine_ensure_changes_nothing_when_an_engine_answers(docker_engine):
    engine_home = provisioning.EnginePaths.from_environment().home
    before = sorted(p.name for p in engine_home.glob("*")) if engine_home.exists() else None
    done = stagelab("engine", "ensure")
    assert done.returncode == 0, done.stderr
    assert "answers at" in done.stdout and "starting dockerd" not in done.stdout
    after = sorted(p.name for p in engine_home.glob("*")) if engine_home.exists() else None
    assert before == after


def test_doctor_reports_engine_buildx_features_and_images(docker_engine):
    done = stagelab("doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    for line in [
        "engine",
        "buildx",
        "BuildKit heredocs",
        "BuildKit --check",
        "BuildKit --call",
        "BuildKit named contexts",
        "registry",
        "image busybox:1.36",
        "image gcc:12-bookworm",
    ]:
        assert line in done.stdout
    if not images.registry_answers():
        assert "offline stand-in stagelab/offline-busybox:1.36" in done.stdout


def test_features_are_probed_once_per_engine_and_buildx_and_kept(docker_engine, tmp_path):
    env = {**os.environ, "STAGELAB_HOME": str(tmp_path)}
    first = stagelab("doctor", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "probed " not in first.stdout  # nothing kept yet: this run probed
    kept = tmp_path / engine.FEATURES_FILE
    tables = json.loads(kept.read_text())
    (key,) = tables
    assert tables[key]["features"] == {name: True for name in engine.FEATURE_PROBES}
    # What a later run reports comes from the kept answer: alter it and the doctor says so.
    tables[key]["features"]["--call"] = False
    kept.write_text(json.dumps(tables))
    second = stagelab("doctor", env=env)
    assert "FAIL BuildKit --call" in second.stdout
    assert "`stagelab doctor --fresh` probes again" in second.stdout
    fresh = stagelab("doctor", "--fresh", env=env)
    assert fresh.returncode == 0, fresh.stdout
    assert "probed " not in fresh.stdout
    assert json.loads(kept.read_text())[key]["features"]["--call"] is True


def test_a_reader_that_stops_early_ends_the_command_quietly(docker_engine):
    done = subprocess.run(
        # `true` exits before the doctor writes (it starts in a fraction of a second): each
        # write meets a closed pipe, as the rest of a long report does after `head`.
        f"{sys.executable} -m stagelab.cli doctor | true",
        shell=True,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr


def test_doctor_and_ensure_without_an_engine_say_what_to_do(tmp_path):
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/none.sock"}
    doctor = stagelab("doctor", env=env)
    assert doctor.returncode == 1
    assert "FAIL engine" in doctor.stdout and "DOCKER_HOST" in doctor.stdout
    ensure = stagelab("engine", "ensure", env=env)
    assert ensure.returncode == 1
    assert "Traceback" not in ensure.stderr
    assert "DOCKER_HOST is set" in ensure.stderr


def test_standins_carry_honest_labels(docker_engine):
    for base in images.BASE_IMAGES:
        if images.present(base.official):
            continue
        labels = engine.client().images.get(base.standin).labels
        assert labels[images.STANDS_IN_LABEL] == base.official
        assert "not the official image" in labels["org.opencontainers.image.description"]
        assert labels["io.stagelab.made-from"]


def test_export_then_import_round_trips(docker_engine, tmp_path):
    archive = tmp_path / "images.tar"
    names = standins.export(archive, say=lambda _: None)
    assert archive.stat().st_size > 1_000_000
    assert "busybox:1.36" in names or "stagelab/offline-busybox:1.36" in names
    done = stagelab("images", "import", str(archive))
    assert done.returncode == 0, done.stderr
    assert "Loaded image" in done.stdout


def test_import_of_a_missing_archive_is_a_clear_message(tmp_path):
    done = stagelab("images", "import", str(tmp_path / "missing.tar"))
    assert done.returncode == 1
    assert "ask your instructor" in done.stderr and "Traceback" not in done.stderr
