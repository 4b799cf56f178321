"""Open a notebook in a real JupyterLab, run all cells in Chromium, and look at the outputs."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.engine]

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = int(os.environ.get("STAGELAB_BROWSER_TIMEOUT_MS", "180000"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "browser"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic"]

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
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell-{i}",
                   "metadata": {}, "outputs": [], "source": source}
                  for i, source in enumerate(CELLS)],
        # Without a kernelspec JupyterLab asks for a kernel in a dialog first.
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                    "language": "python"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except OSError:
        return 0


@pytest.fixture
def jupyterlab(tmp_path):
    """Start JupyterLab on 127.0.0.1 over a folder holding the test's notebook."""
    root = tmp_path / "notebooks"
    root.mkdir()
    (root / "see_the_build.ipynb").write_text(json.dumps(notebook(), indent=1))
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    news = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    log = (tmp_path / "jupyterlab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--ip=127.0.0.1", f"--port={port}",
         "--no-browser", "--allow-root", f"--ServerApp.root_dir={root}",
         f"--IdentityProvider.token={token}", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while get(f"{base}/api/status?token={token}") != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("JupyterLab did not start:\n" +
                            (tmp_path / "jupyterlab.log").read_text()[-3000:])
            time.sleep(0.5)
        yield base, token
    finally:
        # Shutting down through the API also stops the kernels it started.
        request = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
        try:
            urllib.request.urlopen(request, timeout=10).close()
            server.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        log.close()


def test_notebook_shows_progress_summary_and_graph(docker_engine, jupyterlab, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `stagelab setup --browser` (make test does) "
                    "to install Debian's chromium")
    from playwright.sync_api import sync_playwright

    base, token = jupyterlab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 2400})
        page = context.pages[0] if context.pages else context.new_page()
        try:
            page.goto(f"{base}/lab/tree/see_the_build.ipynb?token={token}")
            # The notebook is ready when its kernel is: the status bar says so.
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
            page.locator(".jp-Notebook .jp-Cell .cm-content").first.wait_for()
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()

            # While the build runs: the live widget with one row per stage.
            page.wait_for_selector(".widget-html .stagelab-progress-row[data-state='running']",
                                   timeout=TIMEOUT_MS)
            rows = page.locator(".widget-html .stagelab-progress-row")
            assert rows.count() == 4
            states = {rows.nth(i).get_attribute("data-stage"): rows.nth(i).get_attribute(
                "data-state") for i in range(4)}
            assert states["unused"] == "skipped", states
            # The elapsed time of a running stage ticks while the engine works.
            page.wait_for_function(
                "() => [...document.querySelectorAll(\".widget-html .stagelab-progress-row"
                "[data-state='running'] td:nth-child(3)\")].some(td => parseFloat("
                "td.textContent) >= 1.5)", timeout=30_000)
            page.screenshot(path=str(SCREENSHOTS / "progress.png"))

            # After it: summary table, stage graph as inline <svg>, comparison, timeline.
            page.wait_for_selector(".jp-OutputArea-output .stagelab-error", timeout=300_000)
            outputs = page.locator(".jp-OutputArea-output")
            summaries = outputs.locator("table.stagelab-summary")
            assert summaries.count() == 2  # sl.build and %%dockerfile
            first = summaries.first.inner_text()
            for stage, status in (("build", "built"), ("unused", "skipped")):
                assert any(line.split()[:2] == [stage, status] for line in first.splitlines()
                           ), first
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
            errors = page.locator(".jp-OutputArea-output[data-mime-type="
                                  "'application/vnd.jupyter.stderr']")
            texts = [errors.nth(i).inner_text() for i in range(errors.count())]
            assert not any("Error" in text or "Traceback" in text for text in texts), texts
            page.screenshot(path=str(SCREENSHOTS / "jupyterlab.png"))
        except Exception:
            page.screenshot(path=str(SCREENSHOTS / "failure.png"))
            raise
        finally:
            context.close()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)
