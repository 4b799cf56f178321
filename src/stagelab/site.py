"""`make site`: the course as a static website, readable with no Docker engine and no kernel.

Every lesson and every lab's task notebook is run with no engine, so each build replays its
recording (graphs, tables, charts and the replay banner included), then rendered to HTML by
nbconvert (https://nbconvert.readthedocs.io/). The pages keep the repository's layout, so the
lessons' relative links work: site/index.html (the contents), site/notebooks/NN_topic.html,
site/labs/NN-topic/task.html and site/labs/README.html.

    python -m stagelab.site [OUT]      # default: site/ in the checkout
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from . import recording
from .course import Course

# A socket nothing listens on: stagelab finds no engine and replays its recordings.
NO_ENGINE = "unix:///nonexistent.sock"
CELL_TIMEOUT_S = 600
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


def build_site(out: Path, checkout: Path | None = None) -> list[Path]:
    """Render the course into `out` (replaced if it exists); return the pages written.

    Notebooks run in a temporary copy of the labs, with no engine and no recording, so nothing
    in the checkout changes. Raises nbclient's CellExecutionError when a cell fails: a page
    must show the lesson as it runs.
    """
    checkout = checkout or Course.find().root
    lessons, labs = pages(checkout)
    if out.exists():
        shutil.rmtree(out)
    written = []
    with tempfile.TemporaryDirectory(prefix="stagelab-site-") as tmp:
        work = Path(tmp)
        shutil.copytree(
            checkout / "labs",
            work / "labs",
            ignore=shutil.ignore_patterns(".backups", ".ipynb_checkpoints"),
        )
        environment = _no_engine_environment(work)
        for page in lessons + labs:
            folder = (
                page.source.parent if page in lessons else work / "labs" / page.source.parent.name
            )
            notebook = nbformat.read(page.source, as_version=4)
            # Local sockets (ipc): the kernel has no TCP port to warn about.
            kernel = KernelManager(
                kernel_name="python3",
                transport="ipc",
                connection_file=str(work / f"kernel-{len(written)}.json"),
            )
            NotebookClient(
                notebook,
                km=kernel,
                timeout=CELL_TIMEOUT_S,
                store_widget_state=False,
                resources={"metadata": {"path": str(folder)}},
            ).execute(env=environment, cleanup_kc=True)
            written.append(_write(out / page.path, notebook))
    written.append(
        _write(
            out / "labs/README.html", _markdown_notebook((checkout / "labs/README.md").read_text())
        )
    )
    written.append(_write(out / "index.html", _contents(lessons, labs)))
    return written


def _no_engine_environment(work: Path) -> dict:
    env = {
        **os.environ,
        "DOCKER_HOST": NO_ENGINE,
        "STAGELAB_LABS": str(work / "labs"),
        "STAGELAB_HOME": str(work / "home"),
        "TMPDIR": str(work),
    }
    for name in (recording.RECORD_ENV, recording.DIRECTORY_ENV):
        env.pop(name, None)
    return env


def _write(path: Path, notebook) -> Path:
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
