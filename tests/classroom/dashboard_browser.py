"""The instructor's dashboard in Chromium (Debian's, driven by Playwright; never downloaded)."""

from __future__ import annotations

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


def dashboard_text_in_chromium(base: str, name: str, password: str, profile: Path) -> str:
    """Log in through the hub's form, open the dashboard, wait for learner01's lab 01 cell to
    show a score; return the table's text (a screenshot goes to test-output/browser/)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `stagelab setup --browser` (make test does)")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        page = context.pages[0] if context.pages else context.new_page()
        try:
            page.goto(f"{base}/hub/login?next=/services/dashboard/")
            page.fill("input[name=username]", name)
            page.fill("input[name=password]", password)
            page.click("[type=submit]")
            page.wait_for_url("**/services/dashboard/", timeout=60_000)
            cell = page.locator("tr[data-learner='learner01'] td[data-lab='01']")
            cell.wait_for(timeout=30_000)
            page.wait_for_function(
                "() => /\\d+\\/\\d+/.test(document.querySelector(\"tr[data-learner='learner01'] "
                "td[data-lab='01']\").textContent)",
                timeout=30_000,
            )
            page.screenshot(path=str(SCREENSHOTS / "classroom-dashboard.png"))
            return page.locator("#board").inner_text()
        except Exception:
            page.screenshot(path=str(SCREENSHOTS / "classroom-failure.png"))
            raise
        finally:
            context.close()
