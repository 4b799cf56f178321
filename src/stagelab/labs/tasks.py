"""Each lab's task notebook, generated from one template plus the lab's own text (task.md).

The template (labs/task_template.ipynb) holds the cells every lab shares; `{task}` stands for
the lab's task.md and `{number}` for its number. `stagelab lab tasks` writes every task.ipynb;
a test fails when a committed one differs from what the template makes.
"""

from __future__ import annotations

import json
from pathlib import Path

from .catalogue import Lab, all_labs, labs_root

TEMPLATE = "task_template.ipynb"


def task_notebook(lab: Lab) -> str:
    """Return the text of `lab`'s task notebook as the template makes it (nbformat 4 JSON)."""
    template = json.loads((labs_root() / TEMPLATE).read_text())
    task = (lab.path / "task.md").read_text().rstrip("\n")
    for cell in template["cells"]:
        source = "".join(cell["source"]).replace("{task}", task).replace("{number}", lab.number)
        cell["source"] = source.splitlines(keepends=True)
    return json.dumps(template, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write_task_notebooks() -> list[Path]:
    """Write every lab's task.ipynb from the template; return the ones that changed."""
    changed = []
    for lab in all_labs():
        path = lab.path / "task.ipynb"
        text = task_notebook(lab)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed
