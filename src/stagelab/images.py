"""Base images: official names, offline stand-ins built from Debian packages, labels, cleanup."""

from __future__ import annotations

import datetime
import functools
import getpass
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import docker

from . import engine
from .errors import ImageUnavailable, ProvisionError

LABEL = "io.stagelab.created-by"
USER_LABEL = "io.stagelab.user"
KIND_LABEL = "io.stagelab.kind"
STANDS_IN_LABEL = "io.stagelab.stands-in-for"
STANDIN_RELEASE = "bookworm"


@dataclass(frozen=True)
class BaseImage:
    """An official image the lessons use, and the honest name of its offline stand-in."""

    official: str
    standin: str
    what: str

    @property
    def recipe(self) -> str:
        return self.official.split(":")[0]


BUSYBOX = "busybox:1.36"
DEBIAN = "debian:bookworm-slim"
GCC = "gcc:12-bookworm"
PYTHON = "python:3.11-slim-bookworm"

BASE_IMAGES = [
    BaseImage(BUSYBOX, "stagelab/offline-busybox:1.36",
              "a 2 MB shell image: busybox-static from Debian in a FROM scratch image"),
    BaseImage(DEBIAN, "stagelab/offline-debian:bookworm-slim",
              "debootstrap --variant=minbase bookworm, slimmed as the official image is"),
    BaseImage(GCC, "stagelab/offline-gcc:12-bookworm",
              "the Debian stand-in plus Debian's gcc 12, libc6-dev and make"),
    BaseImage(PYTHON, "stagelab/offline-python:3.11-slim-bookworm",
              "the Debian stand-in plus Debian's Python 3.11 with venv and pip"),
]
BY_OFFICIAL = {image.official: image for image in BASE_IMAGES}


def labels(kind: str, **extra: str) -> dict[str, str]:
    """Return the labels that mark something as stagelab's, for this user."""
    return {LABEL: "stagelab", USER_LABEL: current_user(), KIND_LABEL: kind, **extra}


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return str(os.getuid())


def present(name: str) -> bool:
    """Tell whether the engine has an image under this name."""
    import docker

    try:
        engine.client().images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


@functools.lru_cache(maxsize=None)
def registry_answers() -> bool:
    """Ask the engine whether Docker Hub answers (cached for this process)."""
    try:
        engine.client(timeout=15).api.inspect_distribution(BUSYBOX)
        return True
    except Exception:
        return False


def substitutions(names: list[str]) -> dict[str, str]:
    """Map each official name that must come from its stand-in to that stand-in."""
    chosen = {}
    for name in names:
        image = BY_OFFICIAL.get(normalise(name))
        if image is None or present(name):
            continue
        if present(image.standin) and not registry_answers():
            chosen[name] = image.standin
    return chosen


def normalise(name: str) -> str:
    """Drop the docker.io/library/ prefix from an image name."""
    for prefix in ("docker.io/library/", "docker.io/", "library/"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def status() -> list[dict]:
    """Describe each base image: whether the official one or its stand-in is present."""
    return [{"image": image.official, "official": present(image.official),
             "standin": image.standin, "standin_present": present(image.standin),
             "what": image.what} for image in BASE_IMAGES]


def ensure(say=print) -> None:
    """Make every base image usable: present, else pulled, else built as a stand-in."""
    for image in BASE_IMAGES:
        if present(image.official):
            say(f"images: {image.official} is present")
        elif present(image.standin):
            say(f"images: {image.official} -> stand-in {image.standin} is present")
        elif registry_answers():
            say(f"images: pulling {image.official}")
            engine.client().images.pull(image.official)
        else:
            say(f"images: no registry answers; building stand-in {image.standin} "
                f"({image.what})")
            _BUILDERS[image.recipe](image)


def _debian_packages(packages: list[str], into: Path) -> list[Path]:
    apt = engine.PrivateApt(home=engine.APT_HOME / STANDIN_RELEASE, suites=[STANDIN_RELEASE])
    return apt.download(packages, into)


def _deb_version(deb: Path) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True,
                          text=True).stdout.strip()


def _standin_labels(image: BaseImage, made_from: str, version: str) -> dict[str, str]:
    created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return labels("standin", **{
        STANDS_IN_LABEL: image.official,
        "org.opencontainers.image.title": image.standin,
        "org.opencontainers.image.description":
            f"Offline stand-in for {image.official}, not the official image: {image.what}.",
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.created": created,
        "io.stagelab.made-from": made_from,
    })


def _build_dockerfile(tag: str, dockerfile: str, context: Path, image_labels: dict) -> None:
    (context / "Dockerfile").write_text(dockerfile)
    command = ["docker", "buildx", "build", "--progress=plain", "-t", tag, str(context)]
    for key, value in image_labels.items():
        command += ["--label", f"{key}={value}"]
    engine.run(command, f"build the stand-in {tag}")


def _build_busybox(image: BaseImage) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (deb,) = _debian_packages(["busybox-static"], Path(tmp) / "debs")
        engine.run(["dpkg", "-x", str(deb), f"{tmp}/root"], "unpack busybox-static")
        shutil.copy2(f"{tmp}/root/bin/busybox", f"{tmp}/busybox")
        shutil.rmtree(f"{tmp}/root")
        version = _deb_version(deb)
        _build_dockerfile(image.standin, "FROM scratch\nCOPY busybox /bin/busybox\n"
                          'RUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["sh"]\n',
                          Path(tmp), _standin_labels(image, f"Debian busybox-static {version}",
                                                     version))


# What the official slim images leave out (see their dpkg excludes).
SLIM_EXCLUDES = """path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
"""


def _debootstrap_command(tmp: Path) -> tuple[list[str], dict]:
    if shutil.which("debootstrap"):
        return ["debootstrap"], dict(os.environ)
    (deb,) = _debian_packages(["debootstrap"], tmp / "debs")
    engine.run(["dpkg", "-x", str(deb), str(tmp / "tool")], "unpack debootstrap")
    env = {**os.environ, "DEBOOTSTRAP_DIR": str(tmp / "tool/usr/share/debootstrap")}
    return [str(tmp / "tool/usr/sbin/debootstrap")], env


def _build_debian(image: BaseImage) -> None:
    if os.geteuid() != 0:
        raise ImageUnavailable(f"Building the stand-in {image.standin} needs root (debootstrap). "
                               "Run `sudo stagelab images ensure`, or import an archive from "
                               "your instructor with `stagelab images import FILE`.")
    with tempfile.TemporaryDirectory(dir="/var/tmp") as name:
        tmp = Path(name)
        command, env = _debootstrap_command(tmp)
        root = tmp / "rootfs"
        engine.run([*command, "--variant=minbase", STANDIN_RELEASE, str(root),
                    engine.debian_mirror()], "debootstrap a Debian root file system", env=env)
        (root / "etc/dpkg/dpkg.cfg.d/docker").write_text(SLIM_EXCLUDES)
        for pattern in ["usr/share/doc/*", "usr/share/man/*", "usr/share/info/*",
                        "usr/share/locale/*", "var/lib/apt/lists/*", "var/cache/apt/*.bin",
                        "var/cache/apt/archives/*.deb", "var/log/*.log", "var/log/apt/*"]:
            for path in root.glob(pattern):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                elif path.name != "copyright":
                    path.unlink()
        version = (root / "etc/debian_version").read_text().strip()
        changes = ['CMD ["bash"]'] + [f'LABEL "{k}"="{v}"' for k, v in
                                      _standin_labels(image, "debootstrap --variant=minbase "
                                                      f"{STANDIN_RELEASE}", version).items()]
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        command = ["docker", "import"] + [x for c in changes for x in ("--change", c)] + \
            ["-", image.standin]
        done = subprocess.run(command, stdin=tar.stdout, capture_output=True, text=True)
        tar.wait()
        if done.returncode != 0:
            raise ProvisionError(f"Could not import the Debian root file system: {done.stderr}")


def _build_on_debian(image: BaseImage, packages: list[str], extra: str) -> None:
    debian = BY_OFFICIAL[DEBIAN]
    if not present(debian.standin):
        _build_debian(debian)
    dockerfile = (f"FROM {debian.standin}\n"
                  "RUN apt-get update && apt-get install -y --no-install-recommends "
                  f"{' '.join(packages)} && rm -rf /var/lib/apt/lists/*{extra}\n")
    with tempfile.TemporaryDirectory() as tmp:
        _build_dockerfile(image.standin, dockerfile, Path(tmp),
                          _standin_labels(image, f"{debian.standin} + Debian "
                                          f"{', '.join(packages)}", STANDIN_RELEASE))


def _build_gcc(image: BaseImage) -> None:
    _build_on_debian(image, ["gcc", "libc6-dev", "make"], "")


def _build_python(image: BaseImage) -> None:
    _build_on_debian(image, ["python3", "python3-venv", "python3-pip"],
                     " && ln -s /usr/bin/python3 /usr/local/bin/python"
                     " && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED")


_BUILDERS = {"busybox": _build_busybox, "debian": _build_debian, "gcc": _build_gcc,
             "python": _build_python}


def export(path: str | Path, say=print) -> list[str]:
    """Save every base image that is present (official or stand-in) into one archive."""
    names = [name for image in BASE_IMAGES for name in (image.official, image.standin)
             if present(name)]
    if not names:
        raise ImageUnavailable("No base images to export: run `stagelab images ensure` first.")
    engine.run(["docker", "image", "save", "-o", str(path), *names], "save the base images")
    say(f"images: saved {', '.join(names)} to {path}")
    return names


def import_(path: str | Path, say=print) -> None:
    """Load an archive made by export()."""
    if not Path(path).exists():
        raise ImageUnavailable(f"No archive at {path}: ask your instructor for the file made "
                               "by `stagelab images export`.")
    done = engine.run(["docker", "image", "load", "-i", str(path)], "load the base images")
    say(done.stdout.strip())


def clean(include_base: bool = False, say=print) -> dict[str, int]:
    """Remove only the containers and images that stagelab created for this user."""
    client = engine.client()

    def mine(kind: str) -> dict:
        # Labels are inherited from base images, so the kind label is set on every
        # build and container stagelab makes, and matched here exactly.
        return {"label": [f"{LABEL}=stagelab", f"{USER_LABEL}={current_user()}",
                          f"{KIND_LABEL}={kind}"]}

    containers = client.containers.list(all=True, filters=mine("container"))
    for container in containers:
        container.remove(force=True)
    images = client.images.list(all=True, filters=mine("build"))
    if include_base:
        images += [client.images.get(image.standin) for image in BASE_IMAGES
                   if present(image.standin)]
    removed, pending = 0, {image.id for image in images}
    while pending:
        # An image with children cannot go first: each pass removes the newest layer of
        # stagelab's images, until a pass removes nothing more.
        progress = False
        for image_id in sorted(pending):
            try:
                client.images.remove(image_id, force=True)
                removed += 1
                progress = True
                pending.discard(image_id)
            except docker.errors.ImageNotFound:
                pending.discard(image_id)
            except docker.errors.APIError:
                continue
        if not progress:
            break
    if pending:
        say(f"clean: {len(pending)} images stay because images stagelab did not make "
            "are built on them")
    say(f"clean: removed {len(containers)} containers and {removed} images made by stagelab")
    return {"containers": len(containers), "images": removed}
