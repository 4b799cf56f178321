"""Install what stagelab needs: Debian packages, Docker Engine and buildx, leaving apt's sources
untouched.

On Debian as root, the engine comes from Debian's newest suite (ENGINE_SUITE), downloaded through
a private apt configuration and unpacked under EnginePaths.home; dockerd logs to
EnginePaths.dockerd_log. Those folders are read from the environment when asked, not at import.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .engine import (
    advice_no_engine,
    buildx_version,
    can_provision,
    docker_host,
    os_release,
    ping,
    version_tuple,
)
from .errors import ProvisionError

ENGINE_HOME_ENV = "STAGELAB_ENGINE_HOME"
DOCKERD_LOG_ENV = "STAGELAB_DOCKERD_LOG"
APT_HOME_ENV = "STAGELAB_APT_HOME"
# Debian's newest engine packages; their binaries run on Debian 12 and 13 once unpacked.
ENGINE_SUITE = "forky"
ENGINE_PACKAGES = ["docker.io", "docker-cli", "containerd", "docker-buildx", "tini"]
DOCKERD_START_TIMEOUT_S = 90


@dataclass(frozen=True)
class EnginePaths:
    """Where stagelab keeps the engine it provisions: the unpacked packages (`home`), dockerd's
    log, and its private apt configuration (`apt_home`)."""

    home: Path = Path("/opt/stagelab/engine")
    dockerd_log: Path = Path("/var/log/stagelab/dockerd.log")
    apt_home: Path = Path("/var/lib/stagelab/apt")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> EnginePaths:
        """Return the paths as the environment (default: os.environ) moves them now:
        STAGELAB_ENGINE_HOME, STAGELAB_DOCKERD_LOG, STAGELAB_APT_HOME."""
        environ = os.environ if environ is None else environ
        default = cls()
        return cls(
            Path(environ.get(ENGINE_HOME_ENV) or default.home),
            Path(environ.get(DOCKERD_LOG_ENV) or default.dockerd_log),
            Path(environ.get(APT_HOME_ENV) or default.apt_home),
        )

    @property
    def root(self) -> Path:
        """Return the folder the engine's packages are unpacked into."""
        return self.home / "root"

    @property
    def bin(self) -> Path:
        """Return the folder of links to the engine's programs (dockerd, containerd, docker)."""
        return self.home / "bin"

    @property
    def pidfile(self) -> Path:
        """Return the file holding the pid of the dockerd stagelab started."""
        return self.home / "dockerd.pid"

    @property
    def rootless_script(self) -> Path:
        """Return Debian's dockerd-rootless.sh of the unpacked engine (docker.io's contrib/)."""
        return self.root / "usr/share/docker.io/contrib/dockerd-rootless.sh"

    @property
    def buildx_plugin(self) -> Path:
        """Return the unpacked engine's buildx CLI plugin."""
        return self.root / "usr/libexec/docker/cli-plugins/docker-buildx"


def debian_mirror() -> str:
    """Return the Debian archive URI this machine's own apt sources use."""
    codename = os_release().get("VERSION_CODENAME", "")
    for uri, suites in _apt_sources():
        if codename in suites:
            return uri
    raise ProvisionError(
        "Could not find this machine's Debian archive in /etc/apt sources: "
        "add a line for the Debian archive, then retry."
    )


def _apt_sources():
    root = Path("/etc/apt")
    for path in sorted(root.glob("sources.list.d/*.sources")):
        for block in path.read_text().split("\n\n"):
            fields = {}
            for line in block.splitlines():
                if ":" in line and not line.startswith("#"):
                    key, value = line.split(":", 1)
                    fields[key.strip().lower()] = value.split()
            for uri in fields.get("uris", []):
                yield uri, fields.get("suites", [])
    for path in [root / "sources.list", *sorted(root.glob("sources.list.d/*.list"))]:
        if path.exists():
            for line in path.read_text().splitlines():
                words = [
                    w
                    for w in line.split()
                    if not w.startswith("[") and not w.endswith("]") and "=" not in w
                ]
                if len(words) >= 3 and words[0] == "deb":
                    yield words[1], [words[2]]


@dataclass
class PrivateApt:
    """An apt configuration of stagelab's own, leaving the system's sources untouched."""

    home: Path = field(default_factory=lambda: EnginePaths.from_environment().apt_home)
    suites: list[str] = field(default_factory=lambda: [ENGINE_SUITE])
    # Debian architectures whose packages it lists besides this machine's ("arm64", ...).
    architectures: list[str] = field(default_factory=list)

    def options(self) -> list[str]:
        """Return apt-get's options that point it at this configuration."""
        foreign = [f"APT::Architectures::={arch}" for arch in self.architectures]
        return [x for option in foreign for x in ("-o", option)] + [
            "-o",
            f"Dir::Etc::SourceList={self.home / 'sources.list'}",
            "-o",
            "Dir::Etc::SourceParts=/dev/null",
            "-o",
            f"Dir::State::Lists={self.home / 'lists'}",
            "-o",
            f"Dir::Cache={self.home / 'cache'}",
            "-o",
            "APT::Sandbox::User=root",
        ]

    def update(self) -> None:
        """Write the sources list and fetch the package lists (once an hour at most)."""
        (self.home / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        (self.home / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        mirror = debian_mirror()
        keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
        sources = "".join(
            f"deb [signed-by={keyring}] {mirror} {suite} main\n" for suite in self.suites
        )
        source_file = self.home / "sources.list"
        stamp = self.home / "lists" / ".updated"
        fresh = (
            stamp.exists()
            and source_file.exists()
            and source_file.read_text() == sources
            and time.time() - stamp.stat().st_mtime < 3600
        )
        if fresh:
            return
        source_file.write_text(sources)
        run_command(["apt-get", *self.options(), "update", "-qq"], "fetch Debian's package lists")
        stamp.touch()

    def download(self, packages: list[str], into: Path) -> list[Path]:
        """Download .deb files (no install) into a folder and return their paths."""
        self.update()
        into.mkdir(parents=True, exist_ok=True)
        for old in into.glob("*.deb"):
            old.unlink()
        run_command(
            ["apt-get", *self.options(), "download", *packages],
            "download " + " ".join(packages),
            cwd=into,
        )
        return sorted(into.glob("*.deb"))


def run_command(command: list[str], purpose: str, **kwargs) -> subprocess.CompletedProcess:
    """Run a set-up command; on failure raise ProvisionError naming the purpose and output."""
    done = subprocess.run(command, capture_output=True, text=True, **kwargs, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-12:])
        raise ProvisionError(
            f"Could not {purpose} (exit code {done.returncode}):\n{tail}",
            command=command,
            exit_code=done.returncode,
            output=done.stdout + done.stderr,
        )
    return done


def glibc_version() -> tuple[int, ...]:
    """Return the C library's version, e.g. (2, 36)."""
    return version_tuple(platform.libc_ver()[1])


def apt_install(packages: list[str]) -> None:
    """Install Debian packages from the system's own sources when any is missing."""
    missing = [
        p
        for p in packages
        if subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True, check=False
        ).stdout
        != "install ok installed"
    ]
    if not missing:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run_command(["apt-get", "update", "-qq"], "refresh apt's package lists", env=env)
    run_command(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        "install " + " ".join(missing),
        env=env,
    )


TOOL_PACKAGES = {"dot": "graphviz", "chromium": "chromium"}


def cli_plugins_dir() -> Path:
    """Return the per-user folder where the docker CLI looks for plugins."""
    config = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker"))
    return config / "cli-plugins"


class Provisioner:
    """Install Debian's current engine and buildx without touching the system's apt sources."""

    def __init__(self, say=print, paths: EnginePaths | None = None):
        self.say = say
        self.paths = paths or EnginePaths.from_environment()
        self.root = self.paths.root
        self.bin = self.paths.bin

    def ensure(self) -> dict:
        """Make an engine with buildx answer; change nothing when one already does."""
        version = ping()
        if version is None:
            if os.environ.get("DOCKER_HOST") or not can_provision():
                raise ProvisionError(advice_no_engine())
            self.install_engine()
            version = self.start_dockerd()
        else:
            self.say(f"engine: Docker Engine {version['Version']} answers at {docker_host()}")
        if buildx_version() is None:
            self.install_buildx()
        self.say(f"buildx: {buildx_version()}")
        return version

    def unpacked(self) -> bool:
        """Tell whether the engine's packages are already unpacked under the engine's home."""
        return (self.root / "usr/sbin/dockerd").exists() and (self.bin / "dockerd").exists()

    @staticmethod
    def system_packages() -> list[str]:
        """Return the system's own Debian packages the unpacked engine runs with."""
        # Forky's runc needs glibc 2.38; older systems use their own runc package.
        return ["iptables", "runc"] if glibc_version() < (2, 38) else ["iptables"]

    def install_engine(self) -> None:
        """Install the system packages it needs, then download and unpack the engine (once)."""
        apt_install(self.system_packages())
        self.download_engine()

    def download_engine(self) -> None:
        """Download the engine's packages from Debian and unpack them into its home (once)."""
        if self.unpacked():
            return
        self.say(
            f"engine: downloading Docker Engine from Debian {ENGINE_SUITE} into {self.paths.home}"
        )
        system_runc = "runc" in self.system_packages()
        packages = ENGINE_PACKAGES + ([] if system_runc else ["runc"])
        debs = PrivateApt(self.paths.apt_home).download(packages, self.paths.home / "debs")
        shutil.rmtree(self.root, ignore_errors=True)
        for deb in debs:
            run_command(["dpkg", "-x", str(deb), str(self.root)], f"unpack {deb.name}")
        self.bin.mkdir(parents=True, exist_ok=True)
        links = {
            "dockerd": "usr/sbin/dockerd",
            "docker-proxy": "usr/sbin/docker-proxy",
            "containerd": "usr/bin/containerd",
            "ctr": "usr/bin/ctr",
            "containerd-shim-runc-v2": "usr/bin/containerd-shim-runc-v2",
            "docker-init": "usr/bin/tini",
            "docker": "usr/bin/docker",
        }
        if not system_runc:
            links["runc"] = "usr/sbin/runc"
        for name, target in links.items():
            link = self.bin / name
            link.unlink(missing_ok=True)
            link.symlink_to(self.root / target)
        if not shutil.which("docker"):
            Path("/usr/local/bin/docker").symlink_to(self.root / "usr/bin/docker")

    def start_dockerd(self) -> dict:
        """Start dockerd in the background, logging to the paths' dockerd_log; wait until it
        answers."""
        log_path = self.paths.dockerd_log
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "PATH": f"{self.bin}:/usr/local/sbin:/usr/sbin:/sbin:"
            f"{os.environ.get('PATH', '/usr/bin:/bin')}",
        }
        pidfile = self.paths.pidfile
        if not _pid_alive(pidfile):
            self.say(f"engine: starting dockerd (log: {log_path})")
            with open(log_path, "ab") as log:
                subprocess.Popen(
                    [str(self.bin / "dockerd"), "--pidfile", str(pidfile)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    start_new_session=True,
                )
        deadline = time.monotonic() + DOCKERD_START_TIMEOUT_S
        while time.monotonic() < deadline:
            version = ping()
            if version is not None:
                self.say(f"engine: Docker Engine {version['Version']} is running")
                return version
            time.sleep(0.5)
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise ProvisionError(
            f"dockerd did not answer within {DOCKERD_START_TIMEOUT_S} s. "
            f"Its log ({log_path}) ends with:\n{tail}"
        )

    def install_buildx(self) -> None:
        """Put Debian's buildx plugin into the user's docker CLI plugin folder."""
        target = cli_plugins_dir() / "docker-buildx"
        target.parent.mkdir(parents=True, exist_ok=True)
        unpacked = self.paths.buildx_plugin
        if unpacked.exists():
            shutil.copy2(unpacked, target)
            return
        if not can_provision():
            raise ProvisionError(
                "The docker CLI has no buildx plugin. Install it (Debian/Ubuntu: "
                "`apt-get install docker-buildx`; Docker Desktop ships it), then retry."
            )
        self.say("buildx: downloading Debian's docker-buildx plugin")
        with tempfile.TemporaryDirectory() as tmp:
            (deb,) = PrivateApt(self.paths.apt_home).download(["docker-buildx"], Path(tmp) / "debs")
            run_command(["dpkg", "-x", str(deb), tmp], "unpack docker-buildx")
            shutil.copy2(Path(tmp) / "usr/libexec/docker/cli-plugins/docker-buildx", target)


def _pid_alive(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def ensure_engine(say=print) -> dict:
    """Make sure an engine with buildx answers; install and start one when allowed.

    Returns the engine's version document. `say` gets one line per thing done. Raises
    ProvisionError with advice when no engine answers and none may be installed here, or when
    a download, unpack or start fails.
    """
    return Provisioner(say).ensure()
