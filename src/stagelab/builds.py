"""`sl.build`: run a real build (BuildKit through buildx, or the classic builder), or replay
its recording when no engine answers, and report what happened to every stage."""

from __future__ import annotations

import os

from . import build_record, images, limits, replay
from .buildkit import run_buildkit
from .classic import run_classic
from .context import build_request
from .errors import BuildFailed, StagelabError
from .progress import Progress, auto_progress
from .results import BuildResult


def build(
    context: str | os.PathLike,
    *,
    dockerfile: str | None = None,
    target: str | None = None,
    builder: str = "buildkit",
    build_args: dict[str, str] | None = None,
    tag: str | None = None,
    no_cache: bool = False,
    files: dict[str, str | bytes] | None = None,
    output: str | os.PathLike | None = None,
    progress: Progress | bool | None = None,
    why: bool = False,
) -> BuildResult:
    """Build a context folder, or Dockerfile text, on the real engine and report each stage.

    Options mirror `docker buildx build`: `dockerfile` (-f, a file in the context folder),
    `target` (--target, a stage name), `build_args` (--build-arg), `tag` (-t), `no_cache`,
    and `output` (--output: a folder, or an exporter spec like "type=tar,dest=out.tar"; BuildKit
    only). `builder` is "buildkit" or "classic". `files` maps names to contents (text or
    bytes) put next to Dockerfile text in a temporary build context. `progress` is a Progress,
    False for none, or None for the default (live in a notebook, text on a terminal). `why`
    adds to the build's summary why each stage ran and each step was cached or built
    (`result.why()` says it at any time).

    Returns a BuildResult (`replayed` when no engine answered and a recording did). Raises
    BuildFailed naming the stage, instruction, line and exit code; DockerfileError before any
    build for a Dockerfile that does not parse; EngineUnavailable with advice when no engine
    answers and no recording exists; ValueError for options that do not go together.
    """
    if output is not None and builder == "classic":
        raise StagelabError(
            "output= (--output) needs BuildKit: the classic builder can only "
            'make an image. Use builder="buildkit".'
        )
    watcher = (
        progress
        if isinstance(progress, Progress)
        else Progress()
        if progress is False
        else auto_progress()
    )
    with build_request(
        context,
        dockerfile=dockerfile,
        files=files,
        target=target,
        builder=builder,
        build_args=build_args,
        tag=tag,
        no_cache=no_cache,
        output=output,
    ) as request:
        if not request.engine_answered:
            return replay.replay(request, watcher, why)
        request.substitutions = images.substitutions(
            request.dockerfile.images(request.build_args, request.builder)
        )
        runner = run_buildkit if builder == "buildkit" else run_classic
        planned = build_record.prepare(request)
        watcher.start(request.dockerfile, builder, request.target_ref)
        # In a classroom, a build its learner's memory, task or disk limit stopped says so.
        counters = limits.Counters.now()
        try:
            result = runner(request, watcher)
        except BaseException as error:
            if isinstance(error, BuildFailed) and error.result is not None:
                error.result.explanation = build_record.conclude(planned, error.result)
            if isinstance(error, StagelabError):
                error.explain(limits.limit_note(counters))
            watcher.finish(None, error)
            if isinstance(error, BuildFailed):
                replay.record(request, error)
                images.forget_standins()
            raise
        result.explanation = build_record.conclude(planned, result)
        result.summary_why = why
        watcher.finish(result)
        replay.record(request, result)
        return result
