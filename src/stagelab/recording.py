"""Recordings of real engine answers: their keys, and their storage as small JSON files.

A recording is keyed by everything that decides an answer (for a build: the Dockerfile, the
context's files, target, builder, build args, base images, output kind, no-cache) and holds one
or more takes: repeated identical builds in one run (a first build, then a cached one) are kept
and replayed in order. `make recordings` writes them on a real engine; replay.py reads them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from .course import RECORDINGS_ENV, Course

RECORD_ENV = "STAGELAB_RECORD"
# Set (to the parameters as JSON) while a lesson runs with parameters other than its defaults:
# its recordings join the defaults' instead of replacing them, and its unique values are its own.
VARIANT_ENV = "STAGELAB_VARIANT"
# When this recording session began (seconds since the epoch): a variant keeps only the takes
# recorded since (by the defaults' run), never those of an earlier session.
SINCE_ENV = "STAGELAB_RECORD_SINCE"
DIRECTORY_ENV = RECORDINGS_ENV
FORMAT = 1
# A replay shows the engine's log from these last lines (most builds' logs are shorter).
RECORDED_LOG_LINES = 200
# Files a recording keeps the contents of, up to this total size (larger ones: names and sizes).
# A static C binary (about 0.8 MB) that a lesson copies out of an image and builds into another
# (lesson 06's builder pattern) must come back whole, or the second build cannot replay.
FOLDER_BYTES_KEPT = 1024 * 1024
# A file past that total keeps its first bytes: an ELF header says the CPU a program is for.
HEAD_BYTES_KEPT = 64
# Jupyter's autosave copies are not part of a lesson's context.
IGNORED_DIRECTORIES = {".ipynb_checkpoints"}

# How many takes this process has recorded / replayed under each key.
_takes_recorded: dict[str, int] = {}
_takes_replayed: dict[str, int] = {}
# How many takes of an earlier run a variant's run keeps under each key, before its own.
_takes_kept: dict[str, int] = {}


# ---------------------------------------------------------------- keys


def recordings_dir() -> Path:
    """Return the folder of recordings: inside the package, unless STAGELAB_RECORDINGS says."""
    return Course.find().recordings


def recording_on() -> bool:
    """Tell whether real builds and runs are being recorded (STAGELAB_RECORD=1)."""
    return os.environ.get(RECORD_ENV, "") == "1"


def variant() -> str:
    """Return the parameters (JSON) of the lesson variant running now, "" for the defaults."""
    return os.environ.get(VARIANT_ENV, "")


def context_files(context_dir: Path) -> list[list]:
    """List the context's files as [relative path, sha256 hex, executable], sorted by path."""
    entries = []
    for folder, directories, names in os.walk(context_dir):
        directories[:] = sorted(d for d in directories if d not in IGNORED_DIRECTORIES)
        for name in names:
            path = Path(folder, name)
            relative = path.relative_to(context_dir).as_posix()
            if path.is_symlink():
                digest = "symlink:" + os.readlink(path)
                executable = False
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                executable = bool(path.stat().st_mode & 0o111)
            entries.append([relative, digest, executable])
    return sorted(entries)


def build_identity(request) -> dict:
    """Return everything that decides a build request's outcome, as JSON-ready values.

    BuildKit's options of issue 19 (platforms, named contexts, secrets, cache import and
    export) are part of it only when given, so recordings made before them keep their keys; a
    secret is known by its id only (its value never goes into a recording), a folder context
    by its files' digests, a cache spec by its type and mode (its folder is temporary).
    """
    identity = {
        "kind": "build",
        "dockerfile": request.dockerfile.text,
        "context": context_files(Path(request.context_dir)),
        "target": request.target_ref,
        "builder": request.builder,
        "build_args": dict(sorted(request.build_args.items())),
        # The official names, not the stand-ins: the key must not depend on the machine.
        "images": request.dockerfile.images(request.build_args),
        "output": output_kind(request.output),
        "no_cache": bool(request.no_cache),
    }
    options = {
        "platforms": list(getattr(request, "platforms", [])),
        "build_contexts": {
            name: value if "://" in value else context_files(Path(value))
            for name, value in sorted(getattr(request, "build_contexts", {}).items())
        },
        "secrets": sorted(getattr(request, "secrets", {})),
        "cache_from": [_spec_kind(spec) for spec in getattr(request, "cache_from", [])],
        "cache_to": [_spec_kind(spec) for spec in getattr(request, "cache_to", [])],
        "image_store": getattr(request, "image_store", None),
    }
    identity.update({key: value for key, value in options.items() if value})
    return identity


def _spec_kind(spec: str) -> dict[str, str]:
    """A cache spec without its paths: its type and mode."""
    fields = dict(part.split("=", 1) for part in spec.split(",") if "=" in part)
    return {key: fields[key] for key in ("type", "mode") if key in fields}


def digest(identity: dict) -> str:
    """Return the 24-hex-digit key of an identity (any JSON value)."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def build_key(request) -> str:
    """Return the recording key of a build request."""
    return digest(build_identity(request))


def call_key(kind: str, subject: str, arguments: dict) -> str:
    """Return the recording key of an engine call: what it asks about, and how."""
    return digest({"kind": kind, "image": subject, "arguments": arguments})


def output_kind(output: str | None) -> str | None:
    """Return the exporter type of an --output value ("local" for a bare folder), or None."""
    if output is None:
        return None
    if "=" not in output:
        return "local"
    fields = dict(part.split("=", 1) for part in output.split(",") if "=" in part)
    return fields.get("type", "local")


def tail(log: str) -> str:
    """Return the last RECORDED_LOG_LINES lines of a log, the part a recording keeps."""
    return "".join((log or "").splitlines(keepends=True)[-RECORDED_LOG_LINES:])


def folder_digest(folder: Path) -> str:
    """Return a key of a folder's contents (names, bytes, executable bits), "" when missing."""
    return digest(context_files(folder)) if folder.is_dir() else ""


def folder_snapshot(folder: Path) -> list[dict]:
    """Describe a folder for a recording: its folders, links, files, and the contents of
    files while they total at most FOLDER_BYTES_KEPT bytes (later ones keep name, size and
    their first HEAD_BYTES_KEPT bytes)."""
    entries, kept = [], 0
    for path in sorted(folder.rglob("*")):
        entry = {"path": path.relative_to(folder).as_posix()}
        if path.is_symlink():
            entry["link"] = os.readlink(path)
        elif path.is_dir():
            entry["dir"] = True
        else:
            data = path.read_bytes()
            entry.update(size=len(data), mode=path.stat().st_mode & 0o777)
            if kept + len(data) <= FOLDER_BYTES_KEPT:
                entry["content"] = base64.b64encode(data).decode()
                kept += len(data)
            else:
                entry["head"] = base64.b64encode(data[:HEAD_BYTES_KEPT]).decode()
        entries.append(entry)
    return entries


def restore_folder(entries: list[dict], folder: Path) -> list[str]:
    """Write a recorded folder (folder_snapshot) into `folder`; return the files written only
    in part (their first bytes, then zeros up to their size) or left out, because the recording
    kept only their name, size and maybe first bytes, as "path (N bytes, what was written)"."""
    folder.mkdir(parents=True, exist_ok=True)
    missing = []
    for entry in entries:
        path = folder / entry["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        if "link" in entry:
            path.unlink(missing_ok=True)
            path.symlink_to(entry["link"])
        elif entry.get("dir"):
            path.mkdir(exist_ok=True)
        elif "content" in entry:
            path.write_bytes(base64.b64decode(entry["content"]))
            path.chmod(entry["mode"])
        elif "head" in entry:
            with open(path, "wb") as handle:
                handle.write(base64.b64decode(entry["head"]))
                handle.truncate(entry["size"])
            path.chmod(entry["mode"])
            missing.append(f"{entry['path']} ({entry['size']} bytes, only its first bytes)")
        else:
            missing.append(f"{entry['path']} ({entry['size']} bytes, not written)")
    return missing


# ---------------------------------------------------------------- storage


def _path(key: str) -> Path:
    return recordings_dir() / f"{key}.json"


def load(key: str) -> dict | None:
    """Return the recording under this key, or None when there is none in this format."""
    try:
        recording = json.loads(_path(key).read_text())
    except FileNotFoundError:
        return None
    return recording if recording.get("format") == FORMAT else None


def _save(key: str, recording: dict) -> None:
    folder = recordings_dir()
    folder.mkdir(parents=True, exist_ok=True)
    # Write then rename: a lesson run never sees half a recording.
    with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as handle:
        json.dump(recording, handle, indent=1)
        handle.write("\n")
    os.replace(handle.name, _path(key))


def add_take(key: str, header: dict, take: dict, engine_version: str) -> None:
    """Store a take: the first of this process replaces older ones, later ones append; in a
    lesson variant's run (VARIANT_ENV) the takes already recorded stay, and its own follow."""
    count = _takes_recorded.get(key, 0)
    existing = load(key) if count or _recorded_this_session(key) else None
    if count == 0:
        _takes_kept[key] = len((existing or {}).get("takes", []))
    takes = (existing or {}).get("takes", [])[: _takes_kept[key] + count] + [take]
    _takes_recorded[key] = count + 1
    _save(
        key,
        {
            "format": FORMAT,
            "key": key,
            "recorded_engine": engine_version,
            "recorded_on": datetime.now(timezone.utc).date().isoformat(),
            **header,
            "takes": takes,
        },
    )


def _recorded_this_session(key: str) -> bool:
    """Tell whether a variant's run finds takes of this session's defaults under this key."""
    if not variant():
        return False
    try:
        written = _path(key).stat().st_mtime
    except FileNotFoundError:
        return False
    return written >= float(os.environ.get(SINCE_ENV) or 0)


def next_take(key: str, recording: dict) -> dict:
    """Return the take for this replay; past the last, repeat the last (a warm cache)."""
    count = _takes_replayed.get(key, 0)
    _takes_replayed[key] = count + 1
    takes = recording["takes"]
    return takes[min(count, len(takes) - 1)]


def closest_difference(identity: dict) -> str:
    """Say how the nearest recording with this Dockerfile or this context differs ("" if none)."""
    best: list[str] | None = None
    for path in recordings_dir().glob("*.json"):
        recorded = json.loads(path.read_text()).get("identity")
        # Only builds' identities have a Dockerfile and a context (not a bake's or a run's).
        if (
            not recorded
            or "dockerfile" not in recorded
            or (
                recorded["dockerfile"] != identity["dockerfile"]
                and recorded.get("context") != identity.get("context")
            )
        ):
            continue
        differences = _differences(recorded, identity)
        if best is None or len(differences) < len(best):
            best = differences
    if not best:
        return ""
    return "The nearest recording differs in " + "; ".join(best) + "."


def _differences(recorded: dict, identity: dict) -> list[str]:
    differences = []
    fields = ("dockerfile", "target", "builder", "build_args", "images", "output", "no_cache")
    options = ("platforms", "build_contexts", "secrets", "cache_from", "cache_to", "image_store")
    for field in fields + options:
        if recorded.get(field) != identity.get(field):
            shown = "its text" if field == "dockerfile" else f"recorded {recorded[field]!r}"
            differences.append(f"{field.replace('_', ' ')} ({shown})")
    was = {entry[0]: entry for entry in recorded["context"]}
    now = {entry[0]: entry for entry in identity["context"]}
    changed = sorted(name for name in was.keys() | now.keys() if was.get(name) != now.get(name))
    if changed:
        differences.append("context files " + ", ".join(changed[:5]))
    return differences
