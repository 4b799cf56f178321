"""How each offline stand-in is made from Debian packages: the recipes, their labels, and the
Dockerfiles that build them (standins.py decides which to make, and when).

A stand-in is honest about what it is: its name is `stagelab/offline-...`, never the official
one, and its OCI labels say what it stands in for, which Debian packages made it and how it
differs. Each recipe keeps the image lean: `--no-install-recommends`, and the Debian stand-in's
dpkg excludes (no documentation, man pages or locales) hold for every image built on it.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .command_lines import buildx_build_command
from .errors import ImageUnavailable, ProvisionError
from .images import (
    BY_OFFICIAL,
    DEBIAN,
    JRE,
    STANDIN_RELEASE,
    STANDS_IN_LABEL,
    BaseImage,
    labels,
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


def _debian_packages(packages: list[str], into: Path) -> list[Path]:
    return debian_packages(packages, into)


def deb_field(deb: Path, name: str) -> str:
    """Return one field of a .deb's control data ("Version", "Architecture")."""
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=False
    ).stdout.strip()


def _deb_version(deb: Path) -> str:
    return deb_field(deb, "Version")


def standin_labels(image: BaseImage, made_from: str, version: str) -> dict[str, str]:
    """Return the labels of a stand-in: what it stands in for, what it was made from, when."""
    return _standin_labels(image, made_from, version)


def _standin_labels(image: BaseImage, made_from: str, version: str) -> dict[str, str]:
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
    (deb,) = _debian_packages(["busybox-static"], work / "debs")
    run_command(["dpkg", "-x", str(deb), str(work / "root")], "unpack busybox-static")
    shutil.copy2(work / "root/bin/busybox", work / "busybox")
    shutil.rmtree(work / "root")
    (work / "version").write_text(_deb_version(deb))


def _make_busybox(image: BaseImage, work: Path) -> None:
    version = (work / "version").read_text()
    _build_dockerfile(
        image.standin,
        "FROM scratch\nCOPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["sh"]\n',
        work,
        _standin_labels(image, f"Debian busybox-static {version}", version),
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
    (deb,) = _debian_packages(["debootstrap"], work / "debs")
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
    image_labels = _standin_labels(
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


def _make_on_debian(
    image: BaseImage,
    work: Path,
    packages: list[str],
    shell: str = "",
    instructions: str = "",
    base: str = DEBIAN,
    lean: bool = True,
) -> None:
    """Build a stand-in FROM another stand-in (the Debian one by default) plus Debian packages.

    `shell` runs after the install in the same RUN; `instructions` follow it (ENV, WORKDIR,
    CMD ...). `lean` drops apt's caches too (about 80 MB: the package caches apt-get update
    writes and the downloaded .deb files), as the official images do (their docker-clean apt
    configuration); the gcc and python stand-ins predate it and keep them, so that their sizes
    stay what the lessons measured. The labels name each package with the version Debian
    served, read from the image (dpkg-query) once it is built, so the image is built, asked,
    then labelled.
    """
    under = BY_OFFICIAL[base].standin
    building = f"{image.standin}-unlabelled"
    # The Debian stand-in drops man pages: some packages' scripts still write links there.
    dockerfile = (
        f"FROM {under}\n"
        "RUN mkdir -p /usr/share/man/man1 && apt-get update "
        f"&& apt-get install -y --no-install-recommends {' '.join(packages)} "
        + ("&& apt-get clean && rm -rf /var/cache/apt/*.bin " if lean else "")
        + f"&& rm -rf /var/lib/apt/lists/* /usr/share/man/*{shell}\n{instructions}"
    )
    _build_dockerfile(building, dockerfile, work, labels("standin"))
    try:
        listed = run_command(
            [
                "docker",
                "run",
                "--rm",
                "--entrypoint",
                "dpkg-query",
                building,
                "-W",
                "-f",
                "${Package} ${Version}\n",
                *packages,
            ],
            f"read the package versions of {building}",
        ).stdout
        versions = dict(line.split(" ", 1) for line in listed.splitlines() if " " in line)
        served = ", ".join(f"{name} {versions.get(name, '?')}" for name in packages)
        main = versions.get(packages[0], STANDIN_RELEASE)
        _build_dockerfile(
            image.standin,
            f"FROM {building}\n",
            work,
            _standin_labels(image, f"{under} + Debian {STANDIN_RELEASE} {served}", main),
        )
    finally:
        subprocess.run(["docker", "image", "rm", building], capture_output=True, check=False)


def _make_gcc(image: BaseImage, work: Path) -> None:
    _make_on_debian(image, work, ["gcc", "libc6-dev", "make"], lean=False)


def _make_python(image: BaseImage, work: Path) -> None:
    _make_on_debian(
        image,
        work,
        ["python3", "python3-venv", "python3-pip"],
        " && ln -s /usr/bin/python3 /usr/local/bin/python"
        " && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED",
        lean=False,
    )


def _make_golang(image: BaseImage, work: Path) -> None:
    # As the official image: GOPATH /go, its bin on PATH, /go the working folder. Without a C
    # compiler inside, cgo is off (the official image has gcc and leaves it on).
    _make_on_debian(
        image,
        work,
        ["golang-1.19-go", "golang-go"],
        " && mkdir -p /go/bin /go/src",
        "ENV GOPATH=/go CGO_ENABLED=0\nENV PATH=/go/bin:$PATH\nWORKDIR /go\n",
    )


# The JDKs of the eclipse-temurin images live in /opt/java/openjdk, JAVA_HOME names it.
_JAVA_HOME = "ENV JAVA_HOME=/opt/java/openjdk\nENV PATH=/opt/java/openjdk/bin:$PATH\n"


def _make_jre(image: BaseImage, work: Path) -> None:
    _make_on_debian(
        image,
        work,
        ["openjdk-17-jre-headless"],
        " && mkdir -p /opt/java && ln -s /usr/lib/jvm/java-17-openjdk-* /opt/java/openjdk",
        _JAVA_HOME + 'CMD ["jshell"]\n',
    )


def _make_jdk(image: BaseImage, work: Path) -> None:
    _make_on_debian(image, work, ["openjdk-17-jdk-headless"], "", 'CMD ["jshell"]\n', base=JRE)


def _make_node(image: BaseImage, work: Path) -> None:
    # tsc is Debian's TypeScript compiler: the official image has none (`npm install -g
    # typescript` adds it there), and no npm comes with Debian's nodejs.
    _make_on_debian(image, work, ["nodejs", "node-typescript"], "", 'CMD ["node"]\n')


# The official nginx image's layout: its site in conf.d serving /usr/share/nginx/html on port
# 80, the logs on the container's output, nginx in the foreground.
NGINX_SITE = r"""server {
    listen 80;
    server_name localhost;
    location / {
        root /usr/share/nginx/html;
        index index.html index.htm;
    }
}
"""


def _make_nginx(image: BaseImage, work: Path) -> None:
    (work / "default.conf").write_text(NGINX_SITE)
    _make_on_debian(
        image,
        work,
        ["nginx"],
        " && rm -f /etc/nginx/sites-enabled/default"
        " && ln -sf /dev/stdout /var/log/nginx/access.log"
        " && ln -sf /dev/stderr /var/log/nginx/error.log",
        "COPY default.conf /etc/nginx/conf.d/default.conf\nEXPOSE 80\nSTOPSIGNAL SIGQUIT\n"
        'CMD ["nginx", "-g", "daemon off;"]\n',
    )


def _make_cross_gcc(image: BaseImage, work: Path) -> None:
    # Debian's cross compiler for each architecture of CROSS_PACKAGES that is not this
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
    _make_on_debian(image, work, ["gcc", "libc6-dev", "make", *cross], lean=False)


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
    "golang": Recipe(None, _make_golang, after=(DEBIAN,)),
    "jre": Recipe(None, _make_jre, after=(DEBIAN,)),
    "jdk": Recipe(None, _make_jdk, after=(DEBIAN, JRE)),
    "node": Recipe(None, _make_node, after=(DEBIAN,)),
    "nginx": Recipe(None, _make_nginx, after=(DEBIAN,)),
    "cross-gcc": Recipe(None, _make_cross_gcc, after=(DEBIAN,)),
}
