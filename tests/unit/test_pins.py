"""pyproject.toml, environment.yml and binder/ pin the same dependencies alike."""

import importlib.util
import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^\s*-?\s*([A-Za-z0-9_.-]+)==([^\s#]+)", re.MULTILINE)


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [
        r for extra in project["optional-dependencies"].values() for r in extra
    ]
    pins = dict(PIN.findall("\n".join(requirements)))
    assert len(pins) == len(requirements), "every dependency is pinned with =="
    return {name.lower(): version for name, version in pins.items()}


def file_pins(path: Path) -> dict[str, str]:
    return {name.lower(): version for name, version in PIN.findall(path.read_text())}


def test_environment_yml_matches_pyproject():
    assert file_pins(ROOT / "environment.yml") == pyproject_pins()


def test_binder_pins_match_pyproject():
    found = {}
    for path in (ROOT / "binder").glob("*"):
        if path.name in ("requirements.txt", "environment.yml"):
            found.update(file_pins(path))
    assert found, "binder/ declares its dependencies"
    runtime = {k: v for k, v in pyproject_pins().items() if k in found}
    assert found == runtime, "binder/ pins a subset of pyproject's pins, at the same versions"
    assert {"docker", "dockerfile", "ipywidgets", "jupyterlab"} <= set(found)


def _pins_script():
    spec = importlib.util.spec_from_file_location("pins", ROOT / "scripts" / "pins.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_pinning_file_is_generated_from_pyproject():
    stale = [
        str(path.relative_to(ROOT))
        for path, text in _pins_script().generated_files().items()
        if not path.exists() or path.read_text() != text
    ]
    assert not stale, f"{stale} differ from pyproject.toml's pins: run python scripts/pins.py"


def test_runtime_dependencies_hold_no_test_tools():
    runtime = {pin.split("==")[0].lower() for pin in _pins_script().project_pins()["runtime"]}
    assert not runtime & {"nbval", "papermill", "pytest", "hypothesis", "ruff", "jupytext"}
