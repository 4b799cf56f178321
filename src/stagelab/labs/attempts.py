"""The progress file: one JSON line per lab check, for the learner and their instructor."""

from __future__ import annotations

import json
from pathlib import Path

from ..course import Course
from ..images import current_user
from .report import Report

# What every attempt line holds, and of which type.
ATTEMPT_FIELDS = {"lab": str, "time": str, "passed": int, "total": int}


def progress_file() -> Path:
    """Return the file attempts go to: $STAGELAB_HOME/progress.jsonl, else ~/.stagelab/."""
    return Course.find().progress_file


def record_attempt(report: Report) -> None:
    """Append one attempt (lab, time, criteria passed and failed, user, folder) to the file."""
    done, total = report.score
    line = {
        "lab": report.lab.number,
        "slug": report.lab.slug,
        "time": report.time.isoformat(timespec="seconds"),
        "passed": done,
        "total": total,
        "failed": report.failed,
        "user": current_user(),
        "dir": str(report.directory),
    }
    path = progress_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(json.dumps(line) + "\n")


def attempts() -> list[dict]:
    """Return every recorded attempt, oldest first; lines that are not attempts are skipped."""
    return read_attempts()[0]


def read_attempts(path: Path | None = None) -> tuple[list[dict], int]:
    """Return the attempts in a progress file (default: this user's) and how many lines were
    skipped (see parse_attempts)."""
    path = path or progress_file()
    return parse_attempts(path.read_bytes()) if path.exists() else ([], 0)


def parse_attempts(data: bytes) -> tuple[list[dict], int]:
    """Return the attempts in a progress file's bytes and how many lines were skipped: not
    UTF-8, not JSON, not an object, or missing a field (ATTEMPT_FIELDS)."""
    found, skipped = [], 0
    for raw in data.splitlines():
        if not raw.strip():
            continue
        try:
            attempt = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            skipped += 1
            continue
        if not isinstance(attempt, dict) or not all(
            isinstance(attempt.get(key), kind) and not isinstance(attempt.get(key), bool)
            for key, kind in ATTEMPT_FIELDS.items()
        ):
            skipped += 1
            continue
        found.append(attempt)
    return found, skipped


def progress_rows(labs: list, recorded: list[dict]) -> list[dict]:
    """Return one row per lab: status (not started, attempted, passed), attempts, the last one,
    from these recorded attempts."""
    rows = []
    for each in labs:
        mine = [a for a in recorded if a.get("lab") == each.number]
        passed = any(a["passed"] == a["total"] for a in mine)
        status = "passed" if passed else "attempted" if mine else "not started"
        last = mine[-1] if mine else None
        rows.append(
            {
                "lab": each.slug,
                "title": each.title,
                "status": status,
                "attempts": len(mine),
                "last_attempt": last["time"] if last else None,
                "last_score": f"{last['passed']}/{last['total']}" if last else None,
            }
        )
    return rows


def progress_text(rows: list[dict]) -> str:
    """Return progress rows as a plain-text table."""
    lines = [f"{'lab':<24} {'status':<12} {'attempts':>8}  {'last attempt':<26} last score"]
    for row in rows:
        lines.append(
            f"{row['lab']:<24} {row['status']:<12} {row['attempts']:>8}  "
            f"{row['last_attempt'] or '-':<26} {row['last_score'] or '-'}"
        )
    return "\n".join(lines)
