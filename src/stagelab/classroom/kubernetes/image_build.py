"""Build the Kubernetes classroom's images on this machine's engine, with BuildKit (buildx).

Both come from classroom/kubernetes/image/Dockerfile of a checkout: the `engine` target (the pod's
Docker engine) and the `learner` target (JupyterLab, stagelab, the course, the base-images archive).
Offline stand-ins serve the Dockerfile's base images when no registry answers, as in every
stagelab build; Debian's archive and PyPI must be reachable from the build.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ... import engine, standins
from ...command_lines import buildx_build_command, image_contexts
from ...dockerfile import Dockerfile
from ...errors import EngineUnavailable, ImageUnavailable
from ...images import BASE_IMAGES, present, substitutions
from ...provisioning import run_command
from .layout import (
    ARCHIVE_CONTEXT,
    ARCHIVE_NAME,
    CA_SECRET,
    ENGINE,
    LEARNER,
    SOURCE_CONTEXT,
    ImageSpec,
    apt_checks_valid_until,
    ca_bundle,
    copy_source,
    image_folder,
    image_labels,
)


@dataclass(frozen=True)
class BuiltImage:
    """An image `build_images` made: its name, id, size in bytes and build time in seconds."""

    ref: str
    image_id: str
    size_bytes: int
    seconds: float

    def line(self) -> str:
        """Return a one-line summary: name, short id, size in MB, seconds."""
        return (
            f"{self.ref}  {self.image_id[7:19]}  {self.size_bytes / 1e6:.0f} MB  "
            f"built in {self.seconds:.0f} s"
        )


@dataclass(frozen=True)
class BuildInputs:
    """What a build of the classroom's images is given besides the Dockerfile's folder."""

    source_dir: Path
    archive_dir: Path
    substitutions: dict[str, str]
    ca_bundle: Path | None
    check_valid_until: bool


def image_build_command(
    spec: ImageSpec,
    folder: Path,
    inputs: BuildInputs,
    no_cache: bool = False,
    dockerfile: Path | None = None,
) -> list[str]:
    """Return the `docker buildx build` command line that builds one image into the engine
    (from `folder`'s Dockerfile, or another `dockerfile` with the same target and inputs)."""
    return buildx_build_command(
        folder,
        progress="plain",
        target=spec.target,
        file=dockerfile or folder / "Dockerfile",
        tags=spec.ref,
        build_args={"APT_CHECK_VALID_UNTIL": str(inputs.check_valid_until).lower()},
        build_contexts={
            SOURCE_CONTEXT: inputs.source_dir,
            ARCHIVE_CONTEXT: inputs.archive_dir,
            **image_contexts(inputs.substitutions),
        },
        secrets=[{"id": CA_SECRET, "src": inputs.ca_bundle}]
        if inputs.ca_bundle is not None
        else (),
        labels=image_labels(spec),
        no_cache=no_cache,
    )


def build_images(
    specs: tuple[ImageSpec, ...] = (ENGINE, LEARNER), no_cache: bool = False, say=print
) -> list[BuiltImage]:
    """Build the classroom's images (the engine's, then the learner's) and return them.

    The base images are exported once into the learner image's archive (`stagelab images
    export`). `say` gets a line per step. Raises EngineUnavailable with no engine,
    ImageUnavailable when a base image is missing (`stagelab images ensure` makes them),
    ClassroomError outside a checkout, ProvisionError naming the image when a build fails
    (the log's tail in the message, all of it in `.output`).
    """
    built = []
    with prepared_inputs(say) as inputs:
        for spec in specs:
            built.append(build_one(spec, inputs, no_cache=no_cache, say=say))
    return built


@contextmanager
def prepared_inputs(say=print) -> Iterator[BuildInputs]:
    """Yield the inputs of a build of the classroom's images, in a folder removed afterwards:
    the checkout's files, the base images' archive, the stand-ins, this machine's settings.

    Raises EngineUnavailable, ImageUnavailable and ClassroomError as build_images() does.
    """
    if not engine.answers():
        raise EngineUnavailable(engine.advice_no_engine())
    missing = [
        image.official
        for image in BASE_IMAGES
        if not present(image.official) and not present(image.standin)
    ]
    if missing:
        raise ImageUnavailable(
            f"Missing base images {', '.join(missing)}: run `stagelab images ensure`, then retry."
        )
    names = Dockerfile((image_folder() / "Dockerfile").read_text()).images()
    with tempfile.TemporaryDirectory(prefix="stagelab-classroom-image-") as tmp:
        inputs = BuildInputs(
            Path(tmp, "source"),
            Path(tmp, "archive"),
            substitutions(names),
            ca_bundle(),
            apt_checks_valid_until(),
        )
        inputs.archive_dir.mkdir()
        standins.export(inputs.archive_dir / ARCHIVE_NAME, say=say)
        say(f"classroom image: {copy_source(inputs.source_dir)} files of this checkout go in")
        yield inputs


def build_one(
    spec: ImageSpec,
    inputs: BuildInputs,
    no_cache: bool = False,
    dockerfile: Path | None = None,
    say=print,
) -> BuiltImage:
    """Build one image from prepared inputs and return it; ProvisionError when it fails."""
    say(f"classroom image: building {spec.ref} (target {spec.target}) ...")
    started = time.monotonic()
    run_command(
        image_build_command(spec, image_folder(), inputs, no_cache, dockerfile), f"build {spec.ref}"
    )
    inspected = engine.client().api.inspect_image(spec.ref)
    built = BuiltImage(spec.ref, inspected["Id"], inspected["Size"], time.monotonic() - started)
    say(f"classroom image: {built.line()}")
    return built
