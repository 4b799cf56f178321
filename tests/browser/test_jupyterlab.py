"""Open a notebook in a real JupyterLab, run all cells in Chromium, and look at the outputs."""

from __future__ import annotations

import json
import os

import pytest
from lab_in_browser import (
    NEWS_QUESTION,
    SCREENSHOTS,
    chromium_page,
    jupyterlab_server,
    run_all_cells,
)

pytestmark = [pytest.mark.browser, pytest.mark.engine]

TIMEOUT_MS = int(os.environ.get("STAGELAB_BROWSER_TIMEOUT_MS", "180000"))

DOCKERFILE = """\
FROM busybox:1.36 AS base
RUN echo base > /base.txt

FROM base AS build
RUN sleep 4 && echo built > /app.txt

FROM busybox:1.36 AS unused
RUN echo never

FROM busybox:1.36 AS final
COPY --from=build /app.txt /app.txt
"""

CELLS = [
    "import stagelab as sl\n%load_ext stagelab",
    f"DOCKERFILE = '''{DOCKERFILE}'''\nresult = sl.build(DOCKERFILE, no_cache=True)",
    "result.graph()",
    "%%dockerfile --target build --name again\n" + DOCKERFILE,
    "sl.compare({'first build': result, 'again': again})",
    "sl.timeline(result, again, labels=['first build', 'again'])",
    "%%dockerfile\nFROM busybox:1.36 AS broken\nRUN no-such-tool\n",
]


def notebook() -> dict:
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(CELLS)
        ],
        # Without a kernelspec JupyterLab asks for a kernel in a dialog first.
        "metadata": {
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture
def jupyterlab(tmp_path):
    """Start JupyterLab on 127.0.0.1 over a folder holding the test's notebook."""
    root = tmp_path / "notebooks"
    root.mkdir()
    (root / "see_the_build.ipynb").write_text(json.dumps(notebook(), indent=1))
    with jupyterlab_server(root, tmp_path) as server:
        yield server


def test_notebook_shows_progress_summary_and_graph(docker_engine, jupyterlab, tmp_path):
    base, token = jupyterlab
    with chromium_page(tmp_path) as page:
        try:
            page.goto(f"{base}/lab/tree/see_the_build.ipynb?token={token}")
            # The notebook is ready when its kernel is: the status bar says so.
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
            page.locator(".jp-Notebook .jp-Cell .cm-content").first.wait_for()
            run_all_cells(page)

            # While the build runs: the live widget with one row per stage.
            page.wait_for_selector(
                ".widget-html .stagelab-progress-row[data-state='running']", timeout=TIMEOUT_MS
            )
            rows = page.locator(".widget-html .stagelab-progress-row")
            assert rows.count() == 4
            states = {
                rows.nth(i).get_attribute("data-stage"): rows.nth(i).get_attribute("data-state")
                for i in range(4)
            }
            assert states["unused"] == "skipped", states
            # The elapsed time of a running stage ticks while the engine works.
            page.wait_for_function(
                '() => [...document.querySelectorAll(".widget-html .stagelab-progress-row'
                "[data-state='running'] td:nth-child(3)\")].some(td => parseFloat("
                "td.textContent) >= 1.5)",
                timeout=30_000,
            )
            page.screenshot(path=str(SCREENSHOTS / "progress.png"))

            # After it: summary table, stage graph as inline <svg>, comparison, timeline.
            page.wait_for_selector(".jp-OutputArea-output .stagelab-error", timeout=300_000)
            outputs = page.locator(".jp-OutputArea-output")
            summaries = outputs.locator("table.stagelab-summary")
            assert summaries.count() == 2  # sl.build and %%dockerfile
            first = summaries.first.inner_text()
            for stage, status in (("build", "built"), ("unused", "skipped")):
                assert any(line.split()[:2] == [stage, status] for line in first.splitlines()), (
                    first
                )
            assert "image size" in outputs.locator(".stagelab-build").first.inner_text()
            graph = outputs.locator(".stagelab-graph svg")
            assert graph.count() == 1
            graph_text = graph.text_content()
            for word in ("base", "build", "unused", "final (target)", "busybox:1.36"):
                assert word in graph_text
            assert outputs.locator(".stagelab-graph svg g.node").count() == 5
            compare = outputs.locator("table.stagelab-compare").inner_text()
            assert "first build" in compare and "again" in compare
            assert outputs.locator(".stagelab-timeline svg g[id^='stagelab-step-']").count() >= 3
            assert page.locator(".widget-html").count() == 0  # replaced by the summaries
            # A failed build: its stage marked failed, the error's message under the rows.
            failed = outputs.locator(".stagelab-progress-row[data-stage='broken']")
            assert failed.get_attribute("data-state") == "failed"
            message = outputs.locator(".stagelab-error").inner_text()
            assert "Build failed in stage 'broken'" in message and "127" in message
            errors = page.locator(
                ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
            )
            texts = [errors.nth(i).inner_text() for i in range(errors.count())]
            assert not any("Error" in text or "Traceback" in text for text in texts), texts
            # One view per build: the failure shows once, on its board, and not again as text.
            assert page.inner_text("body").count("Build failed in stage 'broken'") == 1
            # With Run All the learner saw every build's live board (three builds).
            assert page.evaluate("window.stagelabLiveBoardCount") == 3
            # The project's JupyterLab settings turn off the news question (make lab uses them).
            assert NEWS_QUESTION not in page.inner_text("body")
            page.screenshot(path=str(SCREENSHOTS / "jupyterlab.png"))
        except Exception:
            page.screenshot(path=str(SCREENSHOTS / "failure.png"))
            raise
