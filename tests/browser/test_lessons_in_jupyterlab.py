"""Every lesson in JupyterLab: each build's result appears once.

The lessons ran once for the session with no engine (the `replayed_course` fixture, in
tests/conftest.py: their builds replay the recordings), so the pages are the same on every run;
what this checks is how JupyterLab shows them. Each executed lesson opens in JupyterLab as a
learner's own run of it does (signed, so trusted). A build shows as one block (its board, which
turns into its summary, or its failure in red) carrying the build's number: no number may
appear twice, no failure's message may be repeated as text, and every cell that builds shows
its build.

One lesson also runs live, with Run All, as a learner on Binder runs it: a saved notebook keeps
only the last state of each board, so only a live run shows that JupyterLab itself turns each
board into its summary when a replayed build replaces its board at once (test_jupyterlab.py
watches live boards tick on a real engine).
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import nbformat
import pytest
from lab_in_browser import (
    NEWS_QUESTION,
    ROOT,
    SCREENSHOTS,
    chromium_page,
    jupyterlab_server,
    run_all_cells,
)
from nbformat.sign import NotebookNotary

pytestmark = [pytest.mark.browser, pytest.mark.lessons]

LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NO_ENGINE = "unix:///nonexistent.sock"
BUILDS = re.compile(r"\bsl\.build\(")
REFUSAL_CAUGHT = re.compile(r"except sl\.(?:DockerfileError|StagelabError)\b")
# Show every cell in the page: JupyterLab otherwise draws only the cells in view.
WHOLE_NOTEBOOK = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": '{"windowingMode": "none"}'
}
# The lesson run live: the most kinds of views (a failure, a timeline, seven builds).
LIVE_LESSON = ROOT / "notebooks" / "04_choosing_what_to_build.ipynb"
FINISHED = """() => {
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')];
  return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent))
         && document.body.innerText.includes('| Idle');
}"""


def _kernel_environment(work: Path) -> dict:
    return {"DOCKER_HOST": NO_ENGINE, "STAGELAB_HOME": str(work / "home"), "TMPDIR": str(work)}


@pytest.fixture(scope="module")
def lab_of_runs(tmp_path_factory, replayed_course):
    """JupyterLab over the session's executed lessons (in notebooks/, signed as trusted)."""
    work = tmp_path_factory.mktemp("lessons-in-jupyterlab")
    for folder in ("course/notebooks", "data"):
        (work / folder).mkdir(parents=True)
    # The server trusts what this notary signs: both use the secret in JUPYTER_DATA_DIR.
    notary = NotebookNotary(data_dir=str(work / "data"))
    for lesson in LESSONS:
        executed = replayed_course[lesson].notebook
        notary.sign(executed)
        nbformat.write(executed, work / "course" / "notebooks" / lesson.name)
    env = {**_kernel_environment(work), "JUPYTER_DATA_DIR": str(work / "data")}
    with jupyterlab_server(work / "course", work, env, WHOLE_NOTEBOOK) as server:
        yield server, work


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    """One Chromium page for the module (Playwright drives one browser at a time per thread):
    each test opens its lesson in it."""
    with chromium_page(tmp_path_factory.mktemp("chromium"), height=1400) as page:
        yield page


@pytest.fixture(scope="module")
def live_lab(tmp_path_factory):
    """JupyterLab over the checkout, its kernels with no engine (the lessons replay)."""
    work = tmp_path_factory.mktemp("lesson-live-in-jupyterlab")
    with jupyterlab_server(ROOT, work, _kernel_environment(work), WHOLE_NOTEBOOK) as server:
        yield server, work


def _cells_that_build(lesson: Path, executed) -> list[int]:
    """Return the indexes of the cells that build: each calls sl.build, except a cell that
    catches stagelab's refusal where its run shows no build (stagelab refused before any engine,
    as the classic builder asked for `output=`: there is nothing to show). `executed` is the
    lesson's run (nbformat), None to count every cell that calls sl.build."""
    cells = json.loads(lesson.read_text())["cells"]
    return [
        index
        for index, cell in enumerate(cells)
        if cell["cell_type"] == "code"
        and BUILDS.search("".join(cell["source"]))
        and not (
            executed is not None
            and REFUSAL_CAUGHT.search("".join(cell["source"]))
            and "data-build" not in json.dumps(executed.cells[index].get("outputs", []))
        )
    ]


def _open(page, base: str, token: str, lesson: Path) -> None:
    # A workspace of its own: only this lesson is open.
    page.goto(
        f"{base}/lab/workspaces/{lesson.stem}/tree/notebooks/{lesson.name}?reset&token={token}"
    )
    page.get_by_text("| Idle").wait_for(timeout=120_000)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()


def _builds_shown_once(page, lesson: Path, executed=None) -> None:
    """Check that each build of the open lesson, once it has finished, shows once."""
    page.wait_for_function(FINISHED, timeout=600_000)
    cells = page.locator(".jp-Notebook .jp-Cell")
    shown = []
    for index in range(cells.count()):
        blocks = cells.nth(index).locator(".jp-OutputArea-output [data-build]")
        numbers = [blocks.nth(i).get_attribute("data-build") for i in range(blocks.count())]
        shown += numbers
        if index in _cells_that_build(lesson, executed):
            assert numbers, f"cell {index + 1} builds, but shows no build"
    repeated = {number for number in shown if shown.count(number) > 1}
    assert not repeated, f"builds shown more than once: {sorted(repeated)}"
    text = page.inner_text(".jp-Notebook")
    failures = page.locator(".jp-OutputArea-output .stagelab-progress .stagelab-error")
    assert text.count("Build failed") == failures.count(), (
        "a failure's message is repeated outside its board"
    )
    assert "Traceback" not in text and "does not hold:" not in text
    assert NEWS_QUESTION not in page.inner_text("body")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_each_build_of_the_lesson_shows_once(lab_of_runs, browser_page, lesson):
    (base, token), work = lab_of_runs
    _open(browser_page, base, token, lesson)
    executed = nbformat.read(work / "course" / "notebooks" / lesson.name, as_version=4)
    _builds_shown_once(browser_page, lesson, executed)
    _stop_kernels(base, token)


def test_a_lesson_run_live_shows_each_build_live_once(live_lab, browser_page):
    (base, token), _ = live_lab
    _open(browser_page, base, token, LIVE_LESSON)
    run_all_cells(browser_page)
    browser_page.wait_for_timeout(2000)
    _builds_shown_once(browser_page, LIVE_LESSON)
    # Every live board turned into its summary in the page, however fast its replay ran.
    assert browser_page.locator(".jp-Notebook .widget-html").count() == 0
    _screenshot_whole_notebook(browser_page, SCREENSHOTS / LIVE_LESSON.stem)
    _stop_kernels(base, token)


def _stop_kernels(base: str, token: str) -> None:
    with urllib.request.urlopen(f"{base}/api/kernels?token={token}", timeout=10) as response:
        kernels = json.load(response)
    for kernel in kernels:
        request = urllib.request.Request(
            f"{base}/api/kernels/{kernel['id']}?token={token}", method="DELETE"
        )
        urllib.request.urlopen(request, timeout=30).close()


def _screenshot_whole_notebook(page, folder: Path) -> None:
    """Save the notebook top to bottom, one screen at a time: part-01.png, part-02.png, ..."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("part-*.png"):
        old.unlink()
    scroller = page.locator(".jp-NotebookPanel .jp-WindowedPanel-outer").first
    height, view = scroller.evaluate("e => [e.scrollHeight, e.clientHeight]")
    for number, top in enumerate(range(0, height, view - 80), start=1):
        scroller.evaluate(f"e => e.scrollTop = {top}")
        page.wait_for_timeout(300)
        page.screenshot(path=str(folder / f"part-{number:02d}.png"))
