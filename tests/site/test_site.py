"""`make site`: every lesson and lab task as a static page, builds replayed, graphs included."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from stagelab import site

pytestmark = pytest.mark.lessons

GRAPH_CALLS = re.compile(r"\bsl\.graph\(|\.graph\(\)")
CHART_CALLS = {
    "stagelab-timeline": re.compile(r"\bsl\.timeline\("),
    "stagelab-sizes": re.compile(r"\bsl\.sizes\("),
}
HREF = re.compile(r'href="([^"#:]+\.html)(?:#[^"]*)?"')


def count_class(html: str, css_class: str) -> int:
    """Count the elements of a CSS class (nbconvert may rewrite the quotes)."""
    return len(re.findall(rf"class=[\"']{css_class}[\"']", html))


@pytest.fixture(scope="module")
def built(tmp_path_factory, replayed_course):
    """Build the site once, as `make site` does, into a temporary folder, from the session's
    runs of the lessons and lab tasks with no engine (tests/conftest.py)."""
    out = tmp_path_factory.mktemp("site") / "site"
    return out, site.build_site(out, runs=replayed_course)


def _code(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text())["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


@pytest.mark.parametrize("page", site.pages()[0], ids=lambda page: Path(page.path).stem)
def test_each_lesson_page_holds_its_graphs_charts_and_replayed_builds(built, page):
    out, _ = built
    html = (out / page.path).read_text()
    code = _code(page.source)
    graphs = sum(len(GRAPH_CALLS.findall(source)) for source in code)
    assert count_class(html, "stagelab-graph") == graphs
    assert html.count("<svg") >= graphs
    for css_class, calls in CHART_CALLS.items():
        assert count_class(html, css_class) == sum(len(calls.findall(s)) for s in code)
    if any("sl.build(" in source for source in code):
        assert "Replayed from a real build on Docker Engine" in html
        assert count_class(html, "stagelab-build")
    # Readable with no kernel: every live board became its summary, no cell failed.
    assert "application/vnd.jupyter.widget-view+json" not in html
    assert "Traceback" not in html and "does not hold:" not in html


def test_lab_pages_show_the_task_and_the_recorded_solution(built):
    out, _ = built
    for page in site.pages()[1]:
        html = (out / page.path).read_text()
        assert page.title.replace("·", "&#183;") in html or page.title in html
        assert "not checked" in html and "Replayed from a real build" in html


def test_contents_page_links_every_page_and_every_link_resolves(built):
    out, written = built
    lessons, labs = site.pages()
    contents = (out / "index.html").read_text()
    for page in lessons + labs:
        assert f'href="{page.path}"' in contents, page.path
    for path in written:
        for target in HREF.findall(path.read_text()):
            assert (path.parent / target).resolve().is_file(), f"{path.name}: {target}"


def _tiny_checkout(root: Path, lesson_code: str) -> Path:
    """A checkout with one lesson and one lab, whose cells print where they ran."""
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    lesson = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(
                "# 01 · Tiny\n\nNext: [the lab](../labs/01-tiny/task.ipynb)"
            ),
            nbformat.v4.new_code_cell(lesson_code),
        ],
        metadata={"kernelspec": kernelspec},
    )
    task = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("import os; print('labs in', os.environ['STAGELAB_LABS'])")
        ],
        metadata={"kernelspec": kernelspec},
    )
    (root / "notebooks").mkdir(parents=True)
    (root / "labs" / "01-tiny").mkdir(parents=True)
    nbformat.write(lesson, root / "notebooks" / "01_tiny.ipynb")
    nbformat.write(task, root / "labs" / "01-tiny" / "task.ipynb")
    (root / "labs" / "01-tiny" / "task.md").write_text("# Lab 01 · Tiny\n")
    (root / "labs" / "README.md").write_text("# Labs\n")
    return root


def test_make_site_on_its_own_runs_every_page_with_no_engine(tmp_path):
    checkout = _tiny_checkout(tmp_path / "checkout", "import os; print(os.environ['DOCKER_HOST'])")
    before = sorted(path for path in checkout.rglob("*"))
    written = site.build_site(tmp_path / "site", checkout)
    assert [path.relative_to(tmp_path / "site").as_posix() for path in written] == [
        "notebooks/01_tiny.html",
        "labs/01-tiny/task.html",
        "labs/README.html",
        "index.html",
    ]
    lesson = (tmp_path / "site" / "notebooks" / "01_tiny.html").read_text()
    assert "unix:///nonexistent.sock" in lesson
    assert 'href="../labs/01-tiny/task.html"' in lesson
    task = (tmp_path / "site" / "labs" / "01-tiny" / "task.html").read_text()
    assert "labs in /" in task and f"labs in {checkout / 'labs'}" not in task
    assert sorted(path for path in checkout.rglob("*")) == before, "the checkout is only read"


def test_a_failed_cell_stops_the_site_and_says_which(tmp_path):
    checkout = _tiny_checkout(tmp_path / "checkout", "1 / 0")
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        site.build_site(tmp_path / "site", checkout)
    assert not (tmp_path / "site").exists()
