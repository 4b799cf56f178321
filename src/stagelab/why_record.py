"""What stagelab notes around a real build so `result.why()` can explain it: before the build,
what each step's cache will compare and the IDs of the images it uses; after it, the
explanation, and the build's steps added to stagelab's record of this engine with the
evidence of their cache (the classic builder's step images, BuildKit's cache records).

Nothing here may break a build: where something cannot be read, the explanation says so.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import engine, images
from .course import Course
from .errors import StagelabError
from .results import BuildResult
from .why import Why
from .why.contextfiles import BuildContext
from .why.document import Document
from .why.explain import explain, step_key
from .why.inputs import StageInput, stage_inputs
from .why.ledger import Entry, Ledger
from .why.stages import result_outline, stage_reasons

# Text builds get a temporary context folder: there is no folder to ask `stagelab why` about.
TEMPORARY_CONTEXT = "stagelab-context-"


@dataclass
class Planned:
    """What was known before a build: the steps' inputs, the images' IDs, the record, and the
    error that kept any of it from being read (then `why()` says so)."""

    request: object
    inputs: list[StageInput] = field(default_factory=list)
    images: dict[str, str] = field(default_factory=dict)
    image_keys: dict[str, dict] = field(default_factory=dict)
    record: Ledger | None = None
    began: float = field(default_factory=time.time)
    error: str | None = None


def prepare(request) -> Planned:
    """Read what the build's steps will be compared by, before the build starts."""
    planned = Planned(request)
    try:
        planned.images, planned.image_keys = _image_ids(request)
        context = BuildContext(request.context_dir)
        planned.inputs = stage_inputs(
            request.dockerfile,
            request.builder,
            request.build_args,
            request.target_ref,
            context,
            {name: keys["layers"] for name, keys in planned.image_keys.items()},
        )
        planned.record = open_ledger(request.builder)
    except (OSError, sqlite3.Error, StagelabError, ValueError) as error:
        planned.error = f"{type(error).__name__}: {error}"
    return planned


def open_ledger(builder: str) -> Ledger:
    """Open stagelab's record of this engine for one builder."""
    return Ledger(Course.find().state, engine.identity(engine.docker_host()), builder)


def _image_ids(request) -> tuple[dict[str, str], dict[str, dict]]:
    """Map every external image the build uses to the ID of the image that serves it, and to
    what the caches key it by: its layers (a COPY --from it copies their files; BuildKit keys a
    base image by their chain ID, moby daemon builder-next/adapters/containerimage/pull.go
    `cacheKeyFromConfig`) and, for a base, the settings its stage starts with (environment,
    folder, user, shell: convert.go `dispatchStages` starts a stage's state from them)."""
    ids, keys = {}, {}
    for name in request.dockerfile.images(request.build_args, request.builder):
        found = images.inspect_image(request.substitutions.get(name, name))
        if found is None:
            continue
        config = found.get("Config") or {}
        settings = [config.get(part) for part in ("Env", "WorkingDir", "User", "Shell", "OnBuild")]
        ids[name] = found["Id"]
        keys[name] = {
            "layers": step_key((found.get("RootFS") or {}).get("Layers") or found["Id"]),
            "settings": step_key(settings),
        }
    return ids, keys


def conclude(planned: Planned, result: BuildResult) -> Why:
    """Explain a finished (or failed) build and add its steps to the record; never raises."""
    request = planned.request
    stage_text = stage_reasons(
        request.dockerfile,
        request.builder,
        request.target_ref,
        request.build_args,
        request.build_contexts,
    )
    if planned.error is not None or planned.record is None:
        return result_outline(result, f"stagelab could not read what it needs: {planned.error}")
    try:
        explained = explain(
            request.builder,
            request.target_ref,
            planned.inputs,
            stage_text,
            result.stage_status,
            result.steps,
            planned.record,
            planned.images,
            image_keys=planned.image_keys,
            no_cache=request.no_cache,
            gone=_evidence_reader(request.builder),
            shared_with=result.shared_with,
            document=Document.of(request.dockerfile, _dockerfile_file(request)),
        )
        entries = explained.entries
        if request.builder == "buildkit" and any(s.status == "built" for s in result.steps):
            entries = _with_cache_records(entries, planned.began)
        planned.record.remember(entries, explained.images, explained.aliases)
        if not temporary_context(request.context_dir):
            folder = str(Path(request.context_dir).resolve())
            planned.record.remember_build(folder, explained.why.to_json())
    except (OSError, sqlite3.Error) as error:
        return result_outline(result, f"stagelab could not use its record: {error}")
    return explained.why


def _dockerfile_file(request) -> str | None:
    """Return the path that names a build's Dockerfile, None for Dockerfile text (its folder
    is a temporary one, new for every build)."""
    if temporary_context(request.context_dir):
        return None
    return str(Path(request.dockerfile_path).resolve())


def _evidence_reader(builder: str):
    """Return gone(entry): whether the engine's cache of a recorded step is gone (None: the
    record holds no evidence to look for)."""
    records: dict[str, bool] = {}

    def gone(entry: Entry) -> bool | None:
        if builder == "classic":
            image = entry.evidence.get("image")
            return None if not image else not images.present(image)
        ids = entry.evidence.get("records")
        if not ids:
            return None
        if not records:
            records.update({item["ID"]: True for item in _build_cache()})
        return not any(record_id in records for record_id in ids)

    return gone


def _build_cache() -> list[dict]:
    """Return the engine's BuildKit cache records (docker system df's build cache)."""
    return engine.client().api.df().get("BuildCache") or []


def _with_cache_records(entries: list[Entry], began: float) -> list[Entry]:
    """Attach to each step the BuildKit cache records its build made (created since `began`,
    matched by the description BuildKit gives them: the RUN's command, or the step's name)."""
    fresh = [
        item
        for item in _build_cache()
        if item.get("Type") == "regular" and _seconds(item.get("CreatedAt", "")) >= began - 2
    ]
    matched = []
    for entry in entries:
        names = {_description(entry.detail)}
        ids = [item["ID"] for item in fresh if _describes(item.get("Description", ""), names)]
        matched.append(
            Entry(entry.key, entry.parent, entry.detail, {"records": ids} if ids else {})
        )
    return matched


def _description(detail: dict) -> str:
    own = detail.get("own", {})
    if "cmd" in own:
        return "mount / from exec " + " ".join(own["cmd"])
    return detail.get("instruction", "")


def _describes(description: str, names: set[str]) -> bool:
    text = description.split("] ", 1)[1] if description.startswith("[") else description
    return text in names


def _seconds(stamp: str) -> float:
    """Read the engine's RFC 3339 time (nanoseconds, Z) as Unix seconds; 0 when unreadable."""
    try:
        trimmed = stamp.replace("Z", "+00:00")
        if "." in trimmed:
            head, rest = trimmed.split(".", 1)
            fraction, _, zone = rest.partition("+")
            trimmed = f"{head}.{fraction[:6]}+{zone}"
        return datetime.fromisoformat(trimmed).timestamp()
    except ValueError:
        return 0.0


def temporary_context(folder: str | os.PathLike) -> bool:
    """Tell whether a context folder is one stagelab made for Dockerfile text."""
    path = Path(folder)
    return path.name.startswith(TEMPORARY_CONTEXT) and path.parent == Path(tempfile.gettempdir())


def last_why(folder: str | os.PathLike, stage: str | None = None) -> str:
    """Return, as text, why the last build of a context folder did what it did (`stagelab why`).

    Reads stagelab's ledger only: no engine is needed. Raises StagelabError saying what to do
    when the folder is missing or was never built through stagelab, or names no such stage.
    """
    path = Path(folder)
    if not path.is_dir():
        raise StagelabError(f"No folder {folder}: give the build context folder you built.")
    found = Ledger(Course.find().state, "", "").last_build(str(path.resolve()))
    if found is None:
        raise StagelabError(
            f"No build of {path.resolve()} on record: build it first, with "
            f"`stagelab build {folder}` or sl.build({str(folder)!r}), then ask again."
        )
    at, recorded = found
    why = Why.from_json(recorded)
    when = datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M")
    heading = f"The last build of {path.resolve()}, on {when}:"
    if stage is None:
        return f"{heading}\n{why}"
    wanted = stage.lower()
    if wanted not in why.stages:
        raise StagelabError(
            f"That build has no stage {stage!r}; its stages: {', '.join(why.stages)}."
        )
    return f"{heading}\n{why.stages[wanted]}"
