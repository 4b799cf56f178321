"""Base images and stagelab's own: the catalogue, labels, which stand-in serves a name, which
names the engine has (for the planner), advice."""

from __future__ import annotations

import functools
import getpass
import os
import re
from dataclasses import dataclass

from . import engine, lazy
from .course import class_archive
from .dockerfile import Dockerfile
from .errors import EngineUnavailable

LABEL = "io.stagelab.created-by"
USER_LABEL = "io.stagelab.user"
KIND_LABEL = "io.stagelab.kind"
# On a container: the process that made it, which removes it when done.
PID_LABEL = "io.stagelab.pid"
STANDS_IN_LABEL = "io.stagelab.stands-in-for"
STANDIN_RELEASE = "bookworm"


@dataclass(frozen=True)
class BaseImage:
    """An official image the lessons use, the honest name of its offline stand-in, what the
    stand-in is, and the recipe (recipes.py) that makes it (default: the image's name).

    `on_demand`: made only by the first build that names it (multiplatform.substitutions_on),
    for the one lesson or lab that uses it: no readiness requirement (the doctor, `stagelab
    setup`, the classroom's archive and the learner image leave it out).
    """

    official: str
    standin: str
    what: str
    recipe_name: str = ""
    on_demand: bool = False

    @property
    def recipe(self) -> str:
        """Return the name of the recipe that builds the stand-in ("busybox", "gcc", ...)."""
        return self.recipe_name or self.official.split(":")[0]


BUSYBOX = "busybox:1.36"
DEBIAN = "debian:bookworm-slim"
GCC = "gcc:12-bookworm"
PYTHON = "python:3.11-slim-bookworm"
# No official image holds cross compilers: this one is stagelab's own, named as such.
CROSS_GCC = "stagelab/cross-gcc:12-bookworm"

BASE_IMAGES = [
    BaseImage(
        BUSYBOX,
        "stagelab/offline-busybox:1.36",
        "a 2 MB shell image: busybox-static from Debian in a FROM scratch image",
    ),
    BaseImage(
        DEBIAN,
        "stagelab/offline-debian:bookworm-slim",
        "debootstrap --variant=minbase bookworm, slimmed as the official image is",
    ),
    BaseImage(
        GCC,
        "stagelab/offline-gcc:12-bookworm",
        "the Debian stand-in plus Debian's gcc 12, libc6-dev and make",
    ),
    BaseImage(
        PYTHON,
        "stagelab/offline-python:3.11-slim-bookworm",
        "the Debian stand-in plus Debian's Python 3.11 with venv and pip",
    ),
]
# The classic examples' toolchains and runtimes (Go, Java, TypeScript, nginx): big, so made only
# where a lesson fetches them (`sl.fetch_images`, which `stagelab setup` finds) or a lab's
# Dockerfile uses them. Tags that exist upstream; Debian bookworm's packages serve them.
GOLANG = "golang:1.19-bookworm"
JDK = "eclipse-temurin:17-jdk"
JRE = "eclipse-temurin:17-jre"
NODE = "node:18-bookworm-slim"
NGINX = "nginx:1.22"
EXTRA_IMAGES = [
    BaseImage(
        CROSS_GCC,
        CROSS_GCC,
        "stagelab's own toolchain image: the Debian stand-in plus gcc 12, make and Debian's "
        "cross compilers, so that one machine compiles C for amd64 and arm64",
        recipe_name="cross-gcc",
        on_demand=True,
    ),
    BaseImage(
        GOLANG,
        "stagelab/offline-golang:1.19-bookworm",
        "the Debian stand-in plus Debian's Go 1.19 (golang-go), GOPATH /go, cgo off: no C "
        "compiler inside, unlike the official image",
    ),
    BaseImage(
        JRE,
        "stagelab/offline-eclipse-temurin:17-jre",
        "the Debian stand-in plus Debian's OpenJDK 17 runtime (openjdk-17-jre-headless), "
        "JAVA_HOME /opt/java/openjdk; the official image is Ubuntu with Eclipse Temurin",
        "jre",
    ),
    BaseImage(
        JDK,
        "stagelab/offline-eclipse-temurin:17-jdk",
        "the JRE stand-in plus Debian's OpenJDK 17 compiler and tools "
        "(openjdk-17-jdk-headless); the official image is Ubuntu with Eclipse Temurin",
        "jdk",
    ),
    BaseImage(
        NODE,
        "stagelab/offline-node:18-bookworm-slim",
        "the Debian stand-in plus Debian's Node.js 18 and TypeScript compiler (tsc from "
        "node-typescript, which the official image lacks; it has npm, this one has none)",
        "node",
    ),
    BaseImage(
        NGINX,
        "stagelab/offline-nginx:1.22",
        "the Debian stand-in plus Debian bookworm's nginx 1.22, laid out as the official "
        "image (site in /usr/share/nginx/html, port 80, logs on the output)",
    ),
]
BY_OFFICIAL = {image.official: image for image in BASE_IMAGES + EXTRA_IMAGES}
# Official name -> the honest name of its offline stand-in.
STANDINS = {image.official: image.standin for image in BASE_IMAGES + EXTRA_IMAGES}


def labels(kind: str, **extra: str) -> dict[str, str]:
    """Return the labels that mark something as stagelab's, for this user."""
    return {LABEL: "stagelab", USER_LABEL: current_user(), KIND_LABEL: kind, **extra}


def current_user() -> str:
    """Return the login name labels record (the uid when there is none)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def require_engine() -> None:
    """Raise EngineUnavailable with the doctor's advice unless an engine answers (within 5 s)."""
    if not engine.answers():
        raise EngineUnavailable(engine.advice_no_engine())


def present(name: str) -> bool:
    """Tell whether the engine has an image under this name or id."""
    try:
        engine.client().images.get(name)
        return True
    except lazy.docker.errors.ImageNotFound:
        return False


def found_as(name: str) -> str | None:
    """Tell how this engine finds an image called `name` without pulling it, as its own lookup
    does (moby daemon/images/image.go `GetImage`, which the classic builder uses): "reference"
    when an image has that name, "id" when `name` starts the ID of exactly one image, None
    when it has none, `name` is no reference, or no engine answers within 5 seconds.
    """
    try:
        found = engine.client(timeout=5).api.inspect_image(name)
    except Exception:  # no such image, not a reference or no engine: nothing found here
        return None
    tagged = name if "@" in name or ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"
    names = {normalise(n) for n in (found.get("RepoTags") or []) + (found.get("RepoDigests") or [])}
    return "reference" if normalise(tagged) in names else "id"


def parse_dockerfile(text: str, *, engine_answers: bool | None = None) -> Dockerfile:
    """Parse Dockerfile text into a Dockerfile whose planner knows this engine's images.

    A builder looks a name that is no stage above as an image, and finds it when the engine
    has one (`found_as`), or when a stand-in serves it in stagelab's builds (`substitutions`):
    so `plan()` and `caveats()` then say what this engine does. Raises DockerfileError naming
    the line for text that does not parse; with no engine (Binder, the site), parses as
    Dockerfile(text) does, whose plan has no caveats: no engine was asked. `engine_answers`
    says whether an engine answers when the caller has just asked (None: ask here).
    """
    answers = engine.answers() if engine_answers is None else engine_answers
    if not answers:
        return Dockerfile(text)
    return Dockerfile(text, _found_or_served, image_platform=platform_of)


def platform_of(name: str) -> str | None:
    """Return the platform (`os/arch[/variant]`) of the image `name` finds on this engine, or
    of the stand-in that serves it in stagelab's builds; None when there is none."""
    served = substitutions([name]).get(name, name) if found_as(name) is None else name
    try:
        found = engine.client(timeout=5).api.inspect_image(served)
    except Exception:  # no such image or no engine: no platform to tell
        return None
    parts = (found.get("Os"), found.get("Architecture"), found.get("Variant"))
    return "/".join(p for p in parts if p) or None


def _found_or_served(name: str) -> str | None:
    found, image = found_as(name), BY_OFFICIAL.get(normalise(name))
    # A stand-in serves it, or (in a classroom) the class's archive will on first use.
    if found is None and image and (substitutions([name]) or class_archive(image.standin)):
        return "reference"
    return found


@functools.cache
def registry_answers() -> bool:
    """Ask the engine whether Docker Hub answers (cached for this process)."""
    try:
        engine.client(timeout=15).api.inspect_distribution(BUSYBOX)
        return True
    except Exception:  # any failure means no registry is reachable from here
        return False


def substitutions(names: list[str]) -> dict[str, str]:
    """Map each official name that must come from its stand-in to that stand-in.

    The official name is looked up on every call (a learner may pull or load it at any time);
    a stand-in is looked up once per process and engine (standin_present).
    """
    chosen = {}
    for name in names:
        image = BY_OFFICIAL.get(normalise(name))
        if image is None or present(name):
            continue
        if standin_present(image) and not registry_answers():
            chosen[name] = image.standin
    return chosen


# The stand-ins this process found, by engine address. Only stagelab makes and removes them
# (`stagelab images ensure`, `stagelab clean --all`), so once found one stays known until
# forget_standins(): `clean` calls it, and so does a failed build, in case one went by hand.
_standins_found: set[tuple[str, str]] = set()


def standin_present(image: BaseImage) -> bool:
    """Tell whether the engine has the image's offline stand-in (asked once, then known)."""
    found = (engine.docker_host(), image.standin)
    if found not in _standins_found and present(image.standin):
        _standins_found.add(found)
    return found in _standins_found


def forget_standins() -> None:
    """Make standin_present and inspect_image ask the engine again about stand-ins."""
    _standins_found.clear()
    _standins_inspected.clear()


# The engine's inspection of each stand-in this process read, by engine address: known like
# _standins_found. Any other image is asked each time, since its tag can move.
_standins_inspected: dict[tuple[str, str], dict] = {}


def inspect_image(name: str) -> dict | None:
    """Return the engine's inspection of an image (`docker image inspect`), None when it has
    none; a stand-in's is asked once per process and engine (until forget_standins)."""
    key = (engine.docker_host(), name)
    if key in _standins_inspected:
        return _standins_inspected[key]
    try:
        found = engine.client().api.inspect_image(name)
    except lazy.docker.errors.ImageNotFound:
        return None
    if name in STANDINS.values():
        _standins_inspected[key] = found
    return found


# The size of each image this process built, by engine address and image id. The id is the
# digest of the image's config, which names its layers: the size under an id never changes.
_sizes: dict[tuple[str, str], dict] = {}  # (engine, image id) -> what inspect said


def size_of(image_id: str) -> int:
    """Return the size in bytes of the image with this id (`sha256:...`), asked once per engine:
    a build that only hits the cache makes the same id again."""
    return inspected(image_id)["Size"]


def inspected(image_id: str, host: str | None = None) -> dict:
    """Return the engine's description of the image with this id (`docker image inspect`), on
    the CLI's engine or the one at `host`, asked once per engine and id (an id names content)."""
    key = (host or engine.docker_host(), image_id)
    if key not in _sizes:
        client = engine.client_at(host) if host else engine.client()
        _sizes[key] = client.api.inspect_image(image_id)
    return _sizes[key]


def by_name_only(name: str) -> str:
    """Return `name` as the classic builder must be given it to look it up as a name only.

    A FROM name that is no tag the classic builder also tries as the start of an image ID
    (Engine 28.5: `FROM 006` built on the one image whose ID began 006), so any image could
    stand in for `FROM 1`. A number, which no stage can be named, is written in full
    (`docker.io/library/1`), as BuildKit reads it; any other name is returned as it is.
    """
    return f"docker.io/library/{name}" if name.isdigit() else name


def normalise(name: str) -> str:
    """Drop the docker.io/library/ prefix from an image name."""
    for prefix in ("docker.io/library/", "docker.io/", "library/"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def status() -> list[dict]:
    """Describe each base image (the extra ones too): whether the official one or its
    stand-in is present.

    Raises EngineUnavailable, saying how to get one, when no engine answers.
    """
    require_engine()
    return [
        {
            "image": image.official,
            "official": present(image.official),
            "standin": image.standin,
            "standin_present": present(image.standin),
            "what": image.what,
        }
        for image in BASE_IMAGES + EXTRA_IMAGES
    ]


def explain_missing_image(reason: str, where: str = "") -> str:
    """Turn an engine's "cannot pull" error into advice naming the image and what to do.

    `where` is extra text that may name the image (a step's name). A COPY or ADD source the
    build context lacks gets the context's rule added (explain_context_source); other reasons
    come back stripped but unchanged.
    """
    if not any(w in reason for w in ("pull access denied", "no such host", "failed to resolve")):
        return explain_context_source(reason, where)
    last = reason.strip().splitlines()[-1]
    named = re.search(
        r"metadata for (?:docker\.io/library/)?([\w./-]+:[\w.-]+)", f"{where}\n{reason}"
    )
    image = normalise(named.group(1)) if named else None
    here = platform_of(image) if image and found_as(image) == "reference" else None
    if here is not None:
        # Only BuildKit fails so on an image the engine has: it was asked for another platform.
        written = next((i.official for i in BY_OFFICIAL.values() if i.standin == image), image)
        return (
            f"{last}\n  {written} is on this engine for {here} only, and BuildKit takes a local "
            "image only for the platform a stage asks for (FROM --platform, or the build's "
            "platform): it tried to pull the image for that platform. Drop --platform, ask for "
            f'{here}, or build with builder="classic", which takes the image it has.'
        )
    if image in BY_OFFICIAL:
        how = (
            f'`sl.fetch_images("{image}")` in the notebook, or `stagelab images ensure {image}`'
            if BY_OFFICIAL[image] in EXTRA_IMAGES
            else "`stagelab images ensure`"
        )
        return f"{last}\n  {image} is not on this engine and no registry answers: run {how}."
    names = ", ".join(BY_OFFICIAL)
    return (
        f"{last}\n  {image or 'An image'} is not on this engine and no registry answers: "
        f"use one of the base images ({names}), or `docker load` it first."
    )


# What each builder says of a COPY or ADD source that is not in the build context: BuildKit
# (it reads `../x` as `/x`, so leaving the context looks like a missing file), then the classic
# builder for `..` and for a missing file (moby builder/dockerfile/copy.go).
_CONTEXT_SOURCE = re.compile(
    r'failed to calculate checksum of ref \S+: "(?P<path>[^"]*)": not found'
    r"|forbidden path outside the build context: (?P<outside>\S+)"
    r"|file not found in build context or excluded by \.dockerignore: stat (?P<missing>\S+):"
)


def explain_context_source(reason: str, where: str = "") -> str:
    """Return an engine's failure `reason`, stripped, with the build context's rule added when
    it says a COPY or ADD source is not in the build context (either builder's words). `where`
    is the failing step's text when known: BuildKit says the same of a file `COPY --from` does
    not find in its stage, which gets no such rule."""
    if not _CONTEXT_SOURCE.search(reason) or "--from" in where.lower():
        return reason.strip()
    return (
        f"{reason.strip()}\n  COPY and ADD sources are paths inside the build context (the "
        "folder given to the build), relative to it; `..` cannot leave it (BuildKit reads ../x "
        "as /x), and .dockerignore may leave a file out. Put the file in the build context, or "
        "build from a folder that holds both."
    )
