"""stagelab's record of the steps it saw built on each engine (its ledger), which `why()`
compares a build with.

One SQLite file in stagelab's home ($STAGELAB_HOME/why.sqlite3): SQLite serialises writers, so
two kernels that build at once both land, and readers never see half a write. It stays small:
past MAX_STEPS steps (and MAX_IMAGES image names, MAX_FOLDERS last builds, MAX_EVENTS events)
the least recently seen go first. A step is keyed by what its builder's cache compares
(why/inputs.py) and by what it builds on; it keeps what it was made of, so a later build can
say what changed, and the evidence that its cache is still there (the classic builder's image,
BuildKit's cache records).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

LEDGER_FILE = "why.sqlite3"
MAX_STEPS = 4000
MAX_IMAGES = 1000
MAX_FOLDERS = 50
MAX_EVENTS = 200
BUSY_TIMEOUT_S = 30

_SCHEMA = """
CREATE TABLE IF NOT EXISTS steps (
    engine TEXT NOT NULL, builder TEXT NOT NULL, key TEXT NOT NULL, parent TEXT NOT NULL,
    detail TEXT NOT NULL, evidence TEXT NOT NULL, first_seen REAL NOT NULL,
    last_seen REAL NOT NULL, PRIMARY KEY (engine, builder, key));
CREATE INDEX IF NOT EXISTS steps_by_parent ON steps (engine, builder, parent);
CREATE TABLE IF NOT EXISTS aliases (
    engine TEXT NOT NULL, builder TEXT NOT NULL, key TEXT NOT NULL, alias TEXT NOT NULL,
    seen REAL NOT NULL, PRIMARY KEY (engine, builder, key));
CREATE TABLE IF NOT EXISTS images (
    engine TEXT NOT NULL, name TEXT NOT NULL, image TEXT NOT NULL, seen REAL NOT NULL,
    PRIMARY KEY (engine, name, image));
CREATE TABLE IF NOT EXISTS folders (
    folder TEXT PRIMARY KEY, engine TEXT NOT NULL, at REAL NOT NULL, why TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    engine TEXT NOT NULL, at REAL NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Entry:
    """One recorded step: its key, what it built on (`parent`), what it was made of (`detail`:
    the instruction, its line and stage, what its cache compares, the variables it saw), the
    evidence of its cache on the engine, and when stagelab first and last saw it (Unix time)."""

    key: str
    parent: str
    detail: dict
    evidence: dict = field(default_factory=dict)
    first_seen: float = 0.0
    last_seen: float = 0.0


class Ledger:
    """The record of one engine (`engine`: its address and ID) and builder, in `folder`.

    Raises nothing for a record file that is not SQLite: it is moved aside and a new one begun.
    """

    def __init__(self, folder: Path, engine: str, builder: str):
        self.path = Path(folder) / LEDGER_FILE
        self.engine, self.builder = engine, builder
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._setup()
        except sqlite3.DatabaseError:
            os.replace(self.path, self.path.with_suffix(".broken"))
            self._setup()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
        connection.row_factory = sqlite3.Row
        return connection

    def _setup(self) -> None:
        with closing(self._connect()) as connection, connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)

    # ------------------------------------------------------------ reading

    def get(self, key: str) -> Entry | None:
        """Return the recorded step with this key (or the step it is an alias of), or None."""
        with closing(self._connect()) as connection:
            alias = connection.execute(
                "SELECT alias FROM aliases WHERE engine=? AND builder=? AND key=?",
                (self.engine, self.builder, key),
            ).fetchone()
            row = connection.execute(
                "SELECT * FROM steps WHERE engine=? AND builder=? AND key=?",
                (self.engine, self.builder, alias["alias"] if alias else key),
            ).fetchone()
        return _entry(row) if row else None

    def children(self, parent: str) -> list[Entry]:
        """Return the steps recorded on top of `parent`, the most recently seen first."""
        with closing(self._connect()) as connection:
            rows = connection.execute(
                "SELECT * FROM steps WHERE engine=? AND builder=? AND parent=? "
                "ORDER BY last_seen DESC",
                (self.engine, self.builder, parent),
            ).fetchall()
        return [_entry(row) for row in rows]

    def images(self, name: str) -> list[tuple[str, float]]:
        """Return the image IDs seen under an image name on this engine, the latest first."""
        with closing(self._connect()) as connection:
            rows = connection.execute(
                "SELECT image, seen FROM images WHERE engine=? AND name=? ORDER BY seen DESC",
                (self.engine, name),
            ).fetchall()
        return [(row["image"], row["seen"]) for row in rows]

    def events(self, kind: str, since: float) -> list[float]:
        """Return when events of this kind (`clean`) happened on this engine after `since`."""
        with closing(self._connect()) as connection:
            rows = connection.execute(
                "SELECT at FROM events WHERE engine=? AND kind=? AND at>? ORDER BY at",
                (self.engine, kind, since),
            ).fetchall()
        return [row["at"] for row in rows]

    def last_build(self, folder: str) -> tuple[float, dict] | None:
        """Return (when, the explanation's JSON) of the last build of a context folder."""
        with closing(self._connect()) as connection:
            row = connection.execute(
                "SELECT at, why FROM folders WHERE folder=?", (folder,)
            ).fetchone()
        return (row["at"], json.loads(row["why"])) if row else None

    # ------------------------------------------------------------ writing

    def remember(
        self,
        steps: list[Entry],
        images: dict[str, str] | None = None,
        aliases: dict[str, str] | None = None,
    ) -> None:
        """Add or refresh steps (keeping when each was first seen), image names' IDs and aliases
        (a key whose cache the engine matched by content to another key), then trim."""
        now = time.time()
        with closing(self._connect()) as connection, connection:
            for step in steps:
                connection.execute(
                    "INSERT INTO steps VALUES (?,?,?,?,?,?,?,?) ON CONFLICT "
                    "(engine, builder, key) DO UPDATE SET detail=excluded.detail, "
                    "evidence=CASE WHEN excluded.evidence='{}' THEN steps.evidence "
                    "ELSE excluded.evidence END, last_seen=excluded.last_seen",
                    (
                        self.engine,
                        self.builder,
                        step.key,
                        step.parent,
                        json.dumps(step.detail, sort_keys=True),
                        json.dumps(step.evidence, sort_keys=True),
                        now,
                        now,
                    ),
                )
            for name, image in (images or {}).items():
                connection.execute(
                    "INSERT OR REPLACE INTO images VALUES (?,?,?,?)",
                    (self.engine, name, image, now),
                )
            for key, alias in (aliases or {}).items():
                connection.execute(
                    "INSERT OR REPLACE INTO aliases VALUES (?,?,?,?,?)",
                    (self.engine, self.builder, key, alias, now),
                )
            _trim(connection, "steps", "last_seen", MAX_STEPS)
            _trim(connection, "aliases", "seen", MAX_STEPS)
            _trim(connection, "images", "seen", MAX_IMAGES)

    def remember_build(self, folder: str, why: dict) -> None:
        """Keep the explanation of the last build of a context folder (`stagelab why`)."""
        with closing(self._connect()) as connection, connection:
            connection.execute(
                "INSERT OR REPLACE INTO folders VALUES (?,?,?,?)",
                (folder, self.engine, time.time(), json.dumps(why)),
            )
            _trim(connection, "folders", "at", MAX_FOLDERS)

    def remember_event(self, kind: str, detail: str = "") -> None:
        """Note that something happened to this engine's cache (`clean` removed images)."""
        with closing(self._connect()) as connection, connection:
            connection.execute(
                "INSERT INTO events VALUES (?,?,?,?)", (self.engine, time.time(), kind, detail)
            )
            _trim(connection, "events", "at", MAX_EVENTS)

    def size(self) -> dict[str, int]:
        """Return how many rows each table holds (tests check the bounds)."""
        with closing(self._connect()) as connection:
            return {
                table: connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("steps", "aliases", "images", "folders", "events")
            }


def _trim(connection: sqlite3.Connection, table: str, column: str, keep: int) -> None:
    # The table and column names are this module's constants, never a caller's text.
    connection.execute(
        f"DELETE FROM {table} WHERE rowid IN "
        f"(SELECT rowid FROM {table} ORDER BY {column} DESC LIMIT -1 OFFSET ?)",
        (keep,),
    )


def _entry(row: sqlite3.Row) -> Entry:
    return Entry(
        row["key"],
        row["parent"],
        json.loads(row["detail"]),
        json.loads(row["evidence"]),
        row["first_seen"],
        row["last_seen"],
    )
