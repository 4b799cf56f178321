"""Offline stand-ins for the base images, built from Debian packages; archives of them.

With no registry, `ensure_images()` builds each missing base image's stand-in under an honest name
(`stagelab/offline-busybox:1.36`, ...), labelled with what it stands in for and how it was made.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import engine
from .command_lines import buildx_build_command
from .errors import ImageUnavailable, ProvisionError
from .images import (
    BASE_IMAGES,
    BY_OFFICIAL,
    DEBIAN,
    STANDIN_RELEASE,
    STANDS_IN_LABEL,
    BaseImage,
    labels,
    present,
    registry_answers,
    require_engine,
)
from .provisioning import EnginePaths, PrivateApt, debian_mirror, run_command


@dataclass(frozen=True)
class Recipe:
    """How one stand-in is made: `prepare(work)` does what needs no engine (downloads,
    debootstrap) in a work folder, `make(work)` puts the image into the engine. `after` names
    the base images whose stand-ins must exist before `make`."""

    prepare: Callable[[BaseImage, Path], None] | None
    make: Callable[[BaseImage, Path], None]
    after: tuple[str, ...] = ()


def needed(names: list[str] | None = None) -> list[BaseImage]:
    """Return the base images that are neither present nor served by a present stand-in:
    of `names` (official names), or of every image `stagelab setup` makes (not those made on
    demand)."""
    chosen = [
        image
        for image in BASE_IMAGES
        if (image.official in names if names is not None else not image.on_demand)
    ]
    return [image for image in chosen if not present(image.official) and not present(image.standin)]


def ensure_images(say=print, names: list[str] | None = None) -> None:
    """Make base images usable: present, else pulled, else built as a stand-in; those of
    `names` (official names, with the stand-ins they are built on), or every one `stagelab
    setup` makes.

    `say` gets a line per image. Raises ImageUnavailable or ProvisionError when a stand-in
    cannot be built (building the Debian one needs root), EngineUnavailable with no engine.
    """
    require_engine()
    if names is not None:
        names = [*_built_on(names), *names]
    missing = needed(names)
    for image in BASE_IMAGES:
        if image.on_demand and (names is None or image.official not in names):
            continue
        if names is not None and image.official not in names:
            continue
        if image not in missing:
            say(
                f"images: {image.official} is present"
                if present(image.official)
                else f"images: {image.official} -> stand-in {image.standin} is present"
            )
        elif registry_answers() and image.official != image.standin:
            say(f"images: pulling {image.official}")
            engine.client().images.pull(image.official)
        else:
            say(f"images: no registry answers; building stand-in {image.standin} ({image.what})")
            make_standin(image)


def _built_on(names: list[str]) -> list[str]:
    """The official names of the stand-ins these are built on, deepest first."""
    found: list[str] = []
    for name in names:
        image = BY_OFFICIAL.get(name)
        for base in RECIPES[image.recipe].after if image else ():
            found = [*_built_on([base]), *found, base]
    return list(dict.fromkeys(found))


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


_apt_lock = threading.Lock()  # one private apt configuration: one update or download at a time


def debian_packages(
    packages: list[str], into: Path, architectures: tuple[str, ...] = ()
) -> list[Path]:
    """Download Debian packages of the stand-ins' release into a folder; return their paths.

    `architectures` lists Debian architectures to fetch besides this machine's (a package
    names its own as `busybox-static:arm64`). Raises ProvisionError when apt-get fails.
    """
    with _apt_lock:
        apt_home = EnginePaths.from_environment().apt_home
        folder = "-".join([STANDIN_RELEASE, *architectures])
        apt = PrivateApt(
            home=apt_home / folder, suites=[STANDIN_RELEASE], architectures=list(architectures)
        )
        return apt.download(packages, into)


def deb_field(deb: Path, name: str) -> str:
    """Return one field of a .deb's control data ("Version", "Architecture")."""
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=False
    ).stdout.strip()


def standin_labels(image: BaseImage, made_from: str, version: str) -> dict[str, str]:
    """Return the labels of a stand-in: what it stands in for, what it was made from, when."""
    created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return labels(
        "standin",
        **{
            STANDS_IN_LABEL: image.official,
            "org.opencontainers.image.title": image.standin,
            "org.opencontainers.image.description": (
                f"Offline stand-in for {image.official}, not the official image: {image.what}."
            ),
            "org.opencontainers.image.version": version,
            "org.opencontainers.image.created": created,
            "io.stagelab.made-from": made_from,
        },
    )


def _build_dockerfile(tag: str, dockerfile: str, context: Path, image_labels: dict) -> None:
    (context / "Dockerfile").write_text(dockerfile)
    command = buildx_build_command(context, progress="plain", tags=tag, labels=image_labels)
    run_command(command, f"build the stand-in {tag}")


def _prepare_busybox(image: BaseImage, work: Path) -> None:
    (deb,) = debian_packages(["busybox-static"], work / "debs")
    run_command(["dpkg", "-x", str(deb), str(work / "root")], "unpack busybox-static")
    shutil.copy2(work / "root/bin/busybox", work / "busybox")
    shutil.rmtree(work / "root")
    (work / "version").write_text(deb_field(deb, "Version"))


def _make_busybox(image: BaseImage, work: Path) -> None:
    version = (work / "version").read_text()
    _build_dockerfile(
        image.standin,
        "FROM scratch\nCOPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["sh"]\n',
        work,
        standin_labels(image, f"Debian busybox-static {version}", version),
    )


# What the official slim images leave out (see their dpkg excludes).
SLIM_EXCLUDES = """path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
"""


def _debootstrap_command(work: Path) -> tuple[list[str], dict]:
    if shutil.which("debootstrap"):
        return ["debootstrap"], dict(os.environ)
    (deb,) = debian_packages(["debootstrap"], work / "debs")
    run_command(["dpkg", "-x", str(deb), str(work / "tool")], "unpack debootstrap")
    env = {**os.environ, "DEBOOTSTRAP_DIR": str(work / "tool/usr/share/debootstrap")}
    return [str(work / "tool/usr/sbin/debootstrap")], env


def _prepare_debian(image: BaseImage, work: Path) -> None:
    if os.geteuid() != 0:
        raise ImageUnavailable(
            f"Building the stand-in {image.standin} needs root (debootstrap). "
            "Run `sudo stagelab images ensure`, or import an archive from "
            "your instructor with `stagelab images import FILE`."
        )
    command, env = _debootstrap_command(work)
    root = work / "rootfs"
    run_command(
        [*command, "--variant=minbase", STANDIN_RELEASE, str(root), debian_mirror()],
        "debootstrap a Debian root file system",
        env=env,
    )
    (root / "etc/dpkg/dpkg.cfg.d/docker").write_text(SLIM_EXCLUDES)
    for pattern in [
        "usr/share/doc/*",
        "usr/share/man/*",
        "usr/share/info/*",
        "usr/share/locale/*",
        "var/lib/apt/lists/*",
        "var/cache/apt/*.bin",
        "var/cache/apt/archives/*.deb",
        "var/log/*.log",
        "var/log/apt/*",
    ]:
        for path in root.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.name != "copyright":
                path.unlink()


def _make_debian(image: BaseImage, work: Path) -> None:
    root = work / "rootfs"
    version = (root / "etc/debian_version").read_text().strip()
    image_labels = standin_labels(
        image, f"debootstrap --variant=minbase {STANDIN_RELEASE}", version
    )
    # JSON strings are valid Dockerfile words: a label value never becomes an instruction.
    changes = ['CMD ["bash"]'] + [
        f"LABEL {json.dumps(k)}={json.dumps(v)}" for k, v in image_labels.items()
    ]
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    command = (
        ["docker", "import"] + [x for c in changes for x in ("--change", c)] + ["-", image.standin]
    )
    done = subprocess.run(command, stdin=tar.stdout, capture_output=True, text=True, check=False)
    tar.wait()
    if done.returncode != 0:
        raise ProvisionError(f"Could not import the Debian root file system: {done.stderr}")


def _make_on_debian(image: BaseImage, work: Path, packages: list[str], extra: str) -> None:
    debian = BY_OFFICIAL[DEBIAN]
    dockerfile = (
        f"FROM {debian.standin}\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends "
        f"{' '.join(packages)} && rm -rf /var/lib/apt/lists/*{extra}\n"
    )
    _build_dockerfile(
        image.standin,
        dockerfile,
        work,
        standin_labels(image, f"{debian.standin} + Debian {', '.join(packages)}", STANDIN_RELEASE),
    )


def _make_gcc(image: BaseImage, work: Path) -> None:
    _make_on_debian(image, work, ["gcc", "libc6-dev", "make"], "")


def _make_python(image: BaseImage, work: Path) -> None:
    _make_on_debian(
        image,
        work,
        ["python3", "python3-venv", "python3-pip"],
        " && ln -s /usr/bin/python3 /usr/local/bin/python"
        " && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED",
    )


def _make_cross_gcc(image: BaseImage, work: Path) -> None:
    # Debian's cross compiler for each architecture of CROSS_ARCHITECTURES that is not this
    # machine's (whose own gcc already answers to its triplet name, x86_64-linux-gnu-gcc).
    native = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=False
    ).stdout.strip()
    cross = [
        package
        for arch, packages in CROSS_PACKAGES.items()
        if arch != native
        for package in packages
    ]
    _make_on_debian(image, work, ["gcc", "libc6-dev", "make", *cross], "")


# Debian's cross compiler and C library for each architecture the toolchain image targets.
CROSS_PACKAGES = {
    "amd64": ["gcc-x86-64-linux-gnu", "libc6-dev-amd64-cross"],
    "arm64": ["gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"],
}

RECIPES = {
    "busybox": Recipe(_prepare_busybox, _make_busybox),
    "debian": Recipe(_prepare_debian, _make_debian),
    "gcc": Recipe(None, _make_gcc, after=(DEBIAN,)),
    "python": Recipe(None, _make_python, after=(DEBIAN,)),
    "cross-gcc": Recipe(None, _make_cross_gcc, after=(DEBIAN,)),
}


def export(path: str | Path, say=print) -> list[str]:
    """Save every base image that is present (official or stand-in) into one archive.

    Returns the image names saved. Raises ImageUnavailable when there is none to save,
    EngineUnavailable with no engine.
    """
    require_engine()
    names = list(
        dict.fromkeys(
            name
            for image in BASE_IMAGES
            for name in (image.official, image.standin)
            if present(name)
        )
    )
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
