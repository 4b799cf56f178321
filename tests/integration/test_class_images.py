"""A classroom's base images load into a learner's engine on the first build that names one
(class_images.py): on this machine's engine, with a small image of the test's own standing in
for a course image, so nothing of the course's is removed from the shared engine."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile

import pytest

from stagelab import class_images, images, multiplatform, standins
from stagelab.doctor import base_images, doctor
from stagelab.errors import ImageUnavailable
from stagelab.machine import setup_steps

OFFICIAL = "stagelab-test/h21-official:1"
STANDIN = "stagelab-test/h21-class-standin:1"
pytestmark = pytest.mark.engine

# Its recipe is busybox's: only `setup`, outside a class, would plan to make it (never run).
IMAGE = images.BaseImage(OFFICIAL, STANDIN, "a one-file image of the test's own", "busybox")


@pytest.fixture
def library(tmp_path, monkeypatch, docker_engine):
    """A class image folder holding IMAGE's archive, the engine without IMAGE, and IMAGE in
    the catalogue; the test's image is removed afterwards."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"hello\n"))
    subprocess.run(["docker", "image", "import", "-", STANDIN], input=data.getvalue(), check=True)
    folder = tmp_path / "classroom-images"
    folder.mkdir()
    subprocess.run(
        ["docker", "image", "save", "-o", str(folder / class_images.archive_name(IMAGE)), STANDIN],
        check=True,
    )
    subprocess.run(["docker", "image", "rm", STANDIN], check=True, capture_output=True)
    monkeypatch.setenv(class_images.ENV, str(folder))
    monkeypatch.setitem(images.BY_OFFICIAL, OFFICIAL, IMAGE)
    images.forget_standins()  # a test before may have found the stand-in
    yield folder
    subprocess.run(["docker", "image", "rm", STANDIN], check=False, capture_output=True)
    images.forget_standins()


def test_a_build_s_first_use_loads_the_image_and_says_so_once(library):
    assert class_images.on_first_use(IMAGE) and not images.present(STANDIN)
    said: list[str] = []
    served = multiplatform.substitutions_on(None, [OFFICIAL], say=said.append)
    assert images.present(STANDIN)
    assert len(said) == 1 and said[0].startswith(
        f"images: loaded {OFFICIAL} from the class's images (first use on your engine"
    )
    if not images.registry_answers():
        assert served == {OFFICIAL: STANDIN}
    # The engine has it now: the next build loads nothing.
    again: list[str] = []
    multiplatform.substitutions_on(None, [OFFICIAL], say=again.append)
    assert again == [] and not class_images.on_first_use(IMAGE)


def test_the_planner_counts_an_image_the_class_will_load_as_found(library, monkeypatch):
    text = f"FROM {OFFICIAL}\nRUN true\n"
    assert images.parse_dockerfile(text).caveats() == []
    # Outside a class the engine has no such image, and the plan says so.
    monkeypatch.delenv(class_images.ENV)
    assert images.parse_dockerfile(text).caveats() != []


def test_the_doctor_says_loaded_on_first_use_before_it_is(library, monkeypatch):
    monkeypatch.setattr(images, "EXTRA_IMAGES", [*images.EXTRA_IMAGES, IMAGE])
    rows = {row[0]: row[2] for row in base_images().rows}
    assert rows[OFFICIAL] == "loaded on first use"
    found = {f.what: f for f in doctor().findings}[f"image {OFFICIAL}"]
    assert found.ok and found.detail == "loaded on first use (from the class's images)"
    class_images.load_on_first_use(IMAGE, say=lambda line: None)
    rows = {row[0]: row[2] for row in base_images().rows}
    assert rows[OFFICIAL] == "stand-in"


def test_outside_a_class_nothing_is_loaded(library, monkeypatch):
    monkeypatch.delenv(class_images.ENV)
    assert class_images.folder() is None and not class_images.on_first_use(IMAGE)
    assert not class_images.load_on_first_use(IMAGE) and not images.present(STANDIN)


def test_a_full_disk_says_so_in_one_line_with_what_to_do(library, tmp_path, monkeypatch):
    # The engine's own words for a full disk (ENOSPC), from a docker CLI that fails so.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "docker").write_text(
        '#!/bin/sh\ncase "$2" in load) echo \'Error processing tar file(exit status 1): write '
        "/usr/lib/gcc/cc1: no space left on device' >&2; exit 1;; esac\n"
        f'exec {shutil.which("docker")} "$@"\n'
    )
    (fake / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    with pytest.raises(ImageUnavailable) as raised:
        class_images.load_on_first_use(IMAGE)
    message = str(raised.value)
    assert "\n" not in message.strip()
    assert "Your disk is full" in message and "`stagelab clean`" in message
    assert "instructor" in message


def test_setup_says_what_loads_on_first_use_and_makes_no_step_for_it(
    library, tmp_path, monkeypatch
):
    monkeypatch.setattr(standins, "BASE_IMAGES", [*images.BASE_IMAGES, IMAGE])
    said: list[str] = []
    steps = setup_steps(browser=False, work=tmp_path, say=said.append)
    assert f"setup: base images loaded on first use (from the class's images): {OFFICIAL}" in said
    assert not [step for step in steps if OFFICIAL in step.name]
    monkeypatch.delenv(class_images.ENV)
    assert [step.name for step in setup_steps(False, tmp_path, said.append)].count(
        f"image {OFFICIAL}"
    ) == 1, "outside a class, setup would make it"
