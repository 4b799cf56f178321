"""The instructor's dashboard, as data: one row per learner from the hub and their progress record.

Progress records are the JSON lines `stagelab lab check` appends (labs/attempts.py) to each
learner's ~/.stagelab/progress.jsonl. They are the learner's files: the dashboard reads them
as the learner (dashboard.py runs the read under the learner's uid, so a link they plant
reaches only what they could read themselves), and this module turns the bytes into a row.
A learner can write anything into their record; what they write can only spoil their own row
(parse_attempts never raises, and a row that still fails says so in its `error`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..labs.attempts import parse_record
from .heatmap import StuckRule, column_totals, lab_criteria_of, learner_heatmap
from .layout import Account
from .rootless import engine_answers, engine_pid

MAX_RECORD_BYTES = 4 * 1024 * 1024
DEFAULT_RULE = StuckRule()


def lab_progress(attempts: list[dict]) -> dict[str, dict]:
    """Summarise attempts per lab number: best and last criteria passed, total, attempt count."""
    summary: dict[str, dict] = {}
    for attempt in attempts:
        passed, total = attempt.get("passed"), attempt.get("total")
        if not isinstance(passed, int) or not isinstance(total, int):
            continue
        row = summary.setdefault(attempt["lab"], {"best": 0, "attempts": 0})
        row.update(
            last=passed,
            total=total,
            time=attempt.get("time"),
            best=max(row["best"], passed),
            attempts=row["attempts"] + 1,
        )
        row["done"] = row["best"] == total
    return summary


def server_state(hub_user: dict | None) -> str:
    """Return "running", "pending" or "stopped" from a user model of the hub's REST API."""
    server = (hub_user or {}).get("servers", {}).get("", {})
    if server.get("ready"):
        return "running"
    return "pending" if server.get("pending") or (hub_user or {}).get("pending") else "stopped"


def server_link(hub_user: dict | None) -> str | None:
    """Return the full URL of the learner's running server (the hub's `full_url`, given on a
    class with per-user origins), else None: on one origin nothing links into a server."""
    server = (hub_user or {}).get("servers", {}).get("", {})
    url = server.get("full_url")
    return url if isinstance(url, str) and url.startswith("https://") else None


@dataclass(frozen=True)
class Moment:
    """What every row of one board is judged against: the labs' criteria (heatmap.
    lab_criteria_of), the stuck rule and the time now (UTC)."""

    lab_criteria: dict[str, list[str]]
    rule: StuckRule = DEFAULT_RULE
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


def learner_row(account: Account, hub_user: dict | None, record: bytes, moment: Moment) -> dict:
    """Return the dashboard row of one learner, from the hub's model of them and their
    progress record's bytes (read as them).

    Keys: name, server ("running", "pending", "stopped"), server_url (None on one origin),
    engine ("up", "down"), engine_pid, last_activity (ISO 8601 from the hub, or None), labs
    ({number: lab_progress row}), heatmap (heatmap.learner_heatmap), skipped (lines of the
    record that are neither attempts nor hints).
    """
    pid = engine_pid(account)
    attempts, hints, skipped = parse_record(record[:MAX_RECORD_BYTES])
    return {
        "name": account.name,
        "server": server_state(hub_user),
        "server_url": server_link(hub_user),
        "engine": "up" if pid is not None and engine_answers(account) else "down",
        "engine_pid": pid,
        "last_activity": (hub_user or {}).get("last_activity"),
        "labs": lab_progress(attempts),
        "heatmap": learner_heatmap(moment.lab_criteria, attempts, hints, moment.now, moment.rule),
        "skipped": skipped,
    }


def failed_row(account: Account, why: str) -> dict:
    """Return the row of a learner whose row could not be made, saying why."""
    return {"name": account.name, "error": why, "labs": {}}


def board_from_accounts(
    accounts: list[Account],
    hub_users: list[dict],
    labs: list,
    read_record: Callable[[Account], bytes],
    rule: StuckRule = DEFAULT_RULE,
) -> dict:
    """Return the single-server dashboard: the labs (lab_columns), a row per learner, read
    from their accounts (engine pid files, progress records), the heatmap's column totals
    (heatmap.column_totals), the stuck rule, and `details` (the page may ask for a learner's
    lab).

    `hub_users` is the hub's `GET /hub/api/users` answer; `labs` are stagelab Lab objects;
    `read_record` returns a learner's progress record's bytes, read as that learner (b"" for
    none), and may raise OSError. A learner whose row fails gets a row saying why; the others'
    rows do not depend on it. (kubernetes.board.board_from_pods makes the same shape from a
    cluster's pods.)
    """
    by_name = {user.get("name"): user for user in hub_users}
    moment = Moment(lab_criteria_of(labs), rule)
    rows = []
    for account in accounts:
        try:
            record = read_record(account)
            rows.append(learner_row(account, by_name.get(account.name), record, moment))
        except (OSError, ValueError, RecursionError, MemoryError) as error:
            rows.append(failed_row(account, f"progress record unreadable ({type(error).__name__})"))
    # details: the page may open a learner's lab (dashboard.LearnerHandler).
    return board_document(labs, rows, moment) | {"details": True}


def board_document(labs: list, rows: list[dict], moment: Moment) -> dict:
    """Return a board from its rows: labs (lab_columns), learners, totals (column_totals)
    and the stuck rule (attempts, minutes)."""
    return {
        "labs": lab_columns(labs),
        "learners": rows,
        "totals": column_totals(moment.lab_criteria, rows),
        "stuck_rule": {"attempts": moment.rule.attempts, "minutes": moment.rule.minutes},
    }


def lab_columns(labs: list) -> list[dict]:
    """Return the board's columns, one per lab (stagelab Lab objects): number, slug, how
    many criteria it has, and each criterion's key and title."""
    return [
        {
            "number": lab.number,
            "slug": lab.slug,
            "criteria": len(lab.criteria),
            "keys": [{"key": one.key, "title": one.title} for one in lab.criteria],
        }
        for lab in labs
    ]
