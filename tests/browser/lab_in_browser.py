"""A real JupyterLab with the project's settings (jupyter/settings), and Chromium to drive it."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT_SETTINGS = ROOT / "jupyter" / "settings"
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "test-output" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
NEWS_QUESTION = "notified about official Jupyter news"
# Records every live progress board (a widget) the page ever shows, even for a moment.
COUNT_LIVE_BOARDS = """
window.stagelabLiveBoards = new WeakSet(); window.stagelabLiveBoardCount = 0;
new MutationObserver(() => {
  for (const board of document.querySelectorAll('.widget-html .stagelab-progress')) {
    const widget = board.closest('.widget-html');
    if (!window.stagelabLiveBoards.has(widget)) {
      window.stagelabLiveBoards.add(widget); window.stagelabLiveBoardCount += 1;
    }
  }
}).observe(document, {childList: true, subtree: true});
"""


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


@contextmanager
def jupyterlab_server(
    root: Path, work: Path, env: dict | None = None, user_settings: dict[str, str] | None = None
):
    """Start JupyterLab on 127.0.0.1 over `root` with the project's settings, as `make lab`
    does; yield (base URL, token). `user_settings` maps settings files to their JSON."""
    port, token = free_port(), secrets.token_hex(16)
    for name, text in (user_settings or {}).items():
        (work / "settings" / name).parent.mkdir(parents=True, exist_ok=True)
        (work / "settings" / name).write_text(text)
    environment = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(work / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(work / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
        **(env or {}),
    }
    log = (work / "jupyterlab.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--no-browser",
            "--allow-root",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={token}",
            f"--LabApp.app_settings_dir={PROJECT_SETTINGS}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=environment,
        cwd=root,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while get(f"{base}/api/status?token={token}") != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "JupyterLab did not start:\n" + (work / "jupyterlab.log").read_text()[-3000:]
                )
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


@contextmanager
def chromium_page(work: Path, height: int = 2400):
    """Yield a Chromium page (headless, Debian's chromium) that counts live progress boards."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `stagelab setup --browser` (make test does) "
            "to install Debian's chromium"
        )
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(work / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": height},
        )
        context.add_init_script(COUNT_LIVE_BOARDS)
        page = context.pages[0] if context.pages else context.new_page()
        try:
            yield page
        finally:
            context.close()
            shutil.rmtree(work / "chromium-profile", ignore_errors=True)


def run_all_cells(page) -> None:
    """Run every cell of the open notebook from JupyterLab's Run menu, as a learner does."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
