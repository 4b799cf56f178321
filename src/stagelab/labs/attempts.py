"""The progress file: one JSON line per lab check, for the learner and their instructor."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

from ..course import Course
from ..images import current_user
from .report import Report

# What every attempt line holds, and of which type.
ATTEMPT_FIELDS = {"lab": str, "time": str, "passed": int, "total": int}
# What a line saying a learner took a lab's hint number `hint` holds (record_hint).
HINT_FIELDS = {"lab": str, "time": str, "hint": int}
# In a Kubernetes classroom: where each check posts the progress record (the instructor's
# dashboard, config.yaml's singleuser.extraEnv), with the server's own token, which JupyterHub
# gives every single-user server.
DASHBOARD_URL_ENV = "STAGELAB_DASHBOARD_URL"
TOKEN_ENV = "JUPYTERHUB_API_TOKEN"
POST_TIMEOUT_S = 5
POSTED_BYTES = 1024 * 1024
# What a line keeps of each failed criterion's message (the PASS/FAIL text the learner saw):
# the whole line must stay under MAX_LINE_BYTES, or a reader skips it.
MAX_MESSAGE_CHARS = 1500
MAX_MESSAGES = 12


def progress_file() -> Path:
    """Return the file attempts go to: $STAGELAB_HOME/progress.jsonl, else ~/.stagelab/."""
    return Course.find().progress_file


def record_attempt(report: Report) -> None:
    """Append one attempt (lab, time, criteria passed and failed, the failed criteria's
    messages as the learner saw them, user, folder) to the file."""
    done, total = report.score
    line = {
        "lab": report.lab.number,
        "slug": report.lab.slug,
        "time": report.time.isoformat(timespec="seconds"),
        "passed": done,
        "total": total,
        "failed": report.failed,
        "messages": [
            outcome.text()[:MAX_MESSAGE_CHARS] for outcome in report.outcomes if not outcome.passed
        ][:MAX_MESSAGES],
        "user": current_user(),
        "dir": str(report.directory),
    }
    path = progress_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(json.dumps(line) + "\n")
    note = post_progress(path)
    if note:
        print(note)


def record_hint(lab: str, shown: int, time: datetime) -> None:
    """Append a line saying the learner took hint number `shown` of lab `lab` (its number), at
    `time`: the instructor's dashboard shows how many hints each learner took."""
    line = {"lab": lab, "time": time.isoformat(timespec="seconds"), "hint": shown}
    path = progress_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(json.dumps(line) + "\n")


def post_progress(path: Path, environ: dict[str, str] | None = None) -> str:
    """Post the progress record at `path` (its last POSTED_BYTES, whole lines) to the class's
    dashboard when $STAGELAB_DASHBOARD_URL is set, with the server's token
    ($JUPYTERHUB_API_TOKEN); the dashboard asks the hub whose token it is.

    Returns "" when posted or when there is no dashboard to post to, else a one-line note for
    the learner (the check itself stays recorded, and the next check posts it again). Never
    raises for the network.
    """
    environ = os.environ if environ is None else environ
    url, token = environ.get(DASHBOARD_URL_ENV), environ.get(TOKEN_ENV)
    if not url or not token:
        return ""
    data = path.read_bytes()
    if len(data) > POSTED_BYTES:
        data = data[-POSTED_BYTES:].split(b"\n", 1)[-1]
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Authorization": f"token {token}", "Content-Type": "application/x-ndjson"},
    )
    try:
        with urllib.request.urlopen(request, timeout=POST_TIMEOUT_S):
            return ""
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return (
            f"(Your instructor's dashboard did not get this check: {reason}. It is saved in "
            "your progress file; your next check sends it again.)"
        )


def attempts() -> list[dict]:
    """Return every recorded attempt, oldest first; lines that are not attempts are skipped."""
    return read_attempts()[0]


def read_attempts(path: Path | None = None) -> tuple[list[dict], int]:
    """Return the attempts in a progress file (default: this user's) and how many lines were
    skipped (see parse_attempts)."""
    path = path or progress_file()
    return parse_attempts(path.read_bytes()) if path.exists() else ([], 0)


# Bounds on one line of a progress file: a learner can write anything there, and whoever reads
# it (the instructor's dashboard, for every learner at once) must not fail because of it.
MAX_LINE_BYTES = 64 * 1024
MAX_DEPTH = 32
MAX_DIGITS = 18
MAX_TEXT = 200


def parse_attempts(data: bytes) -> tuple[list[dict], int]:
    """Return the attempts in a progress file's bytes and how many lines were skipped (see
    parse_record; hint lines are neither). Never raises for what the bytes hold."""
    found, _, skipped = parse_record(data)
    return found, skipped


def parse_record(data: bytes) -> tuple[list[dict], list[dict], int]:
    """Return the attempts and the hints taken (HINT_FIELDS: record_hint) in a progress file's
    bytes, and how many lines were skipped: not UTF-8, not JSON, not an object, neither an
    attempt (ATTEMPT_FIELDS) nor a hint, or out of bounds: longer than MAX_LINE_BYTES, nested
    deeper than MAX_DEPTH, a number of more than MAX_DIGITS digits, NaN or Infinity, a lab or
    time of more than MAX_TEXT characters. Never raises for what the bytes hold."""
    found, hints, skipped = [], [], 0
    for raw in data.splitlines():
        if not raw.strip():
            continue
        line = _line(raw)
        if line is not None and _holds(line, ATTEMPT_FIELDS):
            found.append(line)
        elif line is not None and _holds(line, HINT_FIELDS):
            hints.append(line)
        else:
            skipped += 1
    return found, hints, skipped


def _line(raw: bytes) -> dict | None:
    """Return one line's object when it is one within bounds (parse_record), else None."""
    if len(raw) > MAX_LINE_BYTES or _depth(raw) > MAX_DEPTH:
        return None
    try:
        line = json.loads(raw.decode("utf-8"), parse_int=_bounded_int, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(line, dict):
        return None
    if any(len(line[key]) > MAX_TEXT for key in ("lab", "time") if isinstance(line.get(key), str)):
        return None
    return line


def _holds(line: dict, fields: dict) -> bool:
    """Tell whether `line` has every one of `fields` with its type (a bool is no int)."""
    return all(
        isinstance(line.get(key), kind) and not isinstance(line.get(key), bool)
        for key, kind in fields.items()
    )


def _depth(raw: bytes) -> int:
    """Return how deeply a JSON text nests arrays and objects (brackets in strings aside)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ValueError(f"a number of {len(text)} digits")
    return int(text)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number an attempt holds")


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
