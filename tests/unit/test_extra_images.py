"""The extra base images (Go, Java, Node with TypeScript, nginx): which the course needs (its
lessons' `sl.fetch_images` calls, its labs' Dockerfiles), what setup then plans, what a lesson's
fetch says with no engine, and how their recipes keep them lean. No engine needed."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

import stagelab as sl
from stagelab import course as course_module
from stagelab import images, machine, recipes, standins
from stagelab.course import Course

# The module: `stagelab.doctor` is also the name of sl.doctor, the function.
doctor = importlib.import_module("stagelab.doctor")
EXTRAS = [sl.GOLANG, sl.JRE, sl.JDK, sl.NODE, sl.NGINX]


def _notebook(path: Path, *sources: str) -> None:
    cells = [{"cell_type": "code", "source": [source], "metadata": {}} for source in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4}))


def _course(folder: Path) -> Course:
    _notebook(
        folder / "notebooks" / "16_classics.ipynb",
        "import stagelab as sl\nsl.fetch_images(sl.GOLANG, 'nginx:1.22', image_name)",
        "%%dockerfile\nFROM node:18-bookworm-slim\n",  # a cell magic is read as no Python
        "print('node:18-bookworm-slim is only named here')",
    )
    _notebook(folder / "notebooks" / "01_start.ipynb", "sl.fetch_images()")
    lab = folder / "labs" / "09-java" / "solution"
    lab.mkdir(parents=True)
    (lab / "Dockerfile").write_text("FROM eclipse-temurin:17-jdk AS build\nFROM scratch\n")
    (folder / "labs" / "09-java" / "starter").mkdir()
    (folder / "labs" / "09-java" / "starter" / "Dockerfile").write_text("FROM\n")  # broken
    return Course.find(root=folder)


def test_the_course_needs_what_its_lessons_fetch_and_its_labs_build_from(tmp_path):
    assert standins.course_images(_course(tmp_path)) == [sl.GOLANG, sl.JDK, sl.NGINX]


def test_no_course_folder_needs_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(course_module, "package_checkout", lambda: None)
    nowhere = Course.find(cwd=tmp_path, environ={"HOME": str(tmp_path)})
    assert nowhere.found is None
    assert standins.course_images(nowhere) == []


def test_an_extra_image_brings_the_stand_ins_it_is_built_on():
    chosen = [image.official for image in standins.wanted([sl.JDK])]
    assert chosen == [image.official for image in images.BASE_IMAGES] + [sl.JRE, sl.JDK]
    assert standins.wanted(["docker.io/library/nginx:1.22"])[-1].official == sl.NGINX
    with pytest.raises(sl.ImageUnavailable, match="not a base image stagelab can make"):
        standins.wanted(["golang:1.23"])


def test_each_extra_image_has_an_honest_stand_in_and_a_recipe():
    for official in EXTRAS:
        image = images.BY_OFFICIAL[official]
        assert image.standin == "stagelab/offline-" + official
        assert image.standin.split(":")[1] == official.split(":")[1]
        assert image.recipe in recipes.RECIPES
        assert sl.STANDINS[official] == image.standin
    assert not set(EXTRAS) & {image.official for image in images.BASE_IMAGES}


def test_setup_on_a_bare_machine_plans_the_extra_images_after_their_bases(tmp_path):
    extras = [sl.JDK, sl.NGINX]
    steps = machine._image_steps(standins.wanted(extras), ("engine start",), tmp_path, extras)
    needs = {step.name: set(step.needs) for step in steps}
    assert needs[f"image {sl.JRE}"] == {"engine start", f"image {images.DEBIAN}"}
    assert needs[f"image {sl.JDK}"] == {"engine start", f"image {images.DEBIAN}", f"image {sl.JRE}"}
    assert needs[f"image {sl.NGINX}"] == {"engine start", f"image {images.DEBIAN}"}
    assert f"image {sl.GOLANG}" not in needs


def test_fetching_with_no_engine_says_the_builds_replay(monkeypatch):
    monkeypatch.setattr(doctor.engine, "answers", lambda: False)
    table = sl.fetch_images(sl.GOLANG, sl.JDK)
    assert [row[0] for row in table.rows] == [sl.GOLANG, sl.JDK]
    assert all(row[2] == "no engine here: builds replay" for row in table.rows)
    with pytest.raises(sl.ImageUnavailable, match=r"golang:1\.99"):
        sl.fetch_images("golang:1.99")


def test_fetching_builds_only_what_is_missing_and_says_so(monkeypatch):
    made, said = [], []
    monkeypatch.setattr(doctor.engine, "answers", lambda: True)
    monkeypatch.setattr(doctor.images, "registry_answers", lambda: False)
    present = {images.BY_OFFICIAL[name].standin for name in images.STANDINS} - {
        images.BY_OFFICIAL[sl.JDK].standin
    }
    monkeypatch.setattr(standins, "present", lambda name: name in present)
    monkeypatch.setattr(doctor.images, "present", lambda name: name in present)
    monkeypatch.setattr(doctor.standins, "make_standin", lambda image: made.append(image.official))
    table = sl.fetch_images(sl.JDK, sl.NGINX, say=said.append)
    assert made == [sl.JDK]
    rows = {row[0]: row[2] for row in table.rows}
    assert rows[sl.JDK].startswith("stand-in built now") and rows[sl.NGINX] == (
        "present (offline stand-in)"
    )
    assert said == [
        f"building the offline stand-in {sl.STANDINS[sl.JDK]} from Debian packages: "
        + images.BY_OFFICIAL[sl.JDK].what
    ]


def test_recipes_stay_lean_and_label_what_debian_served(monkeypatch, tmp_path):
    built, ran = [], []
    monkeypatch.setattr(
        recipes,
        "_build_dockerfile",
        lambda tag, text, work, labels: built.append((tag, text, labels)),
    )

    class Done:
        stdout = "golang-1.19-go 1.19.8-2\ngolang-go 2:1.19~1\n"

    monkeypatch.setattr(
        recipes, "run_command", lambda command, purpose: ran.append(command) or Done
    )
    monkeypatch.setattr(recipes.subprocess, "run", lambda *a, **k: None)
    image = images.BY_OFFICIAL[sl.GOLANG]
    recipes.RECIPES[image.recipe].make(image, tmp_path)
    (tag, first, _), (final_tag, second, labels) = built
    assert tag == image.standin + "-unlabelled" and final_tag == image.standin
    assert "--no-install-recommends golang-1.19-go golang-go" in first
    assert "apt-get clean" in first
    assert "rm -rf /var/lib/apt/lists/*" in first and "ENV GOPATH=/go CGO_ENABLED=0" in first
    assert second == f"FROM {tag}\n"
    assert labels[images.STANDS_IN_LABEL] == sl.GOLANG
    assert labels["org.opencontainers.image.version"] == "1.19.8-2"
    assert "golang-1.19-go 1.19.8-2, golang-go 2:1.19~1" in labels["io.stagelab.made-from"]
    assert "not the official image" in labels["org.opencontainers.image.description"]


ROOT = Path(__file__).resolve().parents[2]
FIRST_CODE_CELLS = 3


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=str)
def test_a_lesson_that_uses_an_extra_image_fetches_it_in_its_first_cells(notebook):
    """Setup makes an extra image only where a lesson fetches it, so a lesson that builds
    FROM one must say so at its start (where the learner reads that it fetches them)."""
    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    code = "\n".join("".join(cell["source"]) for cell in cells)
    constants = {name: getattr(images, name) for name in ("GOLANG", "JDK", "JRE", "NODE", "NGINX")}
    used = {official for name, official in constants.items() if f"sl.{name}" in code}
    used |= {official for official in EXTRAS if official in code}
    if used:
        sources = ["".join(cell["source"]) for cell in cells[:FIRST_CODE_CELLS]]
        fetched = set(standins.fetched_in_code(sources))
        assert used <= fetched, f"fetch {sorted(used - fetched)} in the lesson's first code cells"


def test_an_image_made_on_first_use_is_no_readiness_requirement(tmp_path, monkeypatch):
    """cross-gcc is made by the first build that names it (lesson 12, lab 07): neither setup,
    the classroom's archive nor the doctor asks for it, and the doctor says so; builds for
    several platforms, which only a few builds need, leave the doctor ok where they cannot go."""
    _notebook(tmp_path / "notebooks" / "12_platforms.ipynb", "sl.fetch_images(sl.CROSS_GCC)")
    lab = tmp_path / "labs" / "07-multi-platform" / "solution"
    lab.mkdir(parents=True)
    (lab / "Dockerfile").write_text(f"FROM {sl.CROSS_GCC} AS build\nFROM scratch\n")
    course = Course.find(root=tmp_path)
    assert images.BY_OFFICIAL[sl.CROSS_GCC].on_demand
    assert standins.course_images(course) == []
    monkeypatch.setattr(standins, "course_images", lambda: [])
    monkeypatch.setattr(doctor.engine, "ping", lambda: {"Version": "28.5.2", "ApiVersion": "1.51"})
    monkeypatch.setattr(doctor.engine, "buildx_version", lambda: None)
    monkeypatch.setattr(doctor.engine, "emulators", lambda: [])
    monkeypatch.setattr(doctor.engine, "containerd_store", lambda: False)
    monkeypatch.setattr(doctor.engine, "can_provision", lambda: False)
    monkeypatch.setattr(doctor.multiplatform.PlatformEngine, "answers", lambda self: False)
    monkeypatch.setattr(doctor.images, "registry_answers", lambda: False)
    monkeypatch.setattr(doctor.images, "require_engine", lambda: None)
    standins_here = {image.standin for image in images.BASE_IMAGES}
    monkeypatch.setattr(doctor.images, "present", lambda name: name in standins_here)
    findings = {f.what: f for f in doctor.doctor().findings}
    made_later = findings[f"image {sl.CROSS_GCC}"]
    assert made_later.ok and made_later.detail.startswith("made on first use")
    several = findings["several platforms, cache export"]
    assert several.ok and several.advice  # what the user's Docker needs, said without a FAIL
    assert all(f"image {extra}" not in findings for extra in EXTRAS)
    assert [f.what for f in findings.values() if not f.ok] == ["buildx"]


def test_this_course_fetches_the_classic_examples_images_so_setup_and_export_carry_them():
    """Lesson 19 builds the classic examples: setup makes its five images and
    `stagelab images export` (which saves what course_images() names) carries them."""
    assert standins.course_images() == [sl.GOLANG, sl.JRE, sl.JDK, sl.NODE, sl.NGINX]
    assert set(standins.fetched_in(ROOT / "notebooks/19_classic_examples.ipynb")) == set(EXTRAS)
