"""The package's map: README's module table is pyproject.toml's import-linter layers, every
module sits in a layer, and no public name means two things in two modules."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "stagelab"
Layers = list[set[str]]  # from the bottom

# Collisions in parts restructured on their own (the classroom, its Kubernetes form, the
# course's folders), each with the part that resolves it; an entry goes once its collision is
# gone (the test says so).
PENDING: dict[str, str] = {}
# Names that may repeat: a runnable module's entry point; the lab criterion that a Dockerfile
# builds (labs.builds, as checks.py reads it) beside the module of sl.build, one meaning.
SHARED = {"main", "builds"}


def contracts() -> dict[str, Layers]:
    """Return each container's layers from the bottom: {"stagelab": [...], "labs": [...]}."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    found = {}
    for contract in config["contracts"]:
        if contract["type"] != "layers":
            continue
        for container in contract["containers"]:
            name = container.removeprefix("stagelab").removeprefix(".") or "stagelab"
            found[name] = [
                {module.strip() for module in layer.split("|")}
                for layer in reversed(contract["layers"])
            ]
    return found


def _split_outside_parentheses(text: str, separator: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == separator and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [part.strip() for part in parts + [current] if part.strip()]


def readme_table() -> tuple[Layers, dict[str, Layers]]:
    """Read README's "Inside the package" table: the package's layers from the bottom, and each
    subpackage's (`name/` (a, b; c): a and b in its lowest layer, c above them)."""
    section = (ROOT / "README.md").read_text().split("## Inside the package", 1)[1]
    rows = [line for line in section.split("\n## ", 1)[0].splitlines() if line.startswith("|")]
    layers, subpackages = [], {}
    for row in rows[2:]:  # after the header and its rule
        cell = row.strip("|").split("|", 1)[1]
        layer = set()
        for item in _split_outside_parentheses(cell, ","):
            match = re.match(r"(?:and inside it )?`(\w+(?:/\w+)*)(/?)`[^(]*(?:\((.*)\))?", item)
            assert match, f"README's module table: {item!r} does not start with a `module`"
            path, is_package, inside = match.groups()
            name = path.replace("/", ".")
            if "." not in name:  # a subpackage's subpackage sits in its parent's layers
                layer.add(name)
            if is_package:
                assert inside, f"README's module table: `{name}/` lists its modules in ()"
                subpackages[name] = [
                    {word.split()[0] for word in part.split(",")} for part in inside.split(";")
                ]
        layers.append(layer)
    return layers, subpackages


def modules_in(folder: Path) -> set[str]:
    """Return the modules and subpackages in a package folder (not its __init__)."""
    return {
        path.stem if path.is_file() else path.name
        for path in folder.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").exists()
    }


def test_readme_module_table_is_the_import_layers():
    layers, subpackages = readme_table()
    contract = contracts()
    assert layers == contract["stagelab"], (
        "README's module table, row by row from the bottom, must list the layers of "
        "pyproject.toml's stagelab contract"
    )
    assert subpackages == {name: found for name, found in contract.items() if name != "stagelab"}


def test_every_module_sits_in_a_layer():
    for container, layers in contracts().items():
        folder = PACKAGE if container == "stagelab" else PACKAGE / container.replace(".", "/")
        assert set().union(*layers) == modules_in(folder), container
    packages = {
        ".".join(path.parent.relative_to(PACKAGE).parts)
        for path in PACKAGE.rglob("__init__.py")
        if path.parent != PACKAGE
    }
    assert packages == set(contracts()) - {"stagelab"}, "every subpackage has its layers"


def public_definitions() -> dict[str, set[str]]:
    """Map each public name to the places that define it: modules (top-level def, class or
    assignment) and module files of that name, `module:` marking the latter."""
    places = defaultdict(set)
    for path in sorted(PACKAGE.rglob("*.py")):
        dotted = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        dotted = dotted.removesuffix(".__init__")
        if path.stem != "__init__":
            places[path.stem].add("module:" + dotted)
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [target.id for target in node.targets if isinstance(target, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            else:
                names = []
            for name in names:
                if not name.startswith("_"):
                    places[name].add(dotted)
    return places


def collisions() -> dict[str, set[str]]:
    """Return the names that two modules define, or one defines while another module has that
    name; a module defining its namesake (doctor.doctor) and two modules of one name in sibling
    packages (classroom.layout, classroom.kubernetes.layout: named by their package) are no
    collision."""
    found = {}
    for name, places in public_definitions().items():
        modules = {place.removeprefix("module:") for place in places if place.startswith("module:")}
        definers = {place for place in places if not place.startswith("module:")}
        others = {module for module in modules if module not in definers}
        if len(definers) > 1 or (definers and others):
            found[name] = places
    return found


def test_no_public_name_means_two_things():
    found = collisions()
    new = {name: sorted(found[name]) for name in set(found) - set(PENDING) - SHARED}
    assert not new, f"public names defined in two places, rename one: {new}"
    gone = set(PENDING) - set(found)
    assert not gone, f"resolved: remove {sorted(gone)} from PENDING"


def test_the_collision_finder_tells_collisions_from_names_by_place(tmp_path, monkeypatch):
    files = {
        "a.py": "def run():\n    pass\n\n\nStep = 1\n_private = 1\n",
        "b.py": "class Step:\n    pass\n\n\ndef plan():\n    pass\n\n\n_private = 2\n",
        "doctor.py": "def doctor():\n    pass\n",
        "sub/__init__.py": "",
        "sub/plan.py": "",
        "sub/layout.py": "",
        "other/__init__.py": "",
        "other/layout.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.setitem(globals(), "PACKAGE", tmp_path)
    assert set(collisions()) == {"Step", "plan"}


def test_readme_lists_every_lesson_and_lab_and_every_command():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Lessons and labs", 1)[1].split("\n## ", 1)[0]
    rows = {line.split()[1] for line in table.splitlines() if line.startswith("| ")}
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert notebook.name[:2] in rows, f"README's lessons table has no row {notebook.name}"
    for lab in sorted((ROOT / "labs").glob("[0-9][0-9]-*/")):
        assert lab.name in table, f"README's lessons table names no lab {lab.name}"
    commands = readme.split("## The command line", 1)[1].split("\n## ", 1)[0]
    assert "stagelab why" in commands and "--why" in commands
    assert "each stage builds its own image" not in readme  # true of the classic builder only
