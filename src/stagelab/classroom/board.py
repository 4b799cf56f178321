"""The instructor's dashboard, as data: one row per learner from the hub and their progress record.

Progress records are the JSON lines `stagelab lab check` appends (labs/attempts.py) to each
learner's ~/.stagelab/progress.jsonl. They are the learner's files, read here by root: a record
that is not a regular file owned by that learner (a symlink, say) is ignored.
"""

from __future__ import annotations

import os
import stat

from ..labs.attempts import parse_attempts
from .layout import Account
from .rootless import engine_answers, engine_pid

MAX_RECORD_BYTES = 4 * 1024 * 1024


def read_progress(account: Account) -> list[dict]:
    """Return the account's recorded lab attempts, oldest first ([] when none or not trusted)."""
    try:
        descriptor = os.open(account.progress_file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return []
    with os.fdopen(descriptor, "rb") as record:
        info = os.fstat(record.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != account.uid:
            return []
        return parse_attempts(record.read(MAX_RECORD_BYTES))[0]


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


def learner_row(account: Account, hub_user: dict | None) -> dict:
    """Return the dashboard row of one learner.

    Keys: name, server ("running", "pending", "stopped"), engine ("up", "down"), engine_pid,
    last_activity (ISO 8601 from the hub, or None), labs ({number: lab_progress row}).
    """
    pid = engine_pid(account)
    return {
        "name": account.name,
        "server": server_state(hub_user),
        "engine": "up" if pid is not None and engine_answers(account) else "down",
        "engine_pid": pid,
        "last_activity": (hub_user or {}).get("last_activity"),
        "labs": lab_progress(read_progress(account)),
    }


def board_from_accounts(accounts: list[Account], hub_users: list[dict], labs: list) -> dict:
    """Return the single-server dashboard: the labs (number, slug, criteria count) and a row
    per learner, read from their accounts (engine pid files, progress records).

    `hub_users` is the hub's `GET /hub/api/users` answer; `labs` are stagelab Lab objects.
    (kubernetes.board.board_from_pods makes the same shape from a cluster's pods.)
    """
    by_name = {user.get("name"): user for user in hub_users}
    return {
        "labs": lab_columns(labs),
        "learners": [learner_row(account, by_name.get(account.name)) for account in accounts],
    }


def lab_columns(labs: list) -> list[dict]:
    """Return the board's columns, one per lab (stagelab Lab objects): number, slug and how
    many criteria it has."""
    return [{"number": lab.number, "slug": lab.slug, "criteria": len(lab.criteria)} for lab in labs]
