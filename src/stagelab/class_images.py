"""A class's base images, loaded into a learner's engine when a build first names one.

In a classroom (classroom/lifecycle.py) root saves each base image the course uses into an
archive of its own, in a folder every account may read and none may write (public course
material, no learner's data), and the spawner names that folder in each learner's server's
environment (ENV). `up` loads only the first lessons' image into each engine; when a build, a
bake, a lab check or `sl.fetch_images` names a base image the learner's engine lacks,
`load_on_first_use` loads its archive first and says so in one line. Nine images at `up` in
every engine took 5 GiB of disk per account (sizing.py), which 31 accounts on a modest server
do not have.

`docker image load` stages the archive in the engine's data folder before unpacking it
(moby image/tarexport/load.go untars into a temporary folder there), so the disk needs the
archive's size free for a moment on top of the image's layers.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from .course import CLASS_IMAGES_ENV, class_archive, class_archive_name
from .errors import ImageUnavailable
from .images import BaseImage, present

ENV = CLASS_IMAGES_ENV
# What an engine's load says when the learner's disk is full (ENOSPC's strerror).
DISK_FULL = "no space left on device"


def folder() -> Path | None:
    """Return the class's image folder this process was given (ENV), None outside a class."""
    named = os.environ.get(ENV, "")
    return Path(named) if named and Path(named).is_dir() else None


def archive_name(image: BaseImage) -> str:
    """Return the file name of the image's archive in the class's folder."""
    return class_archive_name(image.standin)


def archive(image: BaseImage) -> Path | None:
    """Return the class's archive of this image, None outside a class or when it has none."""
    return class_archive(image.standin)


def on_first_use(image: BaseImage) -> bool:
    """Tell whether this engine lacks the image and the class has it to load on first use."""
    return archive(image) is not None and not present(image.official) and not present(image.standin)


def load_on_first_use(image: BaseImage, say=print) -> bool:
    """Load the image from the class's archive into the CLI's engine when the engine lacks it
    and the class has it; say so in one line. Return whether it loaded.

    Raises ImageUnavailable with one short line when the load fails: a full disk says to run
    `stagelab clean` or ask the instructor; anything else gives the engine's last line.
    """
    if not on_first_use(image):
        return False
    path = archive(image)
    began = time.monotonic()
    done = subprocess.run(
        ["docker", "image", "load", "-q", "-i", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        words = (done.stderr or done.stdout).strip()
        if DISK_FULL in words.lower():
            raise ImageUnavailable(
                f"Your disk is full: {image.official} could not be loaded from the class's "
                "images. Run `stagelab clean` to remove what your builds left, or ask the "
                "instructor for more disk."
            )
        last = words.splitlines()[-1] if words else f"exit code {done.returncode}"
        raise ImageUnavailable(f"Could not load {image.official} from {path}: {last}")
    say(
        f"images: loaded {image.official} from the class's images "
        f"(first use on your engine, {time.monotonic() - began:.0f} s)"
    )
    return True
