"""The class heatmap's logic (classroom/heatmap.py) and the hint lines of a progress record."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from classroom_support import attempt

from stagelab.classroom.board import Moment, board_document
from stagelab.classroom.heatmap import FAILING, NOT_TRIED, PASSED, StuckRule, learner_heatmap
from stagelab.labs.attempts import parse_attempts, parse_record

CRITERIA = {"01": ["builds", "small", "runs"], "02": ["exports"]}
NOW = datetime(2026, 12, 6, 10, 0, tzinfo=timezone.utc)


def check(minutes_ago: int, lab: str = "01", failed: list | None = None, total: int = 3) -> dict:
    time = (NOW - timedelta(minutes=minutes_ago)).isoformat(timespec="seconds")
    return attempt(lab, failed or [], total, time)


def test_each_cell_says_not_tried_failing_or_passed_with_checks_and_time_failing():
    attempts = [
        check(30, failed=["small", "runs"]),
        check(20, failed=["small"]),
        check(5, failed=["small", "runs"]),
    ]
    cells = learner_heatmap(CRITERIA, attempts, [], NOW, StuckRule())["cells"]
    assert cells["01"]["builds"] == {
        "state": PASSED,
        "checks": 3,
        "failing_checks": 0,
        "failing_s": None,
    }
    # Failing since the first of three failing checks in a row, 30 minutes ago.
    assert cells["01"]["small"]["state"] == FAILING
    assert (cells["01"]["small"]["failing_checks"], cells["01"]["small"]["failing_s"]) == (3, 1800)
    # Passed at the second check, failing again since the third: the run starts again.
    assert (cells["01"]["runs"]["failing_checks"], cells["01"]["runs"]["failing_s"]) == (1, 300)
    assert cells["02"]["exports"]["state"] == NOT_TRIED


def test_a_learner_is_stuck_after_several_failing_checks_or_many_minutes():
    few_but_long = [check(40, failed=["small"]), check(1, failed=["small"])]
    many_but_quick = [check(3 - n, failed=["runs"]) for n in range(3)]
    rule = StuckRule(attempts=3, minutes=30)
    assert learner_heatmap(CRITERIA, few_but_long, [], NOW, rule)["stuck"] == ["01/small"]
    assert learner_heatmap(CRITERIA, many_but_quick, [], NOW, rule)["stuck"] == ["01/runs"]
    # Neither threshold reached: not stuck; passing clears it.
    lenient = StuckRule(attempts=4, minutes=60)
    assert learner_heatmap(CRITERIA, few_but_long, [], NOW, lenient)["stuck"] == []
    fixed = [*many_but_quick, check(0)]
    assert learner_heatmap(CRITERIA, fixed, [], NOW, rule)["stuck"] == []


def test_labs_and_criteria_that_do_not_exist_are_counted_never_columns():
    attempts = [
        check(2, lab="99", failed=["<script>alert(1)</script>"]),
        check(1, failed=["<img src=x onerror=alert(1)>", 7, "small"]),
        {**check(0), "time": "not a time", "failed": "builds"},
    ]
    heatmap = learner_heatmap(
        CRITERIA, attempts, [{"lab": "77", "time": "t", "hint": 3}], NOW, StuckRule()
    )
    assert set(heatmap["cells"]) == {"01", "02"}
    assert set(heatmap["cells"]["01"]) == {"builds", "small", "runs"}
    assert heatmap["unknown"] == 2
    assert heatmap["hints"] == {}
    # A time that is not ISO 8601 gives no duration; a `failed` that is no list fails nothing.
    assert heatmap["cells"]["01"]["small"]["state"] == PASSED


def test_hints_taken_and_column_totals():
    one = learner_heatmap(
        CRITERIA,
        [check(5, failed=["small"])],
        [{"lab": "01", "time": "t", "hint": 1}, {"lab": "01", "time": "t", "hint": 2}],
        NOW,
        StuckRule(),
    )
    other = learner_heatmap(CRITERIA, [check(5)], [], NOW, StuckRule())
    assert one["hints"] == {"01": 2}
    labs = []
    board = board_document(
        labs, [{"heatmap": one}, {"heatmap": other}, {"error": "x"}], Moment(CRITERIA, now=NOW)
    )
    assert board["totals"]["01"]["builds"] == {"passed": 2, "failing": 0, "stuck": 0}
    assert board["totals"]["01"]["small"] == {"passed": 1, "failing": 1, "stuck": 0}
    assert board["totals"]["02"]["exports"] == {"passed": 0, "failing": 0, "stuck": 0}
    assert board["stuck_rule"] == {"attempts": StuckRule().attempts, "minutes": StuckRule().minutes}


def test_hint_lines_are_read_apart_from_attempts_and_skip_nothing():
    lines = [check(1), {"lab": "01", "time": "t", "hint": 1}, {"lab": "01", "hint": True}]
    data = "\n".join(json.dumps(line) for line in lines).encode() + b"\n\xff\xfe\n"
    attempts, hints, skipped = parse_record(data)
    assert [a["passed"] for a in attempts] == [3]
    assert hints == [{"lab": "01", "time": "t", "hint": 1}]
    assert skipped == 2  # the hint with no time and a bool for a number; the bytes not UTF-8
    assert parse_attempts(data) == (attempts, 2)
