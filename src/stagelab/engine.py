"""Find the Docker engine and ask it what it is: client, address, version, buildx, features."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import lazy
from .command_lines import buildx_build_command
from .course import Course
from .errors import StagelabError


def version_tuple(text: str | None) -> tuple[int, ...]:
    """Turn '28.5.2+dfsg4' or 'v0.29.1' into (28, 5, 2); None or '' into ()."""
    if not text:
        return ()
    digits = []
    for part in text.lstrip("v").split("+")[0].split("-")[0].split("."):
        if not part.isdigit():
            break
        digits.append(int(part))
    return tuple(digits)


@functools.cache
def docker_host() -> str:
    """Return the engine address the docker CLI would use (DOCKER_HOST, then the context)."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    if shutil.which("docker"):
        done = subprocess.run(
            ["docker", "context", "inspect", "--format", "{{json .Endpoints.docker.Host}}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        if done.returncode == 0 and done.stdout.strip() not in ("", "null"):
            return json.loads(done.stdout)
    return "unix:///var/run/docker.sock"


def client(timeout: int = 600) -> lazy.docker.DockerClient:
    """Return a docker SDK client for the engine the CLI would use; `timeout` in seconds."""
    return _client(docker_host(), timeout)


@functools.cache
def _client(host: str, timeout: int) -> lazy.docker.DockerClient:
    client = lazy.docker.DockerClient(base_url=host, timeout=timeout)
    if host.startswith("unix://"):
        # No proxy, .netrc or CA bundle applies to a Unix socket: requests would still read
        # the environment for them on every call (a third of each round trip to the engine).
        client.api.trust_env = False
    return client


@functools.cache
def identity(host: str) -> str:
    """Name the engine at `host` by its address and the daemon's ID (an address can change
    engines); stagelab's ledger of earlier builds keeps one engine's steps apart from
    another's."""
    return f"{host} {client().api.info().get('ID', '')}"


def daemon_refusal(error: BaseException) -> str | None:
    """Return the daemon's own sentence when `error` is the Docker SDK's APIError (an HTTP
    error the engine answered with, such as a Dockerfile it refused before building), else
    None: any other exception is not the engine's answer."""
    if isinstance(error, lazy.docker.errors.APIError):
        return str(error.explanation or error)
    return None


def ping() -> dict | None:
    """Return the engine's version document (`docker version`), or None when none answers."""
    if _no_socket(docker_host()):
        return None
    try:
        return _client(docker_host(), 5).version()
    except Exception:  # any failure to answer means "no engine" here
        return None


def platform() -> str | None:
    """Return the platform the engine builds for by default (`linux/amd64`), or None when no
    engine answers (within 5 seconds)."""
    version = ping()
    if not version or not version.get("Os") or not version.get("Arch"):
        return None
    return f"{version['Os']}/{version['Arch']}"


def client_at(host: str, timeout: int = 600) -> lazy.docker.DockerClient:
    """Return a docker SDK client for the engine at `host` (`unix:///...`); `timeout` in seconds."""
    return _client(host, timeout)


def containerd_store(host: str | None = None) -> bool:
    """Tell whether the engine at `host` (default: the CLI's) keeps images in the containerd
    image store, which multi-platform builds and cache export need with the docker driver
    (`docker info`: a DriverStatus `driver-type` of io.containerd.snapshotter.v1). False when
    no engine answers within 5 seconds."""
    try:
        info = _client(host or docker_host(), 5).info()
    except Exception:  # any failure to answer means no such store here
        return False
    return any(
        key == "driver-type" and "containerd.snapshotter" in value
        for key, value in info.get("DriverStatus") or []
    )


BINFMT_MISC = Path("/proc/sys/fs/binfmt_misc")


def emulators(root: Path = BINFMT_MISC) -> list[str]:
    """Return the enabled binfmt_misc entries that run another CPU's programs (qemu-aarch64,
    ...), by name; [] when none is registered or binfmt_misc is not mounted.

    A stage of another platform can RUN only through such an emulator
    (https://docs.docker.com/build/building/multi-platform/#qemu).
    """
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return []
    found = []
    for entry in entries:
        if entry.name in ("register", "status"):
            continue
        try:
            text = entry.read_text()
        except OSError:
            continue
        if text.startswith("enabled"):
            found.append(entry.name)
    return found


def answers() -> bool:
    """Tell cheaply whether an engine answers (within 5 seconds)."""
    if _no_socket(docker_host()):
        return False
    try:
        return _client(docker_host(), 5).ping()
    except Exception:  # any failure to answer means "no engine" here
        return False


def _no_socket(host: str) -> bool:
    # A Unix socket that is not there has no engine behind it: no need to load the Docker SDK
    # and try (with no engine, as on Binder, every build asks).
    return host.startswith("unix://") and not os.path.exists(host.removeprefix("unix://"))


def os_release() -> dict[str, str]:
    """Read /etc/os-release into a dict ({} when it is missing)."""
    try:
        lines = Path("/etc/os-release").read_text().splitlines()
    except OSError:
        return {}
    pairs = (line.split("=", 1) for line in lines if "=" in line)
    return {key: value.strip('"') for key, value in pairs}


def can_provision() -> bool:
    """Tell whether stagelab may install an engine here: root on Debian Linux."""
    return (
        sys.platform.startswith("linux")
        and os.geteuid() == 0
        and os_release().get("ID") == "debian"
        and shutil.which("apt-get") is not None
    )


def advice_no_engine() -> str:
    """Say, in two lines, that no engine answers and how to get one on this machine."""
    host = docker_host()
    lines = [f"No Docker engine answers at {host}."]
    if os.environ.get("DOCKER_HOST"):
        lines.append("DOCKER_HOST is set: start the engine it names, or unset DOCKER_HOST.")
    elif sys.platform == "darwin" or sys.platform.startswith("win"):
        lines.append("Start Docker Desktop, wait until it says it is running, then retry.")
    elif can_provision():
        lines.append("Run `stagelab engine ensure` (or `make lab`) to install and start one.")
    else:
        lines.append(
            "Start Docker Engine (`sudo systemctl start docker`), or run "
            "`sudo stagelab engine ensure` on Debian to install one."
        )
    return "\n".join(lines)


def buildx_version() -> str | None:
    """Return the buildx plugin's version ("0.29.1+ds1"), or None when it is missing."""
    if not shutil.which("docker"):
        return None
    done = subprocess.run(
        ["docker", "buildx", "version"], capture_output=True, text=True, timeout=30, check=False
    )
    if done.returncode != 0:
        return None
    words = done.stdout.split()
    return words[1] if len(words) > 1 else done.stdout.strip()


FEATURE_PROBES = {
    # name: (Dockerfile, the probe's buildx flags as buildx_build_command keywords), each run
    # in a folder that holds the Dockerfile and a file `probe`.
    "heredocs": ("FROM scratch\nCOPY <<EOF /greeting\nhello\nEOF\n", {}),
    "named contexts": (
        "FROM scratch\nCOPY --from=extra probe /probe\n",
        {"build_contexts": {"extra": "."}},
    ),
    "--check": ("FROM scratch\nCOPY probe /probe\n", {"check": True}),
    "--call": ("FROM scratch AS only\nCOPY probe /probe\n", {"call": "targets"}),
}
# Where a probe that builds sends its result: nowhere, it only has to succeed.
PROBE_OUTPUT = {"type": "tar", "dest": "/dev/null"}


# The features come with the engine's and buildx's binaries: probed once for each pair, the answer
# is kept in the state folder (Course.state) under this name, for the last few pairs seen.
FEATURES_FILE = "engine-features.json"
FEATURE_TABLES_KEPT = 8


def probe_features(
    *, version: dict | None = None, buildx: str | None = None, fresh: bool = False
) -> dict[str, bool]:
    """Probe which BuildKit features this engine and buildx have, by running tiny builds.

    Returns {"heredocs", "named contexts", "--check", "--call"} -> available. Each probe is a
    real build of at most a few seconds (a timeout of 120 s each); they run side by side, each
    in a folder of its own. The answer depends only on the engine's and buildx's builds, so it
    is kept in the state folder (FEATURES_FILE), keyed by the engine's address, version, commit
    and build time and buildx's version, and a later call for the same pair reads it (about a
    millisecond instead of seconds) unless `fresh`. `version` (ping()'s document) and `buildx`
    (buildx_version()) are asked when not given.
    """
    version = ping() if version is None else version
    buildx = buildx_version() if buildx is None else buildx
    kept = None if fresh else kept_features(version=version, buildx=buildx)
    if kept is not None:
        return kept[0]
    with ThreadPoolExecutor(max_workers=len(FEATURE_PROBES)) as pool:
        features = dict(zip(FEATURE_PROBES, pool.map(_probe, FEATURE_PROBES.values())))
    key = _features_key(version, buildx)
    if key:
        tables = _feature_tables()
        tables.pop(key, None)
        tables[key] = {"features": features, "probed_at": time.time()}
        _keep_feature_tables(dict(list(tables.items())[-FEATURE_TABLES_KEPT:]))
    return features


def kept_features(
    *, version: dict | None, buildx: str | None
) -> tuple[dict[str, bool], float] | None:
    """Return the features kept for this engine and buildx (probe_features) and when they were
    probed (seconds since the epoch), or None when none are kept."""
    table = _feature_tables().get(_features_key(version, buildx) or "")
    return (dict(table["features"]), table["probed_at"]) if table else None


def _features_key(version: dict | None, buildx: str | None) -> str | None:
    if not version or not buildx:
        return None  # nothing answers: nothing worth keeping
    parts = (
        docker_host(),
        *(str(version.get(k, "")) for k in ("Version", "GitCommit", "BuildTime")),
    )
    return " ".join((*parts, buildx))


def _features_path() -> Path | None:
    try:
        return Course.find().state / FEATURES_FILE
    except StagelabError:
        return None  # no home: probe every time


def _feature_tables() -> dict[str, dict]:
    path = _features_path()
    try:
        tables = json.loads(path.read_text()) if path else {}
    except (OSError, ValueError):
        return {}  # none kept yet, or unreadable: probe again
    return tables if isinstance(tables, dict) else {}


def _keep_feature_tables(tables: dict[str, dict]) -> None:
    path = _features_path()
    if path is None:
        return
    with contextlib.suppress(OSError):  # a read-only home only costs the next probe
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(json.dumps(tables, indent=1))
        scratch.replace(path)


def _probe(probe: tuple[str, dict]) -> bool:
    text, flags = probe
    with tempfile.TemporaryDirectory(prefix="stagelab-probe-") as tmp:
        (Path(tmp) / "probe").write_text("probe\n")
        (Path(tmp) / "Dockerfile").write_text(text)
        asks = "check" in flags or "call" in flags  # answers a question, builds nothing
        command = buildx_build_command(
            ".", progress="quiet", output=() if asks else PROBE_OUTPUT, **flags
        )
        done = subprocess.run(
            command, cwd=tmp, capture_output=True, text=True, timeout=120, check=False
        )
    return done.returncode == 0


# Where the docker CLI looks for its plugins (docker/cli cli-plugins/manager/manager_unix.go).
CLI_PLUGIN_FOLDERS = (
    "~/.docker/cli-plugins",
    "/usr/local/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
)
# Where client_options puts the engine's socket: /run, not /var/run, which is a link to /run in
# Debian images (the engine refuses to copy files into a container with a mount under a link).
SOCKET_INSIDE = "/run/docker.sock"


def client_options() -> dict:
    """Return options of a new container (docker SDK `containers.create`) that give it this
    engine: its socket, the docker CLI and buildx bind-mounted, and DOCKER_HOST set.

    "mounts" are bind mounts (`docker run --mount type=bind`, which refuses a source the
    engine cannot see, where `-v` would make an empty folder there): the engine's Unix socket at
    SOCKET_INSIDE, the CLI read-only at /usr/local/bin/docker and, when found, the buildx plugin
    read-only where the CLI looks for it; "environment" sets DOCKER_HOST to that socket. Raises
    StagelabError for an engine reached by another address than a Unix socket on this machine
    (its host cannot bind a file of this one) or when the docker CLI is not installed here; an
    engine on this socket that runs elsewhere (a classroom's engine container) refuses the
    mounts when the container is made: `access_refused` says so.
    """
    host = docker_host()
    cli = shutil.which("docker")
    if not host.startswith("unix://") or cli is None:
        raise StagelabError(
            "Giving a container the engine needs an engine on a Unix socket of this machine "
            f"and the docker CLI installed here; the engine is at {host}"
            f"{'' if cli else ' and no docker CLI is on PATH'}."
        )
    Mount = lazy.docker.types.Mount
    mounts = [
        Mount(SOCKET_INSIDE, host.removeprefix("unix://"), type="bind"),
        Mount("/usr/local/bin/docker", os.path.realpath(cli), type="bind", read_only=True),
    ]
    for folder in CLI_PLUGIN_FOLDERS:
        buildx = Path(folder).expanduser() / "docker-buildx"
        if buildx.is_file():
            target = "/usr/libexec/docker/cli-plugins/docker-buildx"
            mounts.append(Mount(target, str(buildx.resolve()), type="bind", read_only=True))
            break
    return {"mounts": mounts, "environment": [f"DOCKER_HOST=unix://{SOCKET_INSIDE}"]}


def access_refused(error: Exception) -> StagelabError:
    """The error for an engine that refused client_options' mounts (it cannot see this
    machine's files: it runs in another container or machine, as a classroom's engine may)."""
    return StagelabError(
        "This engine cannot be given to a container here: it does not see this machine's "
        f"files (it runs in a container or machine of its own). The engine said: {error}"
    )
