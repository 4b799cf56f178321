"""No-engine mode: replay recordings of real builds when no Docker engine answers.

A recording is a small JSON file made on a real engine (`make recordings`), keyed by everything
that decides a build's outcome. With no engine, `sl.build` replays it: the same stages, steps,
image id and log tail, the result marked `replayed`, under a banner that says so.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import inspect
import json
import os
import shlex
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from . import engine
from .errors import BuildFailed, EngineUnavailable, StagelabError

RECORD_ENV = "STAGELAB_RECORD"
DIRECTORY_ENV = "STAGELAB_RECORDINGS"
FORMAT = 1
LOG_TAIL_LINES = 40
# Exported files up to this total size are kept; larger exports keep names and sizes only.
OUTPUT_BYTES_KEPT = 256 * 1024
# Jupyter's autosave copies are not part of a lesson's context.
IGNORED_DIRECTORIES = {".ipynb_checkpoints"}
TO_WATCHER_STATE = {"built": "done", "cached": "cached", "failed": "failed"}

# How many times this process has recorded / replayed each key: repeated builds of the same
# thing (a first build, then a cached one) are kept and replayed in order.
_takes_recorded: dict[str, int] = {}
_takes_replayed: dict[str, int] = {}
# Tags of replayed builds, so `sl.run("my-tag", ...)` finds the recorded image.
_replayed_tags: dict[str, str] = {}
_banner_shown_in: set = set()


# ---------------------------------------------------------------- keys

def recordings_dir() -> Path:
    """Return the folder of recordings: inside the package, unless STAGELAB_RECORDINGS says."""
    return Path(os.environ.get(DIRECTORY_ENV) or Path(__file__).with_name("recordings"))


def recording_on() -> bool:
    """Tell whether real builds and runs are being recorded (STAGELAB_RECORD=1)."""
    return os.environ.get(RECORD_ENV, "") == "1"


def context_files(context_dir: Path) -> list[list]:
    """List the context's files as [relative path, sha256, executable], sorted."""
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
    """Return everything that decides this build's outcome."""
    return {
        "kind": "build",
        "dockerfile": request.dockerfile.text,
        "context": context_files(Path(request.context_dir)),
        "target": request.target_ref,
        "builder": request.builder,
        "build_args": dict(sorted(request.build_args.items())),
        # The official names, not the stand-ins: the key must not depend on the machine.
        "images": request.dockerfile.images(request.build_args),
        "output": _output_kind(request.output),
        "no_cache": bool(request.no_cache),
    }


def build_key(request) -> str:
    """Return the recording key of this build request."""
    return _digest(build_identity(request))


def _digest(identity: dict) -> str:
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _output_kind(output: str | None) -> str | None:
    if output is None:
        return None
    if "=" not in output:
        return "local"
    fields = dict(part.split("=", 1) for part in output.split(",") if "=" in part)
    return fields.get("type", "local")


# ---------------------------------------------------------------- storage

def _path(key: str) -> Path:
    return recordings_dir() / f"{key}.json"


def _load(key: str) -> dict | None:
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


@functools.lru_cache(maxsize=None)
def _engine_version() -> str:
    version = engine.ping() or {}
    return version.get("Version", "unknown")


def _add_take(key: str, header: dict, take: dict) -> None:
    """Store a take: the first of this process replaces older ones, later ones append."""
    count = _takes_recorded.get(key, 0)
    existing = _load(key) if count else None
    takes = (existing or {}).get("takes", [])[:count] + [take]
    _takes_recorded[key] = count + 1
    _save(key, {"format": FORMAT, "key": key, "recorded_engine": _engine_version(),
                "recorded_on": datetime.now(timezone.utc).date().isoformat(),
                **header, "takes": takes})


def _next_take(key: str, recording: dict) -> dict:
    """Return the take for this replay; past the last, repeat the last (a warm cache)."""
    count = _takes_replayed.get(key, 0)
    _takes_replayed[key] = count + 1
    takes = recording["takes"]
    return takes[min(count, len(takes) - 1)]


# ---------------------------------------------------------------- builds

def record(request, result) -> None:
    """Save a recording of this real build (a BuildResult or a BuildFailed) when switched on."""
    if not recording_on():
        return
    failed = result if isinstance(result, BuildFailed) else None
    outcome = failed.result if failed is not None else result
    if outcome is None:
        return
    take = {
        "stage_status": outcome.stage_status,
        "steps": [[s.stage, s.instruction, s.line, s.status, s.seconds, s.start]
                  for s in outcome.steps],
        "image_id": outcome.image_id,
        "size_bytes": outcome.size_bytes,
        "duration_s": round(outcome.duration_s, 2),
        "log_tail": _tail(outcome.log),
        "substitutions": outcome.substitutions,
        "failure": _failure_fields(failed) if failed is not None else None,
        "exported": _exported_files(outcome.output) if failed is None else None,
    }
    identity = build_identity(request)
    _add_take(_digest(identity), {"kind": "build", "identity": identity}, take)


def replay(request, watcher):
    """Replay the recording of this build, or raise EngineUnavailable when there is none."""
    from .build import Step

    key = build_key(request)
    recording = _load(key)
    if recording is None:
        raise EngineUnavailable(_no_recording_advice(request, key))
    take = _next_take(key, recording)
    request.substitutions = dict(take["substitutions"])
    result = request.result(
        stage_status=dict(take["stage_status"]),
        steps=[Step(*fields) for fields in take["steps"]],
        image_id=take["image_id"], size_bytes=take["size_bytes"],
        duration_s=take["duration_s"], log=take["log_tail"],
        replayed=True, recorded_engine=recording["recorded_engine"],
        recorded_on=recording["recorded_on"])
    show_banner(banner_text(result.recorded_engine, result.recorded_on), kind="build")
    watcher.start(request.dockerfile, request.builder, request.target_ref)
    for ref, state, step in transitions(result):
        watcher.stage(ref, state, step)
    if take["failure"] is not None:
        error = BuildFailed(**take["failure"], log=take["log_tail"], result=result)
        watcher.finish(None, error)
        raise error
    if take["exported"] is not None and request.output:
        _restore_exported(take["exported"], request.output)
    watcher.finish(result)
    if request.tag and result.image_id:
        _replayed_tags[request.tag] = result.image_id
        if ":" not in request.tag.rsplit("/", 1)[-1]:
            _replayed_tags[request.tag + ":latest"] = result.image_id
    return result


def transitions(result) -> list[tuple[str, str, str]]:
    """Return the stage transitions (ref, state, step) of a recorded build, in time order."""
    events = []
    for order, step in enumerate(result.steps):
        if step.stage is None:
            continue
        events.append((step.start, order, 0, step.stage, "running", step.instruction))
        events.append((step.end, order, 1, step.stage,
                       TO_WATCHER_STATE.get(step.status, step.status), step.instruction))
    events.sort(key=lambda event: event[:3])
    changes = [(ref, state, text) for _, _, _, ref, state, text in events]
    # Each stage ends in the state the engine reported for it, even a stage with no steps of
    # its own (only `FROM other`) or whose last step to finish was a cached FROM.
    last = {ref: state for ref, state, _ in changes}
    changes += [(ref, TO_WATCHER_STATE[state], "") for ref, state in result.stage_status.items()
                if state in TO_WATCHER_STATE and last.get(ref) != TO_WATCHER_STATE[state]]
    return changes


def _failure_fields(failed: BuildFailed) -> dict:
    return {"stage": failed.stage, "instruction": failed.instruction, "line": failed.line,
            "exit_code": failed.exit_code, "log_tail": failed.log_tail,
            "reason": failed.reason, "command": failed.command}


def _tail(log: str) -> str:
    return "".join((log or "").splitlines(keepends=True)[-LOG_TAIL_LINES:])


def _export_destination(output: str) -> Path:
    return Path(output.split("dest=", 1)[1].split(",")[0] if "=" in output else output)


def _exported_files(output: str | None) -> list[dict] | None:
    """Describe a local export: folders, links, files, and file contents while they stay small."""
    if output is None or _output_kind(output) != "local":
        return None
    destination = _export_destination(output)
    entries, kept = [], 0
    for path in sorted(destination.rglob("*")):
        entry = {"path": path.relative_to(destination).as_posix()}
        if path.is_symlink():
            entry["link"] = os.readlink(path)
        elif path.is_dir():
            entry["dir"] = True
        else:
            data = path.read_bytes()
            entry.update(size=len(data), mode=path.stat().st_mode & 0o777)
            if kept + len(data) <= OUTPUT_BYTES_KEPT:
                entry["content"] = base64.b64encode(data).decode()
                kept += len(data)
        entries.append(entry)
    return entries


def _restore_exported(entries: list[dict], output: str) -> None:
    """Write the recorded export; a file too big to record is left out, and a note says so."""
    destination = _export_destination(output)
    destination.mkdir(parents=True, exist_ok=True)
    missing = []
    for entry in entries:
        path = destination / entry["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        if "link" in entry:
            path.unlink(missing_ok=True)
            path.symlink_to(entry["link"])
        elif entry.get("dir"):
            path.mkdir(exist_ok=True)
        elif "content" in entry:
            path.write_bytes(base64.b64decode(entry["content"]))
            path.chmod(entry["mode"])
        else:
            missing.append(f"{entry['path']} ({entry['size']} bytes)")
    if missing:
        show_banner("Too big to keep in the recording, so not written here: " +
                    ", ".join(missing), kind="note")


def _no_recording_advice(request, key: str) -> str:
    what = [f"builder {request.builder}", f"target {request.target_ref or 'last stage'}"]
    if request.build_args:
        what.append(f"build args {request.build_args}")
    closest = closest_difference(build_identity(request))
    return (engine.advice_no_engine() + "\n"
            f"There is no recording of this exact build to replay ({', '.join(what)}; "
            f"recording {key}): no recording for this Dockerfile, context files, target, "
            "builder and build args." + (f"\n{closest}" if closest else "") + "\n"
            "To run it for real, start a Docker engine (`stagelab engine ensure`), or run "
            "`make lab` on a machine with Docker.\n"
            "If this build is in a lesson, its recording is missing or stale: run "
            "`make recordings` on a machine with Docker and commit src/stagelab/recordings/.")


def closest_difference(identity: dict) -> str:
    """Say how the nearest recording with this Dockerfile or this context differs from it."""
    best: list[str] | None = None
    for path in recordings_dir().glob("*.json"):
        recorded = json.loads(path.read_text()).get("identity")
        if not recorded or (recorded["dockerfile"] != identity["dockerfile"]
                            and recorded["context"] != identity["context"]):
            continue
        differences = _differences(recorded, identity)
        if best is None or len(differences) < len(best):
            best = differences
    if not best:
        return ""
    return "The nearest recording differs in " + "; ".join(best) + "."


def _differences(recorded: dict, identity: dict) -> list[str]:
    differences = []
    for field in ("dockerfile", "target", "builder", "build_args", "images", "output",
                  "no_cache"):
        if recorded[field] != identity[field]:
            shown = "its text" if field == "dockerfile" else f"recorded {recorded[field]!r}"
            differences.append(f"{field.replace('_', ' ')} ({shown})")
    was = {entry[0]: entry for entry in recorded["context"]}
    now = {entry[0]: entry for entry in identity["context"]}
    changed = sorted(name for name in was.keys() | now.keys() if was.get(name) != now.get(name))
    if changed:
        differences.append("context files " + ", ".join(changed[:5]))
    return differences


def unique(name: str) -> str:
    """Return a value new to this run, to salt a build; with no engine, the recorded value.

    A lesson that must show a real first build (nothing cached) puts this value in a file or
    its Dockerfile. Recording stores it under `name` (unique across lessons); a replay gets
    the same value back, so the salted build is the recorded one.
    """
    key = _digest({"kind": "unique", "name": name})
    if engine.answers():
        value = str(time.time_ns())
        if recording_on():
            _add_take(key, {"kind": "unique", "name": name}, {"value": value})
        return value
    recording = _load(key)
    if recording is None:
        raise EngineUnavailable(
            engine.advice_no_engine() + f"\nThere is no recording of the value {name!r} that "
            "this lesson salts its builds with: run `make recordings` on a machine with Docker "
            "and commit src/stagelab/recordings/.")
    return _next_take(key, recording)["value"]


# ---------------------------------------------------------------- banner

def banner_text(recorded_engine: str | None, recorded_on: str | None) -> str:
    """Say that this is a replay, of what, and why."""
    return (f"Replayed from a real build on Docker Engine {recorded_engine or 'unknown'}, "
            f"recorded on {recorded_on or 'an unknown date'}: "
            "no Docker engine is reachable here.")


def show_banner(text: str, kind: str = "build") -> None:
    """Show a replay banner: HTML in a notebook, one line on stderr elsewhere."""
    shell = _kernel_shell()
    if shell is None:
        print(f"stagelab: {text}", file=sys.stderr)
        return
    from IPython.display import HTML, display

    _banner_shown_in.add(shell.execution_count)
    colour = "#fff4ce" if kind != "note" else "#eef3fb"
    display(HTML(f"<div class='stagelab-replay-banner' style='background:{colour};"
                 "border-left:4px solid #d4a000;padding:4px 8px;margin:2px 0'>"
                 f"<b>Replay.</b> {html.escape(text)}</div>"))


def _kernel_shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return shell if shell is not None and hasattr(shell, "kernel") else None


def _show_call_banner(kind: str, recording: dict) -> None:
    """Show the banner once per notebook cell (or once per process outside a notebook)."""
    shell = _kernel_shell()
    cell = shell.execution_count if shell is not None else "process"
    if cell in _banner_shown_in:
        return
    _banner_shown_in.add(cell)
    text = (f"Replayed the recorded output of `{kind}` on Docker Engine "
            f"{recording['recorded_engine']}, recorded on {recording['recorded_on']}: "
            "no Docker engine is reachable here.")
    show_banner(text, kind="call")


# ---------------------------------------------------------------- other engine calls

def recorded_call(kind: str, subject: str, arguments: dict, ask_engine,
                  errors: tuple[type[StagelabError], ...] = ()):
    """Ask the engine (recording its answer when recording is on), or replay with no engine.

    `subject` names what is asked about by content (an image, a Dockerfile and its context),
    `arguments` the rest of the question; both must be JSON. `errors` are the exceptions that
    are answers too: they are recorded and raised again on replay.
    """
    if not engine.answers():
        return _replay_call(kind, subject, arguments, {error.__name__: error for error in errors})
    if not recording_on():
        return ask_engine()
    try:
        value = ask_engine()
    except errors as error:
        _record_call(kind, subject, arguments, {"error": {
            "type": type(error).__name__, "message": str(error), "command": error.command,
            "exit_code": error.exit_code, "output": _tail(error.output)}})
        raise
    _record_call(kind, subject, arguments, {"value": value})
    return value


def replayable(kind: str, errors: tuple[type[StagelabError], ...] = ()):
    """Make a function of an image record on a real engine and replay when there is none.

    Calls are keyed by the image's id and the call's arguments; an image id of a replayed
    build is the recorded one, so lessons find the outputs recorded for it.
    """
    def decorate(function):
        signature = inspect.signature(function)

        @functools.wraps(function)
        def recorded_or_replayed(image, *args, **kwargs):
            arguments = _call_arguments(signature, image, args, kwargs)
            return recorded_call(kind, image, arguments,
                                 lambda: function(image, *args, **kwargs), errors)

        return recorded_or_replayed

    return decorate


def _call_arguments(signature, image, args, kwargs) -> dict:
    bound = signature.bind(image, *args, **kwargs)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    arguments.pop(next(iter(signature.parameters)))
    if isinstance(arguments.get("command"), str):
        arguments["command"] = shlex.split(arguments["command"])
    return arguments


def call_key(kind: str, subject: str, arguments: dict) -> str:
    """Return the recording key of a call: what it asks about, and how."""
    return _digest({"kind": kind, "image": subject, "arguments": arguments})


def _record_call(kind: str, subject: str, arguments: dict, outcome: dict) -> None:
    subject = _image_id_on_engine(subject)
    key = call_key(kind, subject, arguments)
    _add_take(key, {"kind": kind, "image": subject, "arguments": arguments}, outcome)


def _image_id_on_engine(subject: str) -> str:
    """Name an image by its id, which a replayed build also reports; other subjects stay."""
    try:
        return engine.client().images.get(subject).id
    except Exception:
        return subject


def _replay_call(kind: str, subject: str, arguments: dict, error_types: dict):
    subject = _replayed_tags.get(subject, subject)
    key = call_key(kind, subject, arguments)
    recording = _load(key)
    if recording is None:
        shown = " ".join(arguments.get("command") or []) or kind
        raise EngineUnavailable(
            engine.advice_no_engine() + "\n"
            f"There is no recording of `{shown}` on {subject[:40]} to replay "
            f"(recording {key}).\nTo run it for real, start a Docker engine (`stagelab engine "
            "ensure`), or run `make lab` on a machine with Docker.\nIf this call is in a "
            "lesson, its recording is missing or stale: run `make recordings` on a machine "
            "with Docker and commit src/stagelab/recordings/.")
    take = _next_take(key, recording)
    _show_call_banner(kind, recording)
    if "error" in take:
        error = take["error"]
        raise error_types.get(error["type"], StagelabError)(
            error["message"], command=error["command"], exit_code=error["exit_code"],
            output=error["output"])
    return take["value"]
