"""The dashboard's page in Chromium with a synthetic class of 40 learners x 5 labs (the
board's JSON made by the real board code from made-up attempts; no hub): it fits a 1280x720
projector, flags the stuck, counts column totals, and shows hostile strings as text.
The screenshot goes to test-output/browser/heatmap-40x5.png."""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from dashboard_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS

from stagelab.classroom.board import Moment, board_document, lab_progress
from stagelab.classroom.dashboard_page import PAGE
from stagelab.classroom.heatmap import StuckRule, lab_criteria_of, learner_heatmap
from stagelab.labs import all_labs

ORIGIN = "https://dashboard.test"
HOSTILE = "<img src=x onerror=window.pwned=1>"
NOW = datetime(2026, 12, 6, 10, 0, tzinfo=timezone.utc)


def synthetic_board(learners: int = 40, labs: int = 5) -> dict:
    """Return a board as BoardHandler answers it, for made-up attempts of `learners`."""
    chosen = all_labs()[:labs]
    moment = Moment(lab_criteria_of(chosen), StuckRule(), NOW)
    chance = random.Random(21)
    rows = []
    for number in range(1, learners + 1):
        attempts = []
        for lab in chosen[: chance.randint(0, labs)]:
            keys = [one.key for one in lab.criteria]
            for minute in range(chance.randint(1, 6)):
                failed = [key for key in keys if chance.random() < 0.4]
                when = NOW - timedelta(minutes=chance.randint(2, 18) - minute)
                attempts.append(
                    {
                        "lab": lab.number,
                        "time": when.isoformat(),
                        "total": len(keys),
                        "passed": len(keys) - len(failed),
                        "failed": failed,
                    }
                )
        hints = [{"lab": chosen[0].number, "time": "t", "hint": 2}] if number % 7 == 0 else []
        rows.append(
            {
                "name": f"learner{number:02d}",
                "server": "running",
                "server_url": None,
                "engine": "down" if number == 5 else "up",
                "engine_pid": 1,
                "last_activity": None,
                "labs": lab_progress(attempts),
                "skipped": 0,
                "heatmap": learner_heatmap(moment.lab_criteria, attempts, hints, NOW, moment.rule),
            }
        )
    rows[2]["name"] = HOSTILE  # a name no class has, standing for any learner string
    rows[3] = {"name": "learner04", "error": "progress record unreadable (MemoryError)", "labs": {}}
    return board_document(chosen, rows, moment) | {"details": True}


@pytest.mark.browser
def test_a_class_of_40_by_5_labs_fits_a_projector_and_flags_the_stuck():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `stagelab setup --browser` (make test does)")
    from playwright.sync_api import sync_playwright

    board = synthetic_board()
    page_html = PAGE % {
        "seconds": 3,
        "refresh_ms": 3000,
        "me": '"instructor"',
        "xsrf": '"x"',
        "grades": "",
        "usage": "false",
        "usage_ms": 30000,
    }
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.route(
                f"{ORIGIN}/", lambda route: route.fulfill(body=page_html, content_type="text/html")
            )
            page.route(
                f"{ORIGIN}/api/board",
                lambda route: route.fulfill(
                    body=json.dumps(board), content_type="application/json"
                ),
            )
            page.goto(f"{ORIGIN}/")
            page.locator("tr[data-learner='learner40']").wait_for(timeout=30_000)
            page.screenshot(path=str(SCREENSHOTS / "heatmap-40x5.png"))
            width = page.evaluate("document.getElementById('board').scrollWidth")
            stuck_names = page.locator("#stuck").inner_text()
            flagged = page.locator("td.stuck").count()
            totals = page.locator("#totals td").all_inner_texts()
            hostile = page.locator("#rows tr").nth(2).locator("td").first.inner_text()
            pwned = page.evaluate("window.pwned === 1")
            down = page.locator("tr[data-learner='learner05'] td").nth(1).inner_text()
            failed_row = page.locator("tr[data-learner='learner04']").inner_text()
        finally:
            browser.close()
    assert width <= 1280, width  # every column on a 1280-pixel-wide projector
    expected_stuck = sum(len(row.get("heatmap", {}).get("stuck", [])) for row in board["learners"])
    assert expected_stuck > 0 and flagged == expected_stuck
    stuck_rows = sum(bool(row.get("heatmap", {}).get("stuck")) for row in board["learners"])
    assert stuck_names.startswith(f"{stuck_rows}: ")
    first = board["labs"][0]["keys"][0]["key"]
    assert totals[2] == str(board["totals"][board["labs"][0]["number"]][first]["passed"])
    assert HOSTILE in hostile and not pwned
    assert "engine down" in down
    assert "unreadable" in failed_row
