"""The package's shape: layers (import-linter), no deferred imports, slow libraries loaded at
first use (stagelab.lazy), a documented public API that the lessons and labs keep to, small
modules."""

import ast
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import stagelab as sl
from stagelab import lazy

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "stagelab"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 400


def test_layers_hold_with_import_linter():
    """pyproject.toml's contracts: no upward import, no cycle between layers."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "broken" in done.stdout and " 0 broken" in done.stdout


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_inside_a_function(path):
    tree = ast.parse(path.read_text())
    deferred = [
        f"line {node.lineno}: {ast.unparse(node)}"
        for function in ast.walk(tree)
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(function)
        if isinstance(node, (ast.Import, ast.ImportFrom))
    ]
    assert not deferred, f"{path.name} imports inside a function: {deferred}"


# Libraries that take long to import (with what they bring: numpy, urllib3, ...): `import
# stagelab`, and the command line's module, load none of them; they come when first used.
SLOW_TO_IMPORT = (
    "IPython",
    "PIL",
    "docker",
    "graphviz",
    "ipykernel",
    "ipywidgets",
    "jupyter_client",
    "jupyterhub",
    "matplotlib",
    "nbclient",
    "nbconvert",
    "nbformat",
    "numpy",
    "requests",
    "tornado",
    "urllib3",
)


@pytest.mark.parametrize("module", ["stagelab", "stagelab.cli"])
def test_importing_loads_no_slow_library(module):
    """In a fresh interpreter: what sys.modules holds after the import, not how long it took."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert loaded.isdisjoint(SLOW_TO_IMPORT), sorted(loaded & set(SLOW_TO_IMPORT))


def test_no_engine_behind_a_missing_socket_is_found_without_the_docker_sdk():
    """As on Binder and in the no-engine runs of the lessons: every build asks first."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from stagelab import engine; "
            "print(engine.answers(), engine.ping(), 'docker' in sys.modules)",
        ],
        env={**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split() == ["False", "None", "False"]


def test_each_lazy_library_is_the_module_it_names():
    for name, module in lazy.MODULES.items():
        assert getattr(lazy, name) is sys.modules[module]
        assert lazy.imported(name)
    assert set(lazy.MODULES) <= set(dir(lazy))
    with pytest.raises(AttributeError, match="no attribute 'numpy'"):
        lazy.numpy  # noqa: B018  (only the libraries it lists)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


@pytest.mark.parametrize("name", sl.__all__)
def test_every_public_name_is_documented(name):
    value = getattr(sl, name)
    if isinstance(value, (str, dict)):
        return  # constants: image names and the stand-in table
    doc = inspect.getdoc(value) or ""
    assert len(doc) > 20, f"sl.{name} needs a docstring saying what goes in and comes out"
    if inspect.isfunction(value) and "Raises" not in doc and "raise" not in doc.lower():
        # Functions that can fail say how; those that cannot say what they return.
        assert "Return" in doc or "return" in doc, f"sl.{name}: say what it returns"


def _notebooks():
    yield from sorted((ROOT / "notebooks").glob("*.ipynb"))
    yield from sorted((ROOT / "labs").glob("*/task.ipynb"))


@pytest.mark.parametrize("notebook", list(_notebooks()), ids=lambda p: p.stem)
def test_notebooks_use_only_the_public_api(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    code = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    imports = re.findall(r"^\s*(?:from|import)\s+(stagelab\S*)(.*)$", code, re.MULTILINE)
    assert imports == [("stagelab", " as sl")], imports
    used = set(re.findall(r"\bsl\.(\w+)", code))
    assert used <= set(sl.__all__) | {"lab"}, used - set(sl.__all__)


def test_lab_checks_use_public_names():
    for checks in sorted((ROOT / "labs").glob("*/checks.py")):
        text = checks.read_text()
        used = set(re.findall(r"\bsl\.(\w+)", text))
        assert used <= set(sl.__all__), (checks, used - set(sl.__all__))
        modules = set(re.findall(r"^from (stagelab\S*) import", text, re.MULTILINE))
        assert modules <= {"stagelab", "stagelab.labs"}, (checks, modules)
