"""The Zero to JupyterHub chart's own values and schema, and Helm's way of merging a config.

The chart's files (values.yaml, values.schema.yaml) are not part of this repository: the
workplace keeps them in a `shared/z2jh/` folder beside the checkouts (its README says where
they come from). They are looked for in every folder above the repository, and, for a clone
made elsewhere (CI clones main into a folder of its own), above the checkout it was cloned from.
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "classroom" / "kubernetes" / "config.yaml"
# The unprivileged engine under Sysbox, applied over CONFIG (helm -f config.yaml -f sysbox.yaml).
SYSBOX = ROOT / "classroom" / "kubernetes" / "sysbox.yaml"
# Kubernetes' schemas the pieces the chart passes through unchecked are validated against: the
# oldest Kubernetes the chart supports (Chart.yaml kubeVersion >= 1.32).
KUBERNETES_VERSION = "1.32.0"
# The dashboard's own objects (kubectl apply -f dashboard.yaml), beside the chart's.
DASHBOARD = ROOT / "classroom" / "kubernetes" / "dashboard.yaml"


def chart_folder() -> Path | None:
    """Return the nearest `shared/z2jh` folder that holds the schema, above the repository or
    above the local checkout it was cloned from."""
    for checkout in [ROOT, *_cloned_from()]:
        for folder in checkout.parents:
            if (folder / "shared" / "z2jh" / "values.schema.yaml").is_file():
                return folder / "shared" / "z2jh"
    return None


def _cloned_from() -> list[Path]:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "remote", "get-url", "origin"],
        capture_output=True,
        text=True,
        check=False,
    )
    origin = Path(done.stdout.strip()) if done.returncode == 0 else None
    return (
        [origin.resolve()]
        if origin is not None and origin.is_absolute() and origin.is_dir()
        else []
    )


def chart_files() -> tuple[dict, dict]:
    """Return the chart's default values and its schema; skip the test, saying why, when the
    chart's files are not beside this repository."""
    folder = chart_folder()
    if folder is None:
        pytest.skip(
            "The Zero to JupyterHub chart's values.yaml and values.schema.yaml are not "
            f"in a shared/z2jh/ folder above {ROOT} (or above the checkout it was cloned "
            "from): the config cannot be checked "
            "against the chart's schema here."
        )
    return (
        yaml.safe_load((folder / "values.yaml").read_text()),
        yaml.safe_load((folder / "values.schema.yaml").read_text()),
    )


def load_config(*overlays: Path) -> dict:
    """Return classroom/kubernetes/config.yaml as data, with each of `overlays` (values files
    given after it to helm) merged over it in turn."""
    config = yaml.safe_load(CONFIG.read_text())
    for overlay in overlays:
        config = helm_merge(config, yaml.safe_load(overlay.read_text()))
    return config


def helm_merge(defaults: dict, overrides: dict) -> dict:
    """Return `overrides` merged over `defaults` as Helm merges a values file over a chart's.

    Maps merge key by key, anything else (lists included) replaces the default, and a null
    deletes the default's key (helm.sh/docs/chart_template_guide/values_files/, "Deleting a
    default key").
    """
    merged = copy.deepcopy(defaults)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = helm_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def dashboard_objects() -> dict[str, dict]:
    """Return the objects of classroom/kubernetes/dashboard.yaml by kind (one of each)."""
    objects = [item for item in yaml.safe_load_all(DASHBOARD.read_text()) if item]
    by_kind = {item["kind"]: item for item in objects}
    assert len(by_kind) == len(objects), "one object of each kind"
    return by_kind
