"""`make site`: the course as a static website, readable with no Docker engine and no kernel.

Every lesson and every lab's task notebook is run with no engine, so each build replays its
recording (graphs, tables, charts and the replay banner included), several at once
(notebook_runs.py), then rendered to HTML by nbconvert (https://nbconvert.readthedocs.io/).
The test suite runs them once (`page_runs`) and hands those runs to `build_site`. The pages
keep the repository's layout, so the lessons' relative links work: site/index.html (the
contents), site/notebooks/NN_topic.html, site/labs/NN-topic/task.html and site/labs/README.html.

    python -m stagelab.site [OUT]      # default: site/ in the checkout
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

from .course import Course
from .notebook_runs import NotebookRun, run_notebooks

# Notebooks that run at once: each has a kernel of its own, busy on one core.
WORKERS = os.cpu_count() or 1
# A relative link to a notebook or a Markdown file, as lessons write them: [text](../x.ipynb).
RELATIVE_LINK = re.compile(r"\]\((?![a-z]+:)([^)\s#]+)\.(?:ipynb|md)(#[^)\s]*)?\)")


@dataclass
class Page:
    """One page of the site: its source, where it goes (relative to the site) and its title."""

    source: Path
    path: str
    title: str


def pages(checkout: Path | None = None) -> tuple[list[Page], list[Page]]:
    """Return the lessons' pages and the labs' pages of a course folder (default: the course
    found, course.py), in reading order."""
    checkout = checkout or Course.find().root
    lessons = [
        Page(path, f"notebooks/{path.stem}.html", _first_heading(path))
        for path in sorted((checkout / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    ]
    labs = [
        Page(path, f"labs/{path.parent.name}/task.html", _first_heading(path.parent / "task.md"))
        for path in sorted((checkout / "labs").glob("[0-9][0-9]-*/task.ipynb"))
    ]
    return lessons, labs


def page_runs(
    work: Path, checkout: Path | None = None, workers: int = WORKERS
) -> dict[Path, NotebookRun]:
    """Run every page's notebook with no engine, `workers` at a time; return the runs by the
    notebook's path in the checkout (lessons first, then lab tasks, in reading order).

    Lessons run in the checkout's notebooks/ (they only read there); lab tasks in a copy of
    labs/ under `work`, which also holds each run's kernel, home and temporary folder, so
    nothing in the checkout changes. A failed cell does not raise here: see NotebookRun.
    """
    checkout = checkout or Course.find().root
    lessons, labs = pages(checkout)
    shutil.copytree(
        checkout / "labs",
        work / "labs",
        ignore=shutil.ignore_patterns(".backups", ".ipynb_checkpoints"),
        dirs_exist_ok=True,
    )
    runs = [NotebookRun(page.source, page.source.parent, page.source.stem) for page in lessons]
    runs += [
        NotebookRun(page.source, work / "labs" / page.source.parent.name, page.source.parent.name)
        for page in labs
    ]
    run_notebooks(runs, work, workers, environment={"STAGELAB_LABS": str(work / "labs")})
    return {run.source: run for run in runs}


def lesson_variants(checkout: Path | None = None) -> list[tuple[Path, dict]]:
    """Return (lesson notebook, parameters) for every parameter set a lesson invites its reader
    to try, besides its defaults: the `stagelab.replays` list of its metadata (its source's
    front matter). Binder replays these, so `make recordings` records them too."""
    lessons, _ = pages(checkout or Course.find().root)
    found = []
    for page in lessons:
        metadata = nbformat.read(page.source, as_version=4).metadata
        found += [
            (page.source, dict(values))
            for values in metadata.get("stagelab", {}).get("replays", [])
        ]
    return found


def variant_runs(
    work: Path, checkout: Path | None = None, workers: int = WORKERS
) -> list[NotebookRun]:
    """Run every lesson variant (`lesson_variants`) with no engine, as `page_runs` runs pages;
    return the runs, in reading order."""
    runs = [
        NotebookRun(source, source.parent, f"{source.stem}--{index}", parameters=values)
        for index, (source, values) in enumerate(lesson_variants(checkout))
    ]
    return run_notebooks(runs, work, workers)


def build_site(
    out: Path, checkout: Path | None = None, runs: dict[Path, NotebookRun] | None = None
) -> list[Path]:
    """Render the course into `out` (replaced if it exists); return the pages written.

    `runs` are the pages' notebooks as `page_runs` ran them; without them this runs them first,
    in a temporary folder. Raises nbclient's CellExecutionError when a cell failed (RuntimeError
    when a notebook stopped early): a page must show the lesson as it runs.
    """
    checkout = checkout or Course.find().root
    if runs is None:
        with tempfile.TemporaryDirectory(prefix="stagelab-site-") as work:
            return build_site(out, checkout, page_runs(Path(work), checkout))
    lessons, labs = pages(checkout)
    for page in lessons + labs:
        runs[page.source].raise_for_errors()
    if out.exists():
        shutil.rmtree(out)
    written = [_write(out / page.path, runs[page.source].notebook) for page in lessons + labs]
    written.append(
        _write(
            out / "labs/README.html", _markdown_notebook((checkout / "labs/README.md").read_text())
        )
    )
    written.append(_write(out / "index.html", _contents(lessons, labs)))
    return written


def _write(path: Path, notebook) -> Path:
    # A copy: the runs stay as they ran, for whoever else reads them.
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = RELATIVE_LINK.sub(r"](\1.html\2)", cell.source)
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


def _first_heading(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        text = "".join(nbformat.reads(text, as_version=4).cells[0].source)
    return next(
        (line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("# ")),
        path.stem,
    )


def _markdown_notebook(text: str):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(text)]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return notebook


def _contents(lessons: list[Page], labs: list[Page]):
    lines = [
        "# stagelab: what exactly is a build stage?",
        "",
        "Lessons and labs that answer the question with real builds. These pages show "
        "each lesson as it runs: every build is a replayed recording of a real one, made "
        "on a Docker engine (a banner under each build says which engine, and when). To "
        "run them yourself, clone the repository and run `make lab`.",
        "",
        "## Lessons",
        "",
    ]
    lines += [f"- [{page.title}]({page.path})" for page in lessons]
    lines += [
        "",
        "## Labs",
        "",
        "Each lab has a task, starter files to edit, checks that build your files, hints "
        "and a solution: [how labs work](labs/README.html). Here each task shows what "
        "its check says with no engine, and a recorded build of its solution.",
        "",
    ]
    lines += [f"- [{page.title}]({page.path})" for page in labs]
    return _markdown_notebook("\n".join(lines))


def main(argv: list[str]) -> int:
    """Build the site into argv[0] (default: site/ in the checkout); print where it went."""
    out = Path(argv[0]) if argv else Course.find().root / "site"
    written = build_site(out)
    print(f"wrote {len(written)} pages to {out}; open {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
