"""Where builds go that the docker driver refuses without the containerd image store: several
platforms in one build, a platform other than the engine's own, and cache export.

Docker's docker driver builds those only on an engine whose images live in the containerd image
store (https://docs.docker.com/engine/storage/containerd/; measured on Engine 28.5:
"Multi-platform build is not supported for the docker driver. Switch to a different driver, or
turn on the containerd image store"). Docker Desktop and fresh installs of Engine 29 have that
store; the engine stagelab provisions keeps overlay2, whose image IDs, intermediate images and
classic builder the other lessons and the planner's truth tests are about. So such builds go,
in order, to: the CLI's own engine when it has the store; else stagelab's own second engine
(`PlatformEngine`: the same binaries, `"containerd-snapshotter": true`, its own data root,
socket and network namespace), started on demand where stagelab may provision (root on
Debian); else nowhere, with advice.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import class_images, engine, images, recipes, standins
from .command_lines import buildx_build_command
from .dockerfile import machine_platform
from .dockerfile.platforms import split_platform
from .errors import ProvisionError, StagelabError
from .provisioning import EnginePaths, Provisioner, run_command

PLATFORM_HOME_ENV = "STAGELAB_PLATFORM_ENGINE_HOME"
PLATFORM_RUN_ENV = "STAGELAB_PLATFORM_ENGINE_RUN"
START_TIMEOUT_S = 90
# The CPU architectures stagelab makes stand-ins for (Debian's names are the same).
ARCHITECTURES = ("amd64", "arm64")
NEEDS_THE_STORE = (
    "Several platforms in one build, a platform other than the engine's own, and cache "
    "export (--cache-to) need the containerd image store with Docker's docker driver."
)
TURN_THE_STORE_ON = (
    "Docker Desktop: Settings > General > 'Use containerd for pulling and storing images'. "
    'Docker Engine: add "features": {"containerd-snapshotter": true} to /etc/docker/daemon.json '
    "and restart dockerd (images of the old store are hidden while the new one is on). Or "
    "build one platform at a time for this machine's own platform."
)


@dataclass(frozen=True)
class PlatformEnginePaths:
    """Where stagelab's second engine keeps its data (`home`: data root and daemon.json), its
    runtime files (`run`: exec root, pid file, socket), and its log."""

    home: Path = Path("/var/lib/stagelab/platform-engine")
    run: Path = Path("/run/stagelab/platform-engine")
    log: Path = Path("/var/log/stagelab/dockerd-platforms.log")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> PlatformEnginePaths:
        """Return the paths as STAGELAB_PLATFORM_ENGINE_HOME and _RUN move them now."""
        environ = os.environ if environ is None else environ
        default = cls()
        home = Path(environ.get(PLATFORM_HOME_ENV) or default.home)
        run = Path(environ.get(PLATFORM_RUN_ENV) or default.run)
        log = default.log if PLATFORM_HOME_ENV not in environ else home / "dockerd.log"
        return cls(home, run, log)

    @property
    def host(self) -> str:
        """Return the engine's address, as DOCKER_HOST takes it."""
        return f"unix://{self.run / 'docker.sock'}"

    def dockerd_command(self, binaries: Path) -> list[str]:
        """Return the command that starts this engine in a network namespace of its own.

        Its own namespace keeps its bridge and firewall rules away from the host's (a second
        dockerd in the host's namespace would reconfigure the first one's docker0)."""
        return [
            "unshare",
            "--net",
            str(binaries / "dockerd"),
            "--config-file",
            str(self.home / "daemon.json"),
            "--data-root",
            str(self.home / "docker"),
            "--exec-root",
            str(self.run / "exec"),
            "--pidfile",
            str(self.run / "dockerd.pid"),
            "--host",
            self.host,
        ]


def needs_containerd_store(platforms: Sequence[str], caches: Sequence) -> bool:
    """Tell whether a build with these platforms and cache specs needs the containerd image
    store with the docker driver: several platforms, another than this machine's, or a cache
    to export or import (an import finds its steps only on an engine of the store that
    exported them: an overlay2 engine matched none of a containerd engine's, measured)."""
    native = split_platform(machine_platform())
    foreign = [p for p in platforms if split_platform(p) != native]
    return len(platforms) > 1 or bool(foreign) or bool(caches)


def build_host(
    platforms: Sequence[str], caches: Sequence, image_store: str | None = None, say=print
) -> str | None:
    """Return the engine address a BuildKit build must use: None for the CLI's own engine.
    `image_store="containerd"` asks for the containerd image store whatever the build.

    Raises StagelabError saying what the user's Docker needs when the build needs the
    containerd image store, the CLI's engine lacks it and stagelab may not start its own.
    """
    wanted = image_store == "containerd" or needs_containerd_store(platforms, caches)
    if not wanted or engine.containerd_store():
        return None
    return PlatformEngine().ensure(say)


def empty_build_cache(own_engine: bool = False, say=print) -> None:
    """Empty the build cache of the engine that exports caches, as a new CI machine's is.

    That is stagelab's platform engine, which only stagelab uses; on your own engine (when it
    has the containerd image store) it removes your build cache too, so only with
    `own_engine=True`. With no engine it does nothing (builds replay their recordings).
    Raises StagelabError on your own engine without `own_engine`, and where no engine with
    the containerd image store can be had.
    """
    if not engine.answers():
        return
    if engine.containerd_store():
        if not own_engine:
            raise StagelabError(
                f"The engine at {engine.docker_host()} is your own: emptying its build cache "
                "slows your next builds. Pass own_engine=True to empty it anyway."
            )
        environment = None
    else:
        environment = _at(PlatformEngine().ensure(say))
    run_command(
        ["docker", "buildx", "prune", "--all", "--force"],
        "empty the build cache",
        env=environment,
    )


class PlatformEngine:
    """stagelab's second engine, with the containerd image store, for multi-platform builds."""

    def __init__(self, paths: PlatformEnginePaths | None = None):
        self.paths = paths or PlatformEnginePaths.from_environment()

    @property
    def host(self) -> str:
        """Return its address (`unix:///run/stagelab/platform-engine/docker.sock`)."""
        return self.paths.host

    def answers(self) -> bool:
        """Tell whether it runs and answers (within 5 seconds)."""
        try:
            return engine.client_at(self.host, 5).ping()
        except Exception:  # any failure to answer means it does not run
            return False

    def ensure(self, say=print) -> str:
        """Start it unless it answers; return its address.

        Raises StagelabError with advice where stagelab may not provision (not root on
        Debian), ProvisionError when it does not start.
        """
        if self.answers():
            return self.host
        binaries = EnginePaths.from_environment()
        if not engine.can_provision():
            raise StagelabError(
                f"{NEEDS_THE_STORE} The engine at {engine.docker_host()} has the classic "
                f"image store, and stagelab starts an engine of its own only as root on "
                f"Debian. {TURN_THE_STORE_ON}"
            )
        provisioner = Provisioner(say=say, paths=binaries)
        if not provisioner.unpacked():
            provisioner.install_engine()
        self.start(binaries.bin, say)
        return self.host

    def start(self, binaries: Path, say=print) -> None:
        """Start dockerd from `binaries` with the containerd image store, in the background;
        wait until it answers. Raises ProvisionError when it does not within 90 s."""
        paths = self.paths
        for folder in (paths.home, paths.run, paths.log.parent):
            folder.mkdir(parents=True, exist_ok=True)
        (paths.home / "daemon.json").write_text(
            json.dumps({"features": {"containerd-snapshotter": True}}) + "\n"
        )
        say(f"platform engine: starting dockerd with the containerd image store at {self.host}")
        env = {**os.environ, "PATH": f"{binaries}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        with open(paths.log, "ab") as log:
            subprocess.Popen(
                paths.dockerd_command(binaries),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.answers():
                return
            time.sleep(0.5)
        tail = "\n".join(paths.log.read_text(errors="replace").splitlines()[-15:])
        raise ProvisionError(
            f"stagelab's platform engine did not answer within {START_TIMEOUT_S} s. "
            f"Its log ({paths.log}) ends with:\n{tail}"
        )


def substitutions_on(host: str | None, names: Sequence[str], say=print) -> dict[str, str]:
    """Make the stand-ins these image names need usable on the engine at `host` (None: the
    CLI's own) and return {official name: stand-in}, as images.substitutions does there.

    On another engine than the CLI's: busybox's stand-in is built there for every architecture
    of ARCHITECTURES from Debian's busybox-static of each (no RUN, so no emulator); the others
    are copied from the CLI's engine (`docker save | docker load`), built there first if
    missing. On the CLI's engine, a base image the engine lacks and the classroom has is
    loaded from the class's images first (class_images.py); images stagelab makes only on
    demand (BaseImage.on_demand: its cross-gcc) are made there first when missing, so a lab or
    a Dockerfile that names one builds without a lesson having fetched it. Raises
    ImageUnavailable or ProvisionError when a stand-in cannot be made.
    """
    if host is None:
        known = [images.BY_OFFICIAL.get(images.normalise(name)) for name in names]
        known = [image for image in known if image is not None]
        for image in known:
            class_images.load_on_first_use(image, say)
        on_demand = [
            image.official
            for image in known
            if image.on_demand and not images.present(image.standin)
        ]
        if on_demand:
            standins.ensure_images(say=say, extras=on_demand)
        return images.substitutions(list(names))
    client = engine.client_at(host)
    chosen = {}
    for name in names:
        image = images.BY_OFFICIAL.get(images.normalise(name))
        if image is None or _present(client, name) or images.registry_answers():
            continue
        if not _present(client, image.standin):
            if image.recipe == "busybox":
                say(f"images: building {image.standin} for {', '.join(ARCHITECTURES)} at {host}")
                make_multiarch_busybox(image, host)
            else:
                say(f"images: copying {image.standin} to {host}")
                copy_image(image, host)
        chosen[name] = image.standin
    return chosen


def _present(client, name: str) -> bool:
    try:
        client.images.get(name)
        return True
    except Exception:  # no such image, or not a reference
        return False


def make_multiarch_busybox(image: images.BaseImage, host: str) -> None:
    """Build busybox's stand-in for every architecture at once, with no RUN: each is Debian's
    busybox-static of that architecture and a symbolic link per applet, made here."""
    with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="stagelab-busybox-") as tmp:
        work = Path(tmp)
        debs = recipes.debian_packages(
            [f"busybox-static:{arch}" for arch in ARCHITECTURES], work / "debs", ARCHITECTURES
        )
        applets: list[str] = []
        for deb in debs:
            arch = recipes.deb_field(deb, "Architecture")
            run_command(["dpkg", "-x", str(deb), str(work / arch)], f"unpack {deb.name}")
            rootfs = work / f"rootfs-{arch}" / "bin"
            rootfs.mkdir(parents=True)
            shutil.copy2(work / arch / "bin/busybox", rootfs / "busybox")
            if not applets:
                applets = _applets(work / arch / "bin/busybox")
        native = split_platform(machine_platform())[1]
        applets = applets or _applets(work / f"rootfs-{native}/bin/busybox")
        for arch in ARCHITECTURES:
            for applet in applets:
                if applet != "busybox":
                    (work / f"rootfs-{arch}/bin" / applet).symlink_to("busybox")
        (work / "Dockerfile").write_text(
            'FROM scratch\nARG TARGETARCH\nCOPY rootfs-${TARGETARCH}/ /\nCMD ["sh"]\n'
        )
        version = recipes.deb_field(debs[0], "Version")
        command = buildx_build_command(
            work,
            progress="plain",
            platforms=[f"linux/{arch}" for arch in ARCHITECTURES],
            tags=image.standin,
            labels=recipes.standin_labels(
                image, f"Debian busybox-static {version} for {', '.join(ARCHITECTURES)}", version
            ),
        )
        run_command(command, f"build {image.standin} for several platforms", env=_at(host))


def _applets(busybox: Path) -> list[str]:
    done = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=False)
    return done.stdout.split()


def copy_image(image: images.BaseImage, host: str) -> None:
    """Copy a stand-in from the CLI's engine to the one at `host`, building it first if the
    CLI's engine lacks it (and, first, the stand-ins it is built on)."""
    if not images.present(image.standin):
        for name in recipes.RECIPES[image.recipe].after:
            base = images.BY_OFFICIAL[name]
            if not images.present(base.standin):
                standins.make_standin(base)
        standins.make_standin(image)
    save = subprocess.Popen(["docker", "image", "save", image.standin], stdout=subprocess.PIPE)
    done = subprocess.run(
        ["docker", "image", "load"],
        stdin=save.stdout,
        capture_output=True,
        text=True,
        env=_at(host),
        check=False,
    )
    save.wait()
    if done.returncode != 0 or save.returncode != 0:
        raise ProvisionError(f"Could not copy {image.standin} to {host}: {done.stderr.strip()}")


def _at(host: str) -> dict[str, str]:
    return {**os.environ, "DOCKER_HOST": host}
