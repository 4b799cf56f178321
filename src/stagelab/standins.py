"""Offline stand-ins for the base images, built from Debian packages (recipes.py); which the
course needs; archives of them.

With no registry, `ensure_images()` builds each missing base image's stand-in under an honest name
(`stagelab/offline-busybox:1.36`, ...), labelled with what it stands in for and how it was made.
The core images (BASE_IMAGES) are always made; the extra ones (EXTRA_IMAGES: Go, Java, Node with
TypeScript, nginx) only where the course needs them: a lesson that fetches them
(`sl.fetch_images(...)` in its first cells) or a lab whose Dockerfile uses them
(`course_images()` reads both, so `stagelab setup` knows).
"""

from __future__ import annotations

import ast
import json
import tempfile
from collections.abc import Iterable
from pathlib import Path

from . import class_images, engine, images
from .course import Course
from .dockerfile import Dockerfile
from .errors import DockerfileError, ImageUnavailable
from .images import (
    BASE_IMAGES,
    BY_OFFICIAL,
    EXTRA_IMAGES,
    BaseImage,
    normalise,
    present,
    registry_answers,
    require_engine,
)
from .provisioning import run_command
from .recipes import RECIPES

# How a lesson asks for images: `sl.fetch_images(...)`.
FETCH_CALL = "fetch_images"


def wanted(extras: Iterable[str] = ()) -> list[BaseImage]:
    """Return the core base images, then the extra ones named (official names) with the stand-ins
    each is built on, in catalogue order. Raises ImageUnavailable naming the images there are
    for a name that is none of them."""
    chosen = set()
    todo = [normalise(name) for name in extras]
    while todo:
        name = todo.pop()
        if name not in BY_OFFICIAL:
            raise ImageUnavailable(
                f"{name} is not a base image stagelab can make: one of {', '.join(BY_OFFICIAL)}"
            )
        if name not in chosen:
            chosen.add(name)
            todo += RECIPES[BY_OFFICIAL[name].recipe].after
    return BASE_IMAGES + [image for image in EXTRA_IMAGES if image.official in chosen]


def needed(extras: Iterable[str] = ()) -> list[BaseImage]:
    """Return the base images (core, and the extra ones named) that are neither present nor
    served by a present stand-in."""
    return [
        image
        for image in wanted(extras)
        if not present(image.official) and not present(image.standin)
    ]


def ensure_images(say=print, extras: Iterable[str] = ()) -> None:
    """Make every core base image, and the extra ones named, usable: present, else loaded
    from the class's images in a classroom (class_images.py), else pulled, else built as a
    stand-in.

    `say` gets a line per image. Raises ImageUnavailable or ProvisionError when a stand-in
    cannot be built (building the Debian one needs root), EngineUnavailable with no engine.
    """
    require_engine()
    missing = needed(extras)
    for image in wanted(extras):
        if image not in missing:
            say(
                f"images: {image.official} is present"
                if present(image.official)
                else f"images: {image.official} -> stand-in {image.standin} is present"
            )
        elif class_images.load_on_first_use(image, say):
            continue
        elif registry_answers():
            say(f"images: pulling {image.official}")
            engine.client().images.pull(image.official)
        else:
            say(f"images: no registry answers; building stand-in {image.standin} ({image.what})")
            make_standin(image)


def course_images(course: Course | None = None) -> list[str]:
    """Return the extra base images the course needs, in catalogue order: those its lessons
    and lab tasks fetch (`sl.fetch_images(...)` in a notebook's code, with image names or
    `sl.` constants) and those its labs' Dockerfiles use, except the ones made on first use
    (BaseImage.on_demand); none where no course folder is found (course.py)."""
    course = course or Course.find()
    if course.found is None:
        return []
    named: set[str] = set()
    notebooks, dockerfiles = _course_files(course)
    for notebook in notebooks:
        named.update(fetched_in(notebook))
    for dockerfile in dockerfiles:
        try:
            named.update(Dockerfile(dockerfile.read_text(encoding="utf-8")).images())
        except (DockerfileError, OSError, UnicodeDecodeError):
            continue  # a learner's broken file needs no image
    return [
        image.official for image in EXTRA_IMAGES if image.official in named and not image.on_demand
    ]


def used_in(image: BaseImage, course: Course | None = None) -> list[str]:
    """Return the lessons and labs of the course whose notebooks or Dockerfiles name this base
    image (its official name, or its `sl.` constant), as "lesson 06" and "lab 02"."""
    course = course or Course.find()
    if course.found is None:
        return []
    constants = [key for key, value in vars(images).items() if value == image.official]
    words = [image.official, *(f"sl.{key}" for key in constants)]
    places = []
    notebooks, dockerfiles = _course_files(course)
    for path in notebooks + dockerfiles:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if any(word in text for word in words):
            lab = path.relative_to(course.labs).parts[0] if path.is_relative_to(course.labs) else ""
            place = f"lab {lab[:2]}" if lab else f"lesson {path.name[:2]}"
            places.append(place)
    return list(dict.fromkeys(places))


def _course_files(course: Course) -> tuple[list[Path], list[Path]]:
    """Return the course's lesson notebooks and lab tasks, and its labs' Dockerfiles."""
    notebooks = sorted(course.notebooks.glob("*.ipynb")) + sorted(course.labs.glob("*/task.ipynb"))
    return notebooks, sorted(course.labs.glob("*/*/Dockerfile*"))


def fetched_in(notebook: Path) -> list[str]:
    """Return the image names a notebook's code cells pass to `sl.fetch_images(...)` (see
    fetched_in_code); none for a file that is no notebook."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return []
    return fetched_in_code(
        "".join(cell.get("source", [])) for cell in cells if cell.get("cell_type") == "code"
    )


def fetched_in_code(cells: Iterable[str]) -> list[str]:
    """Return the image names these code cells pass to `sl.fetch_images(...)`: string
    literals, and constants of stagelab (`sl.GOLANG`); other arguments are not read."""
    names = []
    for source in cells:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue  # a cell magic (%%dockerfile) is no Python
        for node in ast.walk(tree):
            called = getattr(node, "func", None)
            name = getattr(called, "attr", None) or getattr(called, "id", None)
            if isinstance(node, ast.Call) and name == FETCH_CALL:
                names += [found for found in map(_constant, node.args) if found]
    return names


def _constant(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Attribute) and isinstance(getattr(images, node.attr, None), str):
        return getattr(images, node.attr)
    return None


def make_standin(image: BaseImage, prepared: Path | None = None) -> None:
    """Build one stand-in: prepare it (unless `prepared` holds that work already), then make it.

    The stand-ins it is built on must exist (ensure_images() builds them in catalogue order).
    """
    recipe = RECIPES[image.recipe]
    if prepared is not None:
        recipe.make(image, prepared)
        return
    with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="stagelab-standin-") as work:
        if recipe.prepare is not None:
            recipe.prepare(image, Path(work))
        recipe.make(image, Path(work))


def export(path: str | Path, say=print, extras: Iterable[str] | None = None) -> list[str]:
    """Save every base image that is present (official or stand-in) into one archive: the core
    ones, and the extra ones named in `extras` (default: those the course needs,
    course_images()), with the stand-ins they are built on.

    Returns the image names saved. Raises ImageUnavailable when there is none to save,
    EngineUnavailable with no engine.
    """
    require_engine()
    chosen = wanted(course_images() if extras is None else extras)
    names = [name for image in chosen for name in (image.official, image.standin) if present(name)]
    if not names:
        raise ImageUnavailable("No base images to export: run `stagelab images ensure` first.")
    run_command(["docker", "image", "save", "-o", str(path), *names], "save the base images")
    say(f"images: saved {', '.join(names)} to {path}")
    return names


def import_(path: str | Path, say=print) -> None:
    """Load an archive made by export(); ImageUnavailable when the file is missing,
    EngineUnavailable with no engine."""
    if not Path(path).exists():
        raise ImageUnavailable(
            f"No archive at {path}: ask your instructor for the file made "
            "by `stagelab images export`."
        )
    require_engine()
    done = run_command(["docker", "image", "load", "-i", str(path)], "load the base images")
    say(done.stdout.strip())
