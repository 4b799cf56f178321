"""`sl.build`: run a real build (BuildKit through buildx, or the classic builder), or replay
its recording when no engine answers, and report what happened to every stage."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from . import images, limits, multiplatform, replay, why_record
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
    platforms: str | Sequence[str] | None = None,
    build_contexts: Mapping[str, str | os.PathLike] | None = None,
    secrets: Mapping[str, str | bytes | os.PathLike] | None = None,
    cache_from: str | Sequence[str] | None = None,
    cache_to: str | Sequence[str] | None = None,
    image_store: str | None = None,
    why: bool = False,
) -> BuildResult:
    """Build a context folder, or Dockerfile text, on the real engine and report each stage.

    Options mirror `docker buildx build`: `dockerfile` (-f, a file in the context folder),
    `target` (--target, a stage name), `build_args` (--build-arg), `tag` (-t), `no_cache`,
    and `output` (--output: a folder, or an exporter spec like "type=tar,dest=out.tar"; BuildKit
    only). `builder` is "buildkit" or "classic". `files` maps names to contents (text or
    bytes) put next to Dockerfile text in a temporary build context. `progress` is a Progress,
    False for none, or None for the default (live in a notebook, text on a terminal).
    BuildKit only: `platforms` (--platform: "linux/amd64,linux/arm64" or a list; a local
    export of several writes one folder per platform, `linux_amd64/`, ...), `build_contexts`
    (--build-context NAME=VALUE: a folder, or "docker-image://REF"; it replaces the stage or
    image called NAME), `secrets` (--secret: {id: value, or a path to the file holding it};
    a value goes into a private temporary file, never into the build context), `cache_from`
    and `cache_to` (--cache-from, --cache-to: specs like "type=local,dest=DIR,mode=max").

    Several platforms, another platform than this machine's, and cache export and import need
    the containerd image store (`image_store="containerd"`, stagelab's own option, asks for it
    for any build): they run on the CLI's engine when it has it, else on stagelab's
    own second engine (multiplatform.py), started on demand where stagelab may (root on
    Debian); its images stay there (`result.docker_host`). `why` adds to the build's summary
    why each stage ran and each step was cached or built (`result.why()` says it at any time).

    Returns a BuildResult (`replayed` when no engine answered and a recording did). Raises
    BuildFailed naming the stage, instruction, line and exit code (and, for a step of another
    CPU with no emulator, saying so); DockerfileError before any build for a Dockerfile that
    does not parse; EngineUnavailable with advice when no engine answers and no recording
    exists; StagelabError for a BuildKit option with the classic builder, or for several
    platforms where no engine with the containerd image store can be had (saying what Docker
    needs); ValueError for options that do not go together.
    """
    if image_store not in (None, "containerd"):
        raise ValueError(f'image_store: None or "containerd", not {image_store!r}')
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
        platforms=platforms,
        build_contexts=build_contexts,
        secrets=secrets,
        cache_from=cache_from,
        cache_to=cache_to,
    ) as request:
        request.image_store = image_store
        if not request.engine_answered:
            return replay.replay(request, watcher, why)
        if builder == "buildkit":
            request.docker_host = multiplatform.build_host(
                request.platforms, request.cache_to + request.cache_from, image_store
            )
        names = [
            name
            for platform in request.platforms or [None]
            for name in request.dockerfile.images(
                request.build_args, request.builder, platform, request.build_contexts
            )
        ]
        request.substitutions = multiplatform.substitutions_on(
            request.docker_host, list(dict.fromkeys(names))
        )
        runner = run_buildkit if builder == "buildkit" else run_classic
        planned = why_record.prepare(request)
        watcher.start(request.dockerfile, builder, request.target_ref)
        # In a classroom, a build its learner's memory, task or disk limit stopped says so.
        counters = limits.Counters.now()
        try:
            result = runner(request, watcher)
        except BaseException as error:
            if isinstance(error, BuildFailed) and error.result is not None:
                error.result.explanation = why_record.conclude(planned, error.result)
            if isinstance(error, StagelabError):
                error.explain(limits.limit_note(counters))
            watcher.finish(None, error)
            if isinstance(error, BuildFailed):
                replay.record(request, error)
                images.forget_standins()
            raise
        result.explanation = why_record.conclude(planned, result)
        result.summary_why = why
        watcher.finish(result)
        replay.record(request, result)
        return result
