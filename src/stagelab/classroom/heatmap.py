"""The class heatmap: for each learner and each criterion of each lab, not tried, failing or
passed, with how many checks judged it and how long it has been failing; who is stuck.

Pure logic over attempts (labs/attempts.parse_record: each lab check's line names the
criteria that failed) and hints taken; the boards (board.py, kubernetes/board.py) add it to
what the dashboard's page draws. A learner's record is theirs to write: a lab or criterion
that does not exist is counted (`unknown`), never a column, and a time that is not ISO 8601
counts as no time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

NOT_TRIED, FAILING, PASSED = "not tried", "failing", "passed"
DEFAULT_STUCK_ATTEMPTS = 4
DEFAULT_STUCK_MINUTES = 15


@dataclass(frozen=True)
class StuckRule:
    """When a learner is stuck on a criterion: that many failing checks in a row, or failing
    for that many minutes (since the first failing check of the run that still goes on)."""

    attempts: int = DEFAULT_STUCK_ATTEMPTS
    minutes: int = DEFAULT_STUCK_MINUTES

    def stuck(self, cell: dict) -> bool:
        """Tell whether a heatmap cell (criterion_cells) is one its learner is stuck on."""
        if cell["state"] != FAILING:
            return False
        minutes = cell["failing_s"] / 60 if cell["failing_s"] is not None else 0
        return cell["failing_checks"] >= self.attempts or minutes >= self.minutes


def parse_time(text: object) -> datetime | None:
    """Return an attempt's ISO 8601 time as an aware datetime (UTC when it has no zone), or
    None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def criterion_cells(lab_criteria: dict[str, list[str]], attempts: list[dict], now: datetime):
    """Return ({lab: {criterion: cell}}, unknown) for one learner's attempts, oldest first.

    `lab_criteria` maps each lab's number to its criteria's keys. A cell: state (NOT_TRIED,
    FAILING, PASSED: as the learner's last check of that lab judged it), checks (how many
    checks judged it), failing_checks (failing checks in a row, up to the last) and failing_s
    (seconds from the first of those to `now`, None when its time is unknown). `unknown`
    counts attempts at a lab that does not exist and failed criteria a lab does not have.
    """
    cells = {
        lab: {
            key: {"state": NOT_TRIED, "checks": 0, "failing_checks": 0, "failing_s": None}
            for key in keys
        }
        for lab, keys in lab_criteria.items()
    }
    unknown = 0
    for attempt in attempts:
        keys = lab_criteria.get(attempt["lab"])
        if keys is None:
            unknown += 1
            continue
        failed = attempt.get("failed")
        failed = (
            {name for name in failed if isinstance(name, str)}
            if isinstance(failed, list)
            else set()
        )
        unknown += len(failed - set(keys))
        moment = parse_time(attempt["time"])
        for key in keys:
            _judge(cells[attempt["lab"]][key], key not in failed, moment, now)
    return cells, unknown


def _judge(cell: dict, passed: bool, moment: datetime | None, now: datetime) -> None:
    """Add one check's verdict on a criterion to its cell."""
    cell["checks"] += 1
    if passed:
        cell.update(state=PASSED, failing_checks=0, failing_s=None)
        return
    if cell["state"] != FAILING:
        cell["failing_since"] = moment
    cell["state"] = FAILING
    cell["failing_checks"] += 1
    since = cell.get("failing_since")
    cell["failing_s"] = max(0, int((now - since).total_seconds())) if since else None


def learner_heatmap(
    lab_criteria: dict[str, list[str]],
    attempts: list[dict],
    hints: list[dict],
    now: datetime,
    rule: StuckRule,
) -> dict:
    """Return one learner's heatmap: cells ({lab: {criterion: cell}}, without datetimes),
    stuck (the "lab/criterion" keys they are stuck on), hints ({lab: hints taken}) and
    unknown (criterion_cells)."""
    cells, unknown = criterion_cells(lab_criteria, attempts, now)
    stuck = []
    for lab, row in cells.items():
        for key, cell in row.items():
            cell.pop("failing_since", None)
            if rule.stuck(cell):
                cell["stuck"] = True
                stuck.append(f"{lab}/{key}")
    taken: dict[str, int] = {}
    for hint in hints:
        if hint["lab"] in lab_criteria:
            taken[hint["lab"]] = max(taken.get(hint["lab"], 0), hint["hint"])
    return {"cells": cells, "stuck": stuck, "hints": taken, "unknown": unknown}


def column_totals(lab_criteria: dict[str, list[str]], rows: list[dict]) -> dict:
    """Return, per lab and criterion, how many learners pass it, fail it and are stuck on it,
    from the rows' `heatmap` (learner_heatmap; a row without one counts as not tried)."""
    totals = {
        lab: {key: {"passed": 0, "failing": 0, "stuck": 0} for key in keys}
        for lab, keys in lab_criteria.items()
    }
    for row in rows:
        for lab, cells in (row.get("heatmap") or {}).get("cells", {}).items():
            for key, cell in cells.items():
                total = totals[lab][key]
                total["passed"] += cell["state"] == PASSED
                total["failing"] += cell["state"] == FAILING
                total["stuck"] += bool(cell.get("stuck"))
    return totals


def lab_criteria_of(labs: list) -> dict[str, list[str]]:
    """Return each lab's number with its criteria's keys, in order (stagelab Lab objects)."""
    return {lab.number: [criterion.key for criterion in lab.criteria] for lab in labs}
