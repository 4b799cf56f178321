"""Write every file that pins Python packages from the one source of pins: pyproject.toml.

    python scripts/pins.py           # (re)write the files
    python scripts/pins.py --check   # exit 1, naming each file that differs from its source

pyproject.toml holds stagelab's runtime dependencies (`[project] dependencies`), its extras
(`site`, `test`) and, under `[tool.stagelab.pins]`, the pins of environments that are not
stagelab's own (the classroom hub's, the Kubernetes learner image's JupyterHub). From them:

- environment.yml: a conda environment for development (runtime, site and test pins);
- binder/requirements.txt: what mybinder.org installs (the runtime pins only);
- classroom/requirements.txt: the hub's environment (`stagelab classroom up`);
- classroom/kubernetes/image/requirements.txt: the learner image's environment, installed
  before stagelab's own wheel (runtime pins, the image's smoke-test tools, its JupyterHub).
"""

from __future__ import annotations

import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
GENERATED = "# Generated from pyproject.toml by scripts/pins.py: change pins there, then run it."
# What the learner image's smoke test runs (stagelab classroom image --smoke): nbval, as
# `make test` runs the lessons.
IMAGE_SMOKE_TOOLS = ("nbval", "pytest")


def project_pins(root: Path = ROOT) -> dict[str, list[str]]:
    """Return pyproject.toml's pins by group: "runtime", each extra, and each environment of
    `[tool.stagelab.pins]`; each a list of `name==version` lines, sorted by name."""
    config = tomllib.loads((root / "pyproject.toml").read_text())
    groups = {"runtime": config["project"]["dependencies"]}
    groups.update(config["project"]["optional-dependencies"])
    groups.update(config["tool"]["stagelab"]["pins"])
    for name, pins in groups.items():
        unpinned = [pin for pin in pins if "==" not in pin]
        if unpinned:
            raise SystemExit(f"pyproject.toml: {name}: pin with == ({', '.join(unpinned)})")
    return {name: sorted(pins, key=_package) for name, pins in groups.items()}


def _package(pin: str) -> str:
    return pin.split("==")[0].lower()


def generated_files(root: Path = ROOT) -> dict[Path, str]:
    """Return each generated file's path and the text it must hold."""
    pins = project_pins(root)
    development = sorted(pins["runtime"] + pins["site"] + pins["test"], key=_package)
    smoke_tools = [pin for pin in pins["test"] if _package(pin) in IMAGE_SMOKE_TOOLS]
    return {
        root / "environment.yml": "\n".join(
            [
                GENERATED,
                "# A conda environment for developing stagelab.",
                "name: stagelab",
                "channels:",
                "  - conda-forge",
                "dependencies:",
                "  - python=3.11",
                "  - pip",
                "  - graphviz",
                "  - pip:",
                *(f"      - {pin}" for pin in development),
                "      - -e .",
                "",
            ]
        ),
        root / "binder" / "requirements.txt": "\n".join(
            [
                GENERATED,
                "# What mybinder.org (repo2docker) installs: stagelab's runtime dependencies.",
                *pins["runtime"],
                "",
            ]
        ),
        root / "classroom" / "requirements.txt": "\n".join(
            [
                GENERATED,
                "# The hub's own environment: `stagelab classroom up` installs it with stagelab.",
                *pins["classroom-hub"],
                "",
            ]
        ),
        root / "classroom" / "kubernetes" / "image" / "requirements.txt": "\n".join(
            [
                GENERATED,
                "# The learner image's Python environment (Dockerfile, stage python-env),",
                "# installed before stagelab's own wheel so that a change to stagelab's",
                "# source does not reinstall these.",
                "# stagelab's runtime dependencies:",
                *pins["runtime"],
                "# What the image's smoke test runs the lessons with:",
                *smoke_tools,
                "# jupyterhub-singleuser, in the chart's JupyterHub line (5.5) at the release",
                "# with the security fixes of the single-server hub's 6.1.1 (5.5.4); the",
                "# dashboard's HubOAuth comes from it:",
                *pins["kubernetes-learner"],
                "",
            ]
        ),
    }


def main(argv: list[str]) -> int:
    """Write the generated files, or with --check report those that differ; return the exit
    status (1 when a file differs under --check)."""
    check = "--check" in argv
    stale = []
    for path, text in generated_files().items():
        if path.exists() and path.read_text() == text:
            continue
        if check:
            stale.append(path.relative_to(ROOT))
        else:
            path.write_text(text)
            print(f"pins: wrote {path.relative_to(ROOT)}")
    for path in stale:
        print(f"pins: {path} differs from pyproject.toml's pins: run python scripts/pins.py")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
