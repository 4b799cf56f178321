"""`sl.bake`: several targets of one or more Dockerfiles in one `docker buildx bake`, each
target's stages as `sl.build` reports them, and the steps the engine ran once for several.

buildx resolves the bake file (`docker buildx bake --print`: HCL, JSON or compose, with groups,
`inherits` and `target:` contexts) and sends every target to one BuildKit at once, which solves
an operation shared by several targets once. Its `--progress=rawjson` stream names each step
with its target first ("[app deps 1/2] RUN ..."), and a shared step comes once per target
under one digest (measured with buildx 0.29.1 on Engine 28.5.2): so a step whose digest
several targets report ran once for all of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from . import engine, images, multiplatform, recording
from .bake_results import BakeResult, SharedStep, record_bake, replay_bake, target_dockerfile
from .cleanup import remember
from .context import context_folder
from .errors import BuildFailed, StagelabError
from .progress import Progress, auto_progress
from .progress_names import VERTEX_NAME
from .rawjson import RawJsonReader
from .results import BuildResult

BAKE_FILE = "docker-bake.json"
PRINT_TIMEOUT_S = 120


def bake(
    context: str | os.PathLike,
    definition: str | dict,
    *,
    targets: list[str] | None = None,
    files: dict[str, str | bytes] | None = None,
    progress: bool | None = None,
) -> BakeResult:
    """Run `docker buildx bake` on a bake definition and report each target.

    `context` is the folder the definition's paths are relative to, or Dockerfile text put
    into a temporary folder as `Dockerfile` (with `files`, as `sl.build` takes them).
    `definition` is the bake file: HCL text, or a dict as in a docker-bake.json. `targets`
    are the targets or groups to build (default: the group "default"). Offline stand-ins
    serve official base images through each target's named contexts, unless the target names
    one itself; images get stagelab's labels. `progress`: False for no board per target.

    Returns a BakeResult (`replayed` from a recording with no engine). Raises BuildFailed for
    the first target that failed (its `result` is that target's), StagelabError when buildx
    cannot read the definition, EngineUnavailable with no engine and no recording.
    """
    chosen = list(targets or [])
    with context_folder(context, None, files) as (folder, _):
        with tempfile.TemporaryDirectory(prefix="stagelab-bake-") as tmp:
            source = Path(tmp) / ("docker-bake.hcl" if isinstance(definition, str) else BAKE_FILE)
            source.write_text(
                definition if isinstance(definition, str) else json.dumps(definition, indent=1)
            )
            resolved = _resolved(folder, source, chosen)
            identity = _identity(folder, json.loads(json.dumps(resolved)), chosen)
            if not engine.answers():
                return replay_bake(identity, resolved, folder)
            return _run(folder, Path(tmp), resolved, chosen, identity, progress)


def _resolved(folder: Path, source: Path, targets: list[str]) -> dict:
    """The bake definition as buildx resolves it (`--print`): groups and complete targets."""
    done = subprocess.run(
        ["docker", "buildx", "bake", "-f", str(source), "--print", *targets],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=PRINT_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise StagelabError(
            "buildx could not read the bake definition: "
            + (lines[-1] if lines else f"exit code {done.returncode}"),
            command=done.args,
            exit_code=done.returncode,
            output=done.stderr,
        )
    return json.loads(done.stdout)


def _identity(folder: Path, resolved: dict, targets: list[str]) -> dict:
    return {
        "kind": "bake",
        "definition": resolved,
        "targets": targets,
        "context": recording.context_files(folder),
    }


def _run(folder, tmp, resolved, chosen, identity, progress) -> BakeResult:
    targets = resolved.get("target", {})
    for spec in targets.values():
        parsed = target_dockerfile(folder, spec)
        names = parsed.images(spec.get("args") or {}, contexts=spec.get("contexts") or {})
        contexts = {
            name: f"docker-image://{standin}"
            for name, standin in multiplatform.substitutions_on(None, names).items()
        }
        spec["contexts"] = {**contexts, **(spec.get("contexts") or {})}
        if not spec.get("output"):
            spec["labels"] = {**images.labels("build"), **(spec.get("labels") or {})}
    definition = tmp / BAKE_FILE
    definition.write_text(json.dumps(resolved))
    metadata = tmp / "metadata.json"
    command = [
        "docker",
        "buildx",
        "bake",
        "-f",
        str(definition),
        "--progress=rawjson",
        "--metadata-file",
        str(metadata),
        *chosen,
    ]
    readers, watchers = {}, {}
    for name, spec in targets.items():
        parsed = target_dockerfile(folder, spec)
        watchers[name] = Progress() if progress is False else auto_progress()
        target = spec.get("target")
        ref = parsed.target_stage(target).ref if target else None
        readers[name] = RawJsonReader(
            parsed,
            watchers[name],
            build_args=spec.get("args") or {},
            target_ref=ref,
            contexts=list(spec.get("contexts") or {}),
        )
        watchers[name].start(parsed, "buildkit", ref)
    began = time.monotonic()
    process = subprocess.Popen(
        command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    seen: dict[str, dict[str, str]] = {}  # digest -> {target: its step name}
    for line in process.stderr:
        _route(line, readers, seen)
    process.wait()
    duration = time.monotonic() - began
    found = json.loads(metadata.read_text()) if metadata.exists() else {}
    results, failed = _results(readers, resolved, found, duration, process.returncode != 0)
    shared = _shared_steps(seen, readers)
    for name, result in results.items():
        watchers[name].finish(result, failed[1] if failed and failed[0] == name else None)
    outcome = BakeResult(results, shared, duration)
    record_bake(identity, outcome, failed)
    if failed:
        raise failed[1]
    return outcome


def _route(line: str, readers: dict[str, RawJsonReader], seen: dict) -> None:
    """Give each target's reader its own steps, their target prefix taken off."""
    try:
        message = json.loads(line)
    except json.JSONDecodeError:
        for reader in readers.values():
            reader.feed(line)
        return
    for name, reader in readers.items():
        prefix = f"[{name} "
        mine = []
        for vertex in message.get("vertexes") or []:
            if vertex.get("name", "").startswith(prefix):
                stripped = _own_stage("[" + vertex["name"][len(prefix) :], reader)
                mine.append({**vertex, "name": stripped})
                seen.setdefault(vertex["digest"], {})[name] = stripped
        digests = {v["digest"] for v in mine} | {d for d, names in seen.items() if name in names}
        logs = [log for log in message.get("logs") or [] if log.get("vertex") in digests]
        if mine or logs:
            reader.feed(json.dumps({"vertexes": mine, "logs": logs}))


def _own_stage(name: str, reader: RawJsonReader) -> str:
    """A step that two targets share carries the stage name the first target gave it: name
    the stage of this target's that has the same step, when the named one is not needed."""
    match = VERTEX_NAME.match(name)
    if match is None or match["stage"] is None:
        return name
    try:
        needed = reader.dockerfile.plan(
            reader.target_ref, "buildkit", reader.build_args, contexts=reader.contexts
        )
    except StagelabError:
        return name
    if match["stage"].lower() in needed:
        return name
    text = " ".join(match["text"].split())
    for stage in reader.dockerfile.stages:
        if stage.ref in needed and any(" ".join(i.original.split()) == text for i in stage.steps):
            platform = f"{match['platform']} " if match["platform"] else ""
            return f"[{platform}{stage.ref} {match['step']}/{match['total']}] {match['text']}"
    return name


def _results(readers, resolved, metadata, duration, failed_bake):
    results, failed = {}, None
    for name, reader in readers.items():
        spec = resolved["target"][name]
        failed_here = failed_bake and any(v.error for v in reader.vertices.values())
        outcome = reader.outcome(failed=failed_here)
        image_id = (metadata.get(name) or {}).get("containerimage.config.digest")
        result = BuildResult(
            builder="buildkit",
            target=reader.target_ref,
            dockerfile=reader.dockerfile,
            stage_status=outcome.stage_status,
            steps=outcome.steps,
            image_id=None if spec.get("output") else image_id,
            size_bytes=None,
            duration_s=duration,
            log=outcome.log,
            build_args=dict(spec.get("args") or {}),
            build_contexts=dict(spec.get("contexts") or {}),
            build_ref=((metadata.get(name) or {}).get("buildx.build.ref") or "").rsplit("/")[-1]
            or None,
        )
        if result.image_id:
            remember([result.image_id])
            result.size_bytes = engine.client().api.inspect_image(result.image_id)["Size"]
        results[name] = result
        if outcome.failure is not None and failed is None:
            failed = (name, BuildFailed(**outcome.failure, log=outcome.log, result=result))
    if failed_bake and failed is None:
        reason = "buildx bake failed before any step ran"
        failed = (
            next(iter(readers)),
            BuildFailed(
                stage=None,
                instruction=None,
                line=None,
                exit_code=None,
                log_tail=reason,
                reason=reason,
            ),
        )
    return results, failed


def _shared_steps(seen: dict, readers: dict[str, RawJsonReader]) -> list[SharedStep]:
    shared = []
    for digest, names in seen.items():
        if len(names) < 2:
            continue
        first = next(iter(names))
        vertex = readers[first].vertices.get(digest)
        where = readers[first].locate(vertex) if vertex is not None else None
        if where is None or not (vertex.started or vertex.cached):
            continue
        status = "failed" if vertex.error else "cached" if vertex.cached else "built"
        text = VERTEX_NAME.match(vertex.name)["text"]
        shared.append(SharedStep(where[0].ref, text, tuple(sorted(names)), status))
    return shared
