"""`stagelab setup`: make this machine ready for the lessons, doing at the same time what does
not wait for something else, and saying each step with its time.

On a bare Debian machine the engine's download, the system's packages, the busybox download and
the Debian stand-in's debootstrap run side by side; the images that need the engine follow as
soon as it answers, gcc's and python's stand-ins side by side, then the extra images the course's
lessons and labs need (Go, Java, Node, nginx: standins.course_images). Nothing that is already
there is downloaded or built again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from . import class_images, engine, images, standins
from .errors import ProvisionError
from .provisioning import TOOL_PACKAGES, Provisioner, apt_install
from .recipes import RECIPES

DOCKER_DATA = Path("/var/lib/docker")


@dataclass
class SetupStep:
    """One piece of set-up: its name, what it does, and the steps it waits for."""

    name: str
    run: Callable[[], str | None]
    needs: tuple[str, ...] = ()
    seconds: float = field(default=0.0, init=False)


def run_steps(steps: list[SetupStep], say=print, workers: int = 6) -> None:
    """Run each step in a thread as soon as the steps it needs are done; say each with its time.

    A step whose need failed is not run. Raises the first failure (ProvisionError or another
    StagelabError) once nothing more can run.
    """
    by_name = {step.name: step for step in steps}
    unknown = {need for step in steps for need in step.needs} - set(by_name)
    if unknown:
        raise ValueError(f"steps need unknown steps: {sorted(unknown)}")
    done: set[str] = set()
    failed: list[BaseException] = []
    running: dict[Future, SetupStep] = {}
    waiting = list(steps)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stagelab-setup") as pool:
        while waiting or running:
            for step in [s for s in waiting if set(s.needs) <= done]:
                waiting.remove(step)
                running[pool.submit(_timed, step)] = step
            if not running:
                break  # what is left waits for a step that failed
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                step = running.pop(future)
                error = future.exception()
                if error is None:
                    done.add(step.name)
                    note = future.result()
                    say(f"setup: {step.name}: {note or 'done'} ({step.seconds:.1f} s)")
                else:
                    failed.append(error)
                    say(f"setup: {step.name}: FAILED after {step.seconds:.1f} s")
    if failed:
        raise failed[0]


def _timed(step: SetupStep) -> str | None:
    began = time.monotonic()
    try:
        return step.run()
    finally:
        step.seconds = time.monotonic() - began


def setup(browser: bool = False, say=print) -> None:
    """Make the engine with buildx, the base images and the tools ready on this machine.

    `browser` adds Chromium for the browser tests. Says one line per step with its time in
    seconds. Raises ProvisionError (or ImageUnavailable) with what to do when a piece cannot be
    had here, for example no engine and no root on Debian to install one.
    """
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="stagelab-setup-", dir="/var/tmp") as work:
        run_steps(setup_steps(browser, Path(work), say), say)
    say(f"setup: ready in {time.monotonic() - began:.1f} s")


def setup_steps(browser: bool, work: Path, say=print) -> list[SetupStep]:
    """Return the steps this machine needs now, with `work` for their files; steps for what is
    there already are left out."""
    provisioner = Provisioner(say=lambda line: None)
    system = [
        TOOL_PACKAGES[tool]
        for tool in ["dot"] + (["chromium"] if browser else [])
        if shutil.which(tool) is None
    ]
    steps: list[SetupStep] = []
    version = engine.ping()
    if version is not None:
        say(f"setup: engine: Docker Engine {version['Version']} answers at {engine.docker_host()}")
        engine_ready: tuple[str, ...] = ()
    else:
        if os.environ.get("DOCKER_HOST") or not engine.can_provision():
            raise ProvisionError(engine.advice_no_engine())
        system += provisioner.system_packages()
        engine_ready = ("engine start",)
        downloads = ()
        if not provisioner.unpacked():
            steps.append(
                SetupStep(
                    "engine download", _note(provisioner.download_engine, "Docker Engine unpacked")
                )
            )
            downloads = ("engine download",)
        steps.append(
            SetupStep(
                "engine start",
                lambda: f"Docker Engine {provisioner.start_dockerd()['Version']} runs",
                needs=downloads + (("system packages",) if system else ()),
            )
        )
    if system:
        steps.insert(
            0,
            SetupStep(
                "system packages",
                _note(lambda: apt_install(system), "installed " + ", ".join(system)),
            ),
        )
    buildx: tuple[str, ...] = ()
    buildx_version = engine.buildx_version()
    if buildx_version is None:
        buildx = ("buildx",)
        steps.append(
            SetupStep(
                "buildx",
                _note(provisioner.install_buildx, "plugin installed"),
                needs=tuple(s.name for s in steps if s.name == "engine download"),
            )
        )
    else:
        say(f"setup: buildx: {buildx_version}")
    extras = standins.course_images()
    if version is not None:
        missing: list[images.BaseImage] | None = standins.needed(extras)
        there = [
            image.official + (" (official)" if images.present(image.official) else " (stand-in)")
            for image in standins.wanted(extras)
            if image not in missing
        ]
        if there:
            say(f"setup: base images present: {', '.join(there)}")
        later = [image for image in missing if class_images.archive(image) is not None]
        if later:
            missing = [image for image in missing if image not in later]
            names = ", ".join(image.official for image in later)
            say(f"setup: base images loaded on first use (from the class's images): {names}")
    elif not provisioner.unpacked() and not DOCKER_DATA.exists():
        missing = standins.wanted(extras)  # a bare machine: an engine with no images
    else:
        missing = None  # a stopped engine: it says what it has once it runs
    steps += _image_steps(missing, engine_ready + buildx, work, extras)
    return steps


def _note(action: Callable[[], object], note: str) -> Callable[[], str]:
    def run() -> str:
        action()
        return note

    return run


def _image_steps(
    missing: list[images.BaseImage] | None,
    needs: tuple[str, ...],
    work_root: Path,
    extras: Sequence[str] = (),
) -> list[SetupStep]:
    """Steps for the missing base images: what needs no engine (downloads, debootstrap) starts
    at once, the rest when the engine answers and the stand-ins it builds on exist. With
    `missing` unknown (the engine does not run yet), one step checks and builds them in order,
    the core images and the `extras` (official names)."""
    if missing is None:
        return [SetupStep("base images", lambda: _ensure_images(extras), needs=needs)]
    steps = []
    for image in missing:
        recipe = RECIPES[image.recipe]
        work = work_root / image.recipe
        work.mkdir()
        after = tuple(
            f"image {name}" for name in recipe.after if any(m.official == name for m in missing)
        )
        prepared: tuple[str, ...] = ()
        if recipe.prepare is not None:
            steps.append(
                SetupStep(
                    f"prepare {image.official}",
                    _note(
                        lambda prepare=recipe.prepare, image=image, work=work: prepare(image, work),
                        "prepared",
                    ),
                )
            )
            prepared = (f"prepare {image.official}",)
        steps.append(
            SetupStep(
                f"image {image.official}",
                lambda image=image, work=work: _make(image, work),
                needs=needs + after + prepared,
            )
        )
    return steps


def _make(image: images.BaseImage, work: Path) -> str:
    try:
        if images.present(image.official) or images.present(image.standin):
            return "present"
        if images.registry_answers():
            engine.client().images.pull(image.official)
            return "pulled"
        standins.make_standin(image, prepared=work)
        return f"stand-in {image.standin} built"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _ensure_images(extras: Sequence[str]) -> str:
    lines: list[str] = []
    standins.ensure_images(say=lines.append, extras=extras)
    return "; ".join(line.removeprefix("images: ") for line in lines)
