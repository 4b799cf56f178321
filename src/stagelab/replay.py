"""No-engine mode: replay recordings of real builds when no engine answers (replay_calls.py
does the same for other engine calls).

With an engine, builds and calls run for real (and are recorded when STAGELAB_RECORD=1). With
none, `sl.build` replays the recording of the same request: the same stages, steps, image id
and log tail, the result marked `replayed`, under a banner that says so.
"""

from __future__ import annotations

import functools
import html
import time
from pathlib import Path

from . import engine, recording
from .errors import BuildFailed, EngineUnavailable
from .progress import Progress, current_cell, in_kernel, show
from .results import BuildResult, Step
from .states import progress_state
from .why import Why
from .why.stages import result_outline

RE_RECORD = (
    "If this is in a lesson, its recording is missing or stale: run `make recordings` "
    "on a machine with Docker and commit src/stagelab/recordings/."
)

# Tags of replayed builds, so `sl.run("my-tag", ...)` finds the recorded image.
replayed_tags: dict[str, str] = {}
banner_shown_in: set = set()


@functools.cache
def recording_engine() -> str:
    return (engine.ping() or {}).get("Version", "unknown")


# ---------------------------------------------------------------- builds


def record(request, outcome: BuildResult | BuildFailed) -> None:
    """Save a recording of this real build (its result, or its failure) when recording is on."""
    if not recording.recording_on():
        return
    failed = outcome if isinstance(outcome, BuildFailed) else None
    result = failed.result if failed is not None else outcome
    if result is None:
        return
    take = {
        "stage_status": result.stage_status,
        "shared_with": result.shared_with,
        "steps": [
            [s.stage, s.instruction, s.line, s.status, s.seconds, s.start]
            + ([s.platform, s.runs_on] if s.platform else [])
            for s in result.steps
        ],
        **({"platform_status": result.platform_status} if result.platform_status else {}),
        **({"build_ref": result.build_ref} if result.build_ref else {}),
        **({"layer_ids": result.layer_ids} if result.layer_ids else {}),
        "image_id": result.image_id,
        "size_bytes": result.size_bytes,
        "duration_s": round(result.duration_s, 2),
        "log_tail": recording.tail(result.log),
        "command": result.command,
        "substitutions": result.substitutions,
        "failure": failure_fields(failed) if failed is not None else None,
        "exported": _exported_files(result.output) if failed is None else None,
        "why": result.explanation.to_json() if result.explanation is not None else None,
    }
    identity = recording.build_identity(request)
    recording.add_take(
        recording.digest(identity),
        {"kind": "build", "identity": identity},
        take,
        recording_engine(),
    )


def replay(request, watcher: Progress, why: bool = False) -> BuildResult:
    """Replay the recording of this build request, telling `watcher` its recorded transitions.

    Returns the recorded BuildResult (marked `replayed`; `why` shows its explanation in its
    summary); raises the recorded BuildFailed for a
    recorded failure, and EngineUnavailable, saying why and how to run it, when there is no
    recording of this exact request.
    """
    key = recording.build_key(request)
    found = recording.load(key)
    if found is None:
        raise EngineUnavailable(_no_recording_advice(request, key))
    take = recording.next_take(key, found)
    request.substitutions = dict(take["substitutions"])
    result = request.result(
        stage_status=dict(take["stage_status"]),
        shared_with=dict(take.get("shared_with") or {}),  # older recordings have none
        steps=[Step(*fields) for fields in take["steps"]],
        image_id=take["image_id"],
        size_bytes=take["size_bytes"],
        duration_s=take["duration_s"],
        log=take["log_tail"],
        command=list(take.get("command") or []),  # older recordings have none
        replayed=True,
        recorded_engine=found["recorded_engine"],
        recorded_on=found["recorded_on"],
        platform_status=dict(take.get("platform_status") or {}),
        build_ref=take.get("build_ref"),
        layer_ids=list(take.get("layer_ids") or []),
    )
    result.explanation = recorded_why(result, take.get("why"))
    result.summary_why = why
    show_banner(banner_text(result.recorded_engine, result.recorded_on))
    watcher.start(request.dockerfile, request.builder, request.target_ref)
    if result.command:
        watcher.command(result.command)
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
        replayed_tags[request.tag] = result.image_id
        if ":" not in request.tag.rsplit("/", 1)[-1]:
            replayed_tags[request.tag + ":latest"] = result.image_id
    return result


def recorded_why(result: BuildResult, recorded: dict | None) -> Why:
    """Return a replayed build's explanation: each stage's reason read from the Dockerfile here,
    each step's reason from the recording, which the explanation names (None: a recording made
    before stagelab kept reasons, which says so)."""
    where = (
        f"the recording of a real build on Docker Engine {result.recorded_engine or '?'}, "
        f"made on {result.recorded_on or 'an unknown date'}"
    )
    if recorded is None:
        return result_outline(
            result, f"Replayed: {where} holds no reasons for its steps. {RE_RECORD}"
        )
    why = Why.from_json(recorded, recorded=where)
    why.notes.insert(
        0,
        f"Replayed with no engine: the reasons for each step come from {where} (its statuses, "
        "base images' IDs and stagelab's ledger of earlier builds were that machine's); the "
        "reasons for each stage follow from the Dockerfile alone.",
    )
    return why


def transitions(result: BuildResult) -> list[tuple[str, str, str]]:
    """Return the stage transitions (ref, progress state, step) of a recorded build, in order."""
    events = []
    for order, step in enumerate(result.steps):
        if step.stage is None:
            continue
        events.append((step.start, order, 0, step.stage, "running", step.instruction))
        events.append(
            (step.end, order, 1, step.stage, progress_state(step.status), step.instruction)
        )
    events.sort(key=lambda event: event[:3])
    changes = [(ref, state, text) for _, _, _, ref, state, text in events]
    # Each stage ends in the state the engine reported for it, even a stage with no steps of
    # its own (only `FROM other`) or whose last step to finish was a cached FROM.
    last = {ref: state for ref, state, _ in changes}
    changes += [
        (ref, progress_state(status), "")
        for ref, status in result.stage_status.items()
        if status != "skipped" and last.get(ref) != progress_state(status)
    ]
    return changes


def failure_fields(failed: BuildFailed) -> dict:
    """Return what a recording keeps of a BuildFailed: the fields it is made again from."""
    return {
        "stage": failed.stage,
        "instruction": failed.instruction,
        "line": failed.line,
        "exit_code": failed.exit_code,
        "log_tail": failed.log_tail,
        "reason": failed.reason,
        "command": failed.command,
        **({"advice": failed.advice} if failed.advice else {}),
    }


def _export_destination(output: str) -> Path:
    return Path(output.split("dest=", 1)[1].split(",")[0] if "=" in output else output)


def _exported_files(output: str | None) -> list[dict] | None:
    """Describe a local export: folders, links, files, and file contents while they stay small."""
    if output is None or recording.output_kind(output) != "local":
        return None
    return recording.folder_snapshot(_export_destination(output))


def _restore_exported(entries: list[dict], output: str) -> None:
    """Write the recorded export; a file too big to record is left out, and a note says so."""
    show_missing(recording.restore_folder(entries, _export_destination(output)))


def show_missing(missing: list[str]) -> None:
    """Say which files a replay wrote only in part or not at all: the recording kept only their
    names, sizes and maybe first bytes."""
    if missing:
        show_banner(
            "Too big to keep in the recording, so written here only in part (the rest zeros, "
            "so they do not run) or not at all: " + ", ".join(missing),
            kind="note",
        )


def _no_recording_advice(request, key: str) -> str:
    what = [f"builder {request.builder}", f"target {request.target_ref or 'last stage'}"]
    if request.build_args:
        what.append(f"build args {request.build_args}")
    closest = recording.closest_difference(recording.build_identity(request))
    return (
        engine.advice_no_engine() + "\n"
        f"There is no recording of this exact build to replay ({', '.join(what)}; "
        f"recording {key}): no recording for this Dockerfile, context files, target, "
        "builder and build args." + (f"\n{closest}" if closest else "") + "\n"
        "To run it for real, start a Docker engine (`stagelab engine ensure`), or run "
        "`make lab` on a machine with Docker.\n" + RE_RECORD
    )


def unique(name: str) -> str:
    """Return a value new to this run, to salt a build; with no engine, the recorded value.

    A lesson that must show a real first build (nothing cached) puts this value in a file or
    its Dockerfile. Recording stores it under `name` (unique across lessons); a replay gets
    the same value back, so the salted build is the recorded one. Raises EngineUnavailable with
    no engine and no recording of `name`.
    """
    # A lesson variant's values are its own: its salted builds are not the defaults' ones.
    named = name + (f" {recording.variant()}" if recording.variant() else "")
    key = recording.digest({"kind": "unique", "name": named})
    if engine.answers():
        value = str(time.time_ns())
        if recording.recording_on():
            recording.add_take(
                key, {"kind": "unique", "name": named}, {"value": value}, recording_engine()
            )
        return value
    found = recording.load(key)
    if found is None:
        raise EngineUnavailable(
            engine.advice_no_engine() + f"\nThere is no recording of the value {name!r} that "
            "this lesson salts its builds with. " + RE_RECORD
        )
    return recording.next_take(key, found)["value"]


# ---------------------------------------------------------------- banner


def banner_text(recorded_engine: str | None, recorded_on: str | None) -> str:
    """Say that this is a replay, of what, and why."""
    return (
        f"Replayed from a real build on Docker Engine {recorded_engine or 'unknown'}, "
        f"recorded on {recorded_on or 'an unknown date'}: "
        "no Docker engine is reachable here."
    )


def show_banner(text: str, kind: str = "build") -> None:
    """Show a replay banner: HTML in a notebook, one line on stderr elsewhere."""
    if in_kernel() or kind == "call":
        banner_shown_in.add(current_cell())
    colour = "#fff4ce" if kind != "note" else "#eef3fb"
    show(
        f"<div class='stagelab-replay-banner' style='background:{colour};"
        "border-left:4px solid #d4a000;padding:4px 8px;margin:2px 0'>"
        f"<b>Replay.</b> {html.escape(text)}</div>",
        text,
    )
