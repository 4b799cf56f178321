"""The instructor's dashboard in Chromium (Debian's, driven by Playwright; never downloaded)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "browser"


def go(page, url: str, tries: int = 3) -> None:
    """Open `url`, again when Chromium says the network changed (other sessions on this
    machine add and remove Docker networks; Chromium then drops the request in flight)."""
    from playwright.sync_api import Error as PlaywrightError

    for attempt in range(tries):
        try:
            page.goto(url)
            return
        except PlaywrightError as error:
            if "ERR_NETWORK_CHANGED" not in str(error) or attempt == tries - 1:
                raise


def log_in(page, base: str, name: str, password: str) -> None:
    """Log in through the hub's form and wait until the browser has left the login page
    (for the hub's home, a spawn page or the user's own server, wherever the hub sends it)."""
    go(page, f"{base}/hub/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("[type=submit]")
    page.wait_for_url(lambda url: "/hub/login" not in url, timeout=60_000, wait_until="commit")


@contextmanager
def dashboard_page(base: str, dashboard: str, name: str, password: str, profile: Path):
    """Log in through the hub's form in Chromium and yield the dashboard's page, open at a
    projector's 1280x720; a screenshot of it goes to test-output/browser/ on a failure."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `stagelab setup --browser` (make test does)")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile / "chromium-instructor-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 720},
            ignore_https_errors=True,  # the tests' own self-signed certificate
        )
        page = context.pages[0] if context.pages else context.new_page()
        try:
            log_in(page, base, name, password)
            go(page, dashboard)
            page.wait_for_url("**/services/dashboard/", timeout=60_000)
            yield page
        except Exception:
            page.screenshot(path=str(SCREENSHOTS / "classroom-instructor-failure.png"))
            raise
        finally:
            context.close()


def dashboard_text_in_chromium(
    base: str, dashboard: str, name: str, password: str, profile: Path
) -> tuple[str, str]:
    """Log in through the hub's form, open the dashboard (on its own origin on a class with a
    domain), wait for learner01's lab 01 cell to show a score, open it; return the table's
    text and the details' text (screenshots go to test-output/browser/)."""
    with dashboard_page(base, dashboard, name, password, profile) as page:
        cell = "tr[data-learner='learner01'] td[data-lab='01']"
        page.locator(cell).first.wait_for(timeout=30_000)
        page.wait_for_function(
            f'() => /\\d+\\/\\d+/.test(document.querySelector("{cell}").textContent)',
            timeout=30_000,
        )
        page.screenshot(path=str(SCREENSHOTS / "classroom-dashboard.png"))
        table = page.locator("#board").inner_text()
        page.locator(cell).first.click()
        page.locator("#details-body pre").first.wait_for(timeout=60_000)
        page.screenshot(path=str(SCREENSHOTS / "classroom-dashboard-details.png"))
        return table, page.locator("#details").inner_text()


def script_on_learner_origin(
    base: str, server_url: str, name: str, password: str, profile: Path, script: str
) -> dict:
    """Log in as `name`, open a learner's server at `server_url` as the dashboard's link would,
    and run `script` (a JavaScript async arrow function) there, as a script the learner planted
    in their server would run in the visitor's browser; return what it returns."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile / "chromium-attack-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            ignore_https_errors=True,
        )
        page = context.pages[0] if context.pages else context.new_page()
        try:
            log_in(page, base, name, password)
            go(page, f"{server_url}api/status")
            page.wait_for_url(f"{server_url}api/status", timeout=120_000)
            return page.evaluate(script)
        finally:
            context.close()
