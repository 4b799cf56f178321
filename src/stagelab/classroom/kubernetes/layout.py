"""The Kubernetes classroom's images: their Dockerfile, names and targets, the files of their
named build contexts, and what the build machine tells a build (its certificates, apt policy).

The Dockerfile and the config are files of a checkout (classroom/kubernetes/): the one stagelab
runs from (layout.source_checkout), found when asked.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ...images import STANDS_IN_LABEL, labels
from ..layout import ClassroomError, source_checkout

# Where a checkout keeps the Kubernetes classroom's files, and the images' in there.
KUBERNETES_FOLDER = Path("classroom") / "kubernetes"
IMAGE_FOLDER = KUBERNETES_FOLDER / "image"
# The dashboard's module, which dashboard.yaml runs from the learner image in its own pod.
KUBERNETES_DASHBOARD_MODULE = "stagelab.classroom.kubernetes.dashboard"

# The named build contexts of image/Dockerfile, and the archive's name in the second.
SOURCE_CONTEXT = "stagelab-source"
ARCHIVE_CONTEXT = "base-images-archive"
ARCHIVE_NAME = "stagelab-images.tar"
# The build secret pip trusts when given (a TLS-inspecting proxy's certificate, say).
CA_SECRET = "ca-certificates"
# Where the pod's engine puts its socket: a volume both containers of the pod mount.
SOCKET_DIR = "/run/stagelab-engine"
# The io.stagelab.kind of these images: `stagelab clean` removes builds, not these.
IMAGE_KIND = "classroom-image"


@dataclass(frozen=True)
class ImageSpec:
    """One image of the classroom: the Dockerfile target that makes it and its name."""

    target: str
    repository: str

    @property
    def ref(self) -> str:
        """Return `repository:tag`, the tag being stagelab's version (config.yaml names it)."""
        return f"{self.repository}:{importlib.metadata.version('stagelab')}"


LEARNER = ImageSpec("learner", "stagelab/classroom-learner")
ENGINE = ImageSpec("engine", "stagelab/classroom-engine")


def checkout() -> Path:
    """Return the checkout stagelab runs from; ClassroomError for an installed copy."""
    return source_checkout("Building the classroom's images")


def image_folder(root: Path | None = None) -> Path:
    """Return the folder of the images' Dockerfile in the checkout `root` (default: the one
    stagelab runs from); ClassroomError when it has none."""
    folder = (root or checkout()) / IMAGE_FOLDER
    if not (folder / "Dockerfile").is_file():
        raise ClassroomError(
            f"No {folder / 'Dockerfile'}: building the classroom's "
            "images needs a stagelab checkout (git clone, then make setup)."
        )
    return folder


# The checkout's files the learner image needs (the named context stagelab-source): the
# package's source (the dashboards are modules of it), the course as committed (labs as
# .gitignore keeps them).
_SOURCE_PATTERNS = [
    "pyproject.toml",
    "README.md",
    "src/stagelab/**/*.py",
    "src/stagelab/recordings/*.json",
    "notebooks/*.ipynb",
    "labs/*/checks.py",
    "labs/*/task.ipynb",
    "labs/*/task.md",
    "labs/*/starter/**/*",
    "labs/*/solution/**/*",
    "classroom/kubernetes/image/*",
]
_LAB_FOLDER = re.compile(r"^labs/\d\d-[a-z0-9-]+/")


def source_files(root: Path | None = None) -> list[Path]:
    """Return the files of the checkout `root` (default: the one stagelab runs from) that go
    into the learner image, relative and sorted.

    Learners' own working files in labs/ (the ones .gitignore leaves out) and caches are not
    among them.
    """
    root = root or checkout()
    found = set()
    for pattern in _SOURCE_PATTERNS:
        for path in root.glob(pattern):
            relative = path.relative_to(root)
            parts = set(relative.parts)
            kept = not parts & {"__pycache__", ".ipynb_checkpoints", ".backups"}
            in_a_lab = relative.parts[0] != "labs" or _LAB_FOLDER.match(relative.as_posix())
            if path.is_file() and kept and in_a_lab:
                found.add(relative)
    return sorted(found)


def copy_source(destination: Path, root: Path | None = None) -> int:
    """Copy source_files() of the checkout `root` (default: the one stagelab runs from) into
    `destination` (made if missing); return how many."""
    root = root or checkout()
    files = source_files(root)
    for relative in files:
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, target)
    return len(files)


def ca_bundle() -> Path | None:
    """Return the certificate bundle this machine's pip and requests trust, or None.

    Order: PIP_CERT, REQUESTS_CA_BUNDLE, SSL_CERT_FILE, then OpenSSL's default file; the first
    that is a file wins.
    """
    candidates = [
        os.environ.get(name) for name in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
    ]
    candidates.append(ssl.get_default_verify_paths().cafile)
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def apt_checks_valid_until() -> bool:
    """Tell whether this machine's apt refuses Release files past their Valid-Until date.

    Reads `apt-config dump` (apt.conf(5): Acquire::Check-Valid-Until, default true); True
    where apt is missing.
    """
    if shutil.which("apt-config") is None:
        return True
    done = subprocess.run(
        ["apt-config", "dump", "Acquire::Check-Valid-Until"],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r'^Acquire::Check-Valid-Until "([^"]*)";', done.stdout, re.MULTILINE)
    return found is None or found.group(1).lower() not in ("false", "no", "0", "off")


def image_labels(spec: ImageSpec) -> dict[str, str]:
    """Return the labels of a classroom image: stagelab's, its kind, and the OCI ones."""
    return {
        **labels(IMAGE_KIND),
        # Labels pass from a base image to its children: the python stand-in's would
        # claim that this image stands in for python:3.11-slim-bookworm.
        STANDS_IN_LABEL: "",
        "org.opencontainers.image.title": spec.repository,
        "org.opencontainers.image.version": importlib.metadata.version("stagelab"),
        "org.opencontainers.image.description": (
            f"stagelab's Kubernetes classroom, target {spec.target} of "
            "classroom/kubernetes/image/Dockerfile"
        ),
    }
