"""What goes into the classroom images' builds: the checkout's files, the command line (pure)."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

from stagelab.classroom.kubernetes.image_build import BuildInputs, image_build_command
from stagelab.classroom.kubernetes.layout import (
    ENGINE,
    LEARNER,
    apt_checks_valid_until,
    checkout,
    image_labels,
    source_files,
)
from stagelab.images import KIND_LABEL, STANDS_IN_LABEL


def test_learners_working_files_and_caches_stay_out_of_the_image(tmp_path):
    for name in [
        "pyproject.toml",
        "README.md",
        "src/stagelab/__init__.py",
        "src/stagelab/__pycache__/x.pyc",
        "notebooks/01_a.ipynb",
        "notebooks/.ipynb_checkpoints/01_a-checkpoint.ipynb",
        "labs/02-shrink-it/checks.py",
        "labs/02-shrink-it/starter/Dockerfile",
        "labs/02-shrink-it/Dockerfile",
        "labs/02-shrink-it/.backups/1/Dockerfile",
        "labs/README.md",
        "classroom/kubernetes/image/Dockerfile",
        "classroom/kubernetes/config.yaml",
        ".venv/bin/python",
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert [path.as_posix() for path in source_files(tmp_path)] == [
        "README.md",
        "classroom/kubernetes/image/Dockerfile",
        "labs/02-shrink-it/checks.py",
        "labs/02-shrink-it/starter/Dockerfile",
        "notebooks/01_a.ipynb",
        "pyproject.toml",
        "src/stagelab/__init__.py",
    ]


def test_this_checkouts_course_goes_in_whole():
    files = {path.as_posix() for path in source_files()}
    root = checkout()
    lessons = {f"notebooks/{path.name}" for path in (root / "notebooks").glob("*.ipynb")}
    assert lessons and lessons <= files
    assert {
        f"labs/{path.parent.name}/checks.py" for path in (root / "labs").glob("*/checks.py")
    } <= files
    # The dashboards are modules of the package: they go in with its source.
    assert {
        "src/stagelab/classroom/dashboard.py",
        "src/stagelab/classroom/kubernetes/dashboard.py",
    } <= files


def test_the_build_gets_its_contexts_secret_and_labels(tmp_path):
    inputs = BuildInputs(
        tmp_path / "source",
        tmp_path / "archive",
        {"debian:bookworm-slim": "stagelab/offline-debian:bookworm-slim"},
        Path("/etc/ssl/certs/ca-certificates.crt"),
        False,
    )
    command = image_build_command(LEARNER, tmp_path, inputs)
    assert command[:3] == ["docker", "buildx", "build"] and command[-1] == str(tmp_path)
    pairs = list(itertools.pairwise(command))
    assert ("--target", "learner") in pairs and ("-t", LEARNER.ref) in pairs
    assert ("--build-arg", "APT_CHECK_VALID_UNTIL=false") in pairs
    assert ("--build-context", f"stagelab-source={tmp_path / 'source'}") in pairs
    assert ("--build-context", f"base-images-archive={tmp_path / 'archive'}") in pairs
    assert (
        "--build-context",
        "debian:bookworm-slim=docker-image://stagelab/offline-debian:bookworm-slim",
    ) in pairs
    assert ("--secret", "id=ca-certificates,src=/etc/ssl/certs/ca-certificates.crt") in pairs
    assert ("--label", f"{KIND_LABEL}=classroom-image") in pairs
    assert "--no-cache" not in command
    plain = image_build_command(
        ENGINE, tmp_path, BuildInputs(tmp_path, tmp_path, {}, None, True), no_cache=True
    )
    assert "--secret" not in plain and "--no-cache" in plain
    assert ("--build-arg", "APT_CHECK_VALID_UNTIL=true") in list(itertools.pairwise(plain))


def test_the_images_do_not_claim_to_stand_in_for_their_base_image():
    assert image_labels(LEARNER)[STANDS_IN_LABEL] == ""
    assert image_labels(ENGINE)[KIND_LABEL] == "classroom-image"


@pytest.mark.skipif(shutil.which("apt-config") is None, reason="apt-config: Debian only")
@pytest.mark.parametrize("setting, checks", [('"false"', False), ('"true"', True), (None, True)])
def test_the_machines_apt_policy_is_read(tmp_path, monkeypatch, setting, checks):
    (tmp_path / "parts").mkdir()
    config = f'Dir::Etc::Parts "{tmp_path / "parts"}";\n'
    if setting:
        config += f"Acquire::Check-Valid-Until {setting};\n"
    (tmp_path / "apt.conf").write_text(config)
    monkeypatch.setenv("APT_CONFIG", str(tmp_path / "apt.conf"))
    assert apt_checks_valid_until() is checks
