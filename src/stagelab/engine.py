"""Find, diagnose and provision the Docker engine and its buildx plugin."""

from __future__ import annotations

import functools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import EngineUnavailable, ProvisionError

ENGINE_HOME = Path(os.environ.get("STAGELAB_ENGINE_HOME", "/opt/stagelab/engine"))
DOCKERD_LOG = Path(os.environ.get("STAGELAB_DOCKERD_LOG", "/var/log/stagelab/dockerd.log"))
APT_HOME = Path(os.environ.get("STAGELAB_APT_HOME", "/var/lib/stagelab/apt"))
# Debian's newest engine packages; their binaries run on Debian 12 and 13 once unpacked.
ENGINE_SUITE = "forky"
ENGINE_PACKAGES = ["docker.io", "docker-cli", "containerd", "docker-buildx", "tini"]
MIN_ENGINE = (28, 0)
MIN_BUILDX = (0, 29)
START_TIMEOUT_S = 90


def version_tuple(text: str | None) -> tuple[int, ...]:
    """Turn '28.5.2+dfsg4' or 'v0.29.1' into (28, 5, 2)."""
    if not text:
        return ()
    digits = []
    for part in text.lstrip("v").split("+")[0].split("-")[0].split("."):
        if not part.isdigit():
            break
        digits.append(int(part))
    return tuple(digits)


@functools.lru_cache(maxsize=None)
def docker_host() -> str:
    """Return the engine address the docker CLI would use (DOCKER_HOST, then the context)."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    if shutil.which("docker"):
        done = subprocess.run(["docker", "context", "inspect", "--format",
                               "{{json .Endpoints.docker.Host}}"],
                              capture_output=True, text=True, timeout=20)
        if done.returncode == 0 and done.stdout.strip() not in ("", "null"):
            return json.loads(done.stdout)
    return "unix:///var/run/docker.sock"


def client(timeout: int = 600):
    """Return a docker SDK client talking to the engine the CLI would use."""
    import docker

    return _client(docker_host(), timeout)


@functools.lru_cache(maxsize=None)
def _client(host: str, timeout: int):
    import docker

    return docker.DockerClient(base_url=host, timeout=timeout)


def ping() -> dict | None:
    """Return the engine's version document, or None when no engine answers."""
    try:
        return _client(docker_host(), 5).version()
    except Exception:
        return None


def answers() -> bool:
    """Tell cheaply whether an engine answers."""
    try:
        return _client(docker_host(), 5).ping()
    except Exception:
        return False


def require() -> dict:
    """Return the engine's version document or raise EngineUnavailable with advice."""
    version = ping()
    if version is None:
        raise EngineUnavailable(advice_no_engine())
    return version


def advice_no_engine() -> str:
    """Say how to get an engine on this machine."""
    host = docker_host()
    lines = [f"No Docker engine answers at {host}."]
    if os.environ.get("DOCKER_HOST"):
        lines.append("DOCKER_HOST is set: start the engine it names, or unset DOCKER_HOST.")
    elif sys.platform == "darwin" or sys.platform.startswith("win"):
        lines.append("Start Docker Desktop, wait until it says it is running, then retry.")
    elif can_provision():
        lines.append("Run `stagelab engine ensure` (or `make lab`) to install and start one.")
    else:
        lines.append("Start Docker Engine (`sudo systemctl start docker`), or run "
                     "`sudo stagelab engine ensure` on Debian to install one.")
    return "\n".join(lines)


def buildx_version() -> str | None:
    """Return the buildx plugin's version, or None when it is missing."""
    if not shutil.which("docker"):
        return None
    done = subprocess.run(["docker", "buildx", "version"], capture_output=True, text=True,
                          timeout=30)
    if done.returncode != 0:
        return None
    words = done.stdout.split()
    return words[1] if len(words) > 1 else done.stdout.strip()


def os_release() -> dict[str, str]:
    """Read /etc/os-release into a dict."""
    try:
        lines = Path("/etc/os-release").read_text().splitlines()
    except OSError:
        return {}
    pairs = (line.split("=", 1) for line in lines if "=" in line)
    return {key: value.strip('"') for key, value in pairs}


def can_provision() -> bool:
    """Tell whether stagelab may install an engine here: root on Debian Linux."""
    return (sys.platform.startswith("linux") and os.geteuid() == 0
            and os_release().get("ID") == "debian" and shutil.which("apt-get") is not None)


def debian_mirror() -> str:
    """Return the Debian archive URI this machine's own apt sources use."""
    codename = os_release().get("VERSION_CODENAME", "")
    for uri, suites in _apt_sources():
        if codename in suites:
            return uri
    raise ProvisionError("Could not find this machine's Debian archive in /etc/apt sources: "
                         "add a line for the Debian archive, then retry.")


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
                words = [w for w in line.split() if not w.startswith("[") and not w.endswith("]")
                         and "=" not in w]
                if len(words) >= 3 and words[0] == "deb":
                    yield words[1], [words[2]]


@dataclass
class PrivateApt:
    """An apt configuration of stagelab's own, leaving the system's sources untouched."""

    home: Path = APT_HOME
    suites: list[str] = field(default_factory=lambda: [ENGINE_SUITE])

    def options(self) -> list[str]:
        return ["-o", f"Dir::Etc::SourceList={self.home / 'sources.list'}",
                "-o", "Dir::Etc::SourceParts=/dev/null",
                "-o", f"Dir::State::Lists={self.home / 'lists'}",
                "-o", f"Dir::Cache={self.home / 'cache'}",
                "-o", "APT::Sandbox::User=root"]

    def update(self) -> None:
        """Write the sources list and fetch the package lists (once an hour at most)."""
        (self.home / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        (self.home / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        mirror = debian_mirror()
        keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
        sources = "".join(f"deb [signed-by={keyring}] {mirror} {suite} main\n"
                          for suite in self.suites)
        source_file = self.home / "sources.list"
        stamp = self.home / "lists" / ".updated"
        fresh = (stamp.exists() and source_file.exists() and source_file.read_text() == sources
                 and time.time() - stamp.stat().st_mtime < 3600)
        if fresh:
            return
        source_file.write_text(sources)
        run(["apt-get", *self.options(), "update", "-qq"], "fetch Debian's package lists")
        stamp.touch()

    def download(self, packages: list[str], into: Path) -> list[Path]:
        """Download .deb files (no install) into a folder and return their paths."""
        self.update()
        into.mkdir(parents=True, exist_ok=True)
        for old in into.glob("*.deb"):
            old.unlink()
        run(["apt-get", *self.options(), "download", *packages], "download " + " ".join(packages),
            cwd=into)
        return sorted(into.glob("*.deb"))


def run(command: list[str], purpose: str, **kwargs) -> subprocess.CompletedProcess:
    """Run a set-up command; on failure raise ProvisionError naming the purpose and output."""
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-12:])
        raise ProvisionError(f"Could not {purpose} (exit code {done.returncode}):\n{tail}",
                             command=command, exit_code=done.returncode,
                             output=done.stdout + done.stderr)
    return done


def glibc_version() -> tuple[int, ...]:
    """Return the C library's version, e.g. (2, 36)."""
    return version_tuple(platform.libc_ver()[1])


def apt_install(packages: list[str]) -> None:
    """Install Debian packages from the system's own sources when any is missing."""
    missing = [p for p in packages
               if subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True,
                                 text=True).stdout != "install ok installed"]
    if not missing:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], "refresh apt's package lists", env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        "install " + " ".join(missing), env=env)


TOOL_PACKAGES = {"dot": "graphviz", "chromium": "chromium"}


def ensure_tools(commands: list[str], say=print) -> None:
    """Install the Debian packages behind missing commands (graphviz, chromium) when allowed."""
    missing = [TOOL_PACKAGES[c] for c in commands if shutil.which(c) is None]
    if not missing:
        return
    if not can_provision():
        raise ProvisionError(f"Missing {', '.join(missing)}: install "
                             f"{' and '.join(missing)} with your package manager, then retry.")
    say(f"tools: installing {', '.join(missing)} from Debian")
    apt_install(missing)


def cli_plugins_dir() -> Path:
    """Return the per-user folder where the docker CLI looks for plugins."""
    config = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker"))
    return config / "cli-plugins"


class Provisioner:
    """Install Debian's current engine and buildx without touching the system's apt sources."""

    def __init__(self, say=print):
        self.say = say
        self.root = ENGINE_HOME / "root"
        self.bin = ENGINE_HOME / "bin"

    def ensure(self) -> dict:
        """Make an engine with buildx answer; change nothing when one already does."""
        version = ping()
        if version is None:
            if os.environ.get("DOCKER_HOST"):
                raise ProvisionError(advice_no_engine())
            if not can_provision():
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
        return (self.root / "usr/sbin/dockerd").exists() and (self.bin / "dockerd").exists()

    def install_engine(self) -> None:
        """Download and unpack the engine packages into ENGINE_HOME (once)."""
        # Forky's runc needs glibc 2.38; older systems use their own runc package.
        system_runc = glibc_version() < (2, 38)
        apt_install(["iptables", "runc"] if system_runc else ["iptables"])
        if self.unpacked():
            return
        self.say(f"engine: downloading Docker Engine from Debian {ENGINE_SUITE} "
                 f"into {ENGINE_HOME}")
        packages = ENGINE_PACKAGES + ([] if system_runc else ["runc"])
        debs = PrivateApt().download(packages, ENGINE_HOME / "debs")
        shutil.rmtree(self.root, ignore_errors=True)
        for deb in debs:
            run(["dpkg", "-x", str(deb), str(self.root)], f"unpack {deb.name}")
        self.bin.mkdir(parents=True, exist_ok=True)
        links = {"dockerd": "usr/sbin/dockerd", "docker-proxy": "usr/sbin/docker-proxy",
                 "containerd": "usr/bin/containerd", "ctr": "usr/bin/ctr",
                 "containerd-shim-runc-v2": "usr/bin/containerd-shim-runc-v2",
                 "docker-init": "usr/bin/tini", "docker": "usr/bin/docker"}
        if not system_runc:
            links["runc"] = "usr/sbin/runc"
        for name, target in links.items():
            link = self.bin / name
            link.unlink(missing_ok=True)
            link.symlink_to(self.root / target)
        if not shutil.which("docker"):
            Path("/usr/local/bin/docker").symlink_to(self.root / "usr/bin/docker")

    def start_dockerd(self) -> dict:
        """Start dockerd in the background with its log in DOCKERD_LOG; wait until it answers."""
        DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PATH": f"{self.bin}:/usr/local/sbin:/usr/sbin:/sbin:"
                                     f"{os.environ.get('PATH', '/usr/bin:/bin')}"}
        pidfile = ENGINE_HOME / "dockerd.pid"
        if not _pid_alive(pidfile):
            self.say(f"engine: starting dockerd (log: {DOCKERD_LOG})")
            with open(DOCKERD_LOG, "ab") as log:
                subprocess.Popen([str(self.bin / "dockerd"), "--pidfile", str(pidfile)],
                                 stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 env=env, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            version = ping()
            if version is not None:
                self.say(f"engine: Docker Engine {version['Version']} is running")
                return version
            time.sleep(0.5)
        tail = "\n".join(DOCKERD_LOG.read_text(errors="replace").splitlines()[-15:])
        raise ProvisionError(f"dockerd did not answer within {START_TIMEOUT_S} s. "
                             f"Its log ({DOCKERD_LOG}) ends with:\n{tail}")

    def install_buildx(self) -> None:
        """Put Debian's buildx plugin into the user's docker CLI plugin folder."""
        target = cli_plugins_dir() / "docker-buildx"
        target.parent.mkdir(parents=True, exist_ok=True)
        unpacked = self.root / "usr/libexec/docker/cli-plugins/docker-buildx"
        if unpacked.exists():
            shutil.copy2(unpacked, target)
            return
        if not can_provision():
            raise ProvisionError(
                "The docker CLI has no buildx plugin. Install it (Debian/Ubuntu: "
                "`apt-get install docker-buildx`; Docker Desktop ships it), then retry.")
        self.say("buildx: downloading Debian's docker-buildx plugin")
        with tempfile.TemporaryDirectory() as tmp:
            (deb,) = PrivateApt().download(["docker-buildx"], Path(tmp) / "debs")
            run(["dpkg", "-x", str(deb), tmp], "unpack docker-buildx")
            shutil.copy2(Path(tmp) / "usr/libexec/docker/cli-plugins/docker-buildx", target)


def _pid_alive(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def ensure(say=print) -> dict:
    """Make sure an engine with buildx answers; install and start one when allowed."""
    return Provisioner(say).ensure()


FEATURE_PROBES = {
    # name: (Dockerfile, extra buildx arguments)
    "heredocs": ("FROM scratch\nCOPY <<EOF /greeting\nhello\nEOF\n", []),
    "named contexts": ("FROM scratch\nCOPY --from=extra probe /probe\n",
                       ["--build-context", "extra={tmp}"]),
    "--check": ("FROM scratch\nCOPY probe /probe\n", ["--check"]),
    "--call": ("FROM scratch AS only\nCOPY probe /probe\n", ["--call=targets"]),
}


def features() -> dict[str, bool]:
    """Probe which BuildKit features this engine and buildx have, by running tiny builds."""
    found = {}
    with tempfile.TemporaryDirectory(prefix="stagelab-probe-") as tmp:
        (Path(tmp) / "probe").write_text("probe\n")
        for name, (text, extra) in FEATURE_PROBES.items():
            (Path(tmp) / "Dockerfile").write_text(text)
            output = [] if extra and extra[0].startswith(("--check", "--call")) else \
                ["--output", "type=tar,dest=/dev/null"]
            done = subprocess.run(["docker", "buildx", "build", "--progress=quiet", *output,
                                   *(e.format(tmp=tmp) for e in extra), tmp], capture_output=True, text=True, timeout=120)
            found[name] = done.returncode == 0
    return found


@dataclass
class Finding:
    """One line of the doctor's report."""

    what: str
    ok: bool
    detail: str
    advice: str = ""


def doctor() -> list[Finding]:
    """Check the engine, buildx, BuildKit features, the registry and the base images."""
    from . import images

    findings = []
    version = ping()
    if version is None:
        findings.append(Finding("engine", False, f"no engine answers at {docker_host()}",
                                advice_no_engine().splitlines()[-1]))
        return findings
    good = version_tuple(version["Version"]) >= MIN_ENGINE
    findings.append(Finding("engine", True, f"Docker Engine {version['Version']}, API "
                            f"{version['ApiVersion']}, at {docker_host()}",
                            "" if good else "older than 28: some lessons may say a feature "
                            "is missing; upgrade Docker for the full set"))
    buildx = buildx_version()
    findings.append(Finding("buildx", buildx is not None, buildx or "missing",
                            "" if buildx else "run `stagelab engine ensure` to add the plugin"))
    if buildx:
        for name, ok in features().items():
            findings.append(Finding(f"BuildKit {name}", ok, "available" if ok else "missing",
                                    "" if ok else "upgrade Docker Engine and buildx to use it"))
    registry = images.registry_answers()
    findings.append(Finding("registry", True, "Docker Hub answers" if registry else
                            "no registry answers: offline stand-ins replace official images"))
    for row in images.status():
        if row["official"]:
            detail, ok = "official image present", True
        elif row["standin_present"]:
            detail, ok = f"offline stand-in {row['standin']}", True
        else:
            detail, ok = "missing", False
        findings.append(Finding(f"image {row['image']}", ok, detail,
                                "" if ok else "run `stagelab images ensure`, or "
                                "`stagelab images import FILE` with your instructor's archive"))
    return findings
