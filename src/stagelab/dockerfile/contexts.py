"""Named build contexts (`--build-context NAME=VALUE`) in a builder's resolution.

BuildKit looks every stage name, FROM image and COPY --from / RUN --mount from= source up
among the named contexts first (moby/buildkit frontend/dockerfile/dockerfile2llb/convert.go,
`toDispatchState`, the `NamedContext` lookups): a stage whose name is a context is replaced by
it and runs nothing, and the stages only it needed do not run either; an image or source of
that name comes from the context. Measured on Engine 28.5.2 with buildx 0.29.1: a context
named like a stage replaces it and the stage it starts FROM does not run; buildx refuses a
context name with capitals ("invalid context name ... must be lowercase"). The classic builder
has no named contexts: `DOCKER_BUILDKIT=0 docker build --build-context ...` exits 125 with
"unknown flag: --build-context" before it reads the Dockerfile.
"""

from __future__ import annotations

from collections.abc import Iterable

from .rules import Resolution

# How an edge names a named context that serves a FROM or a --from (never an image name:
# a reference cannot hold a space).
CONTEXT_PREFIX = "context "


def context_source(name: str) -> str:
    """Return how the stage graph names the named context `name` as a source."""
    return CONTEXT_PREFIX + name


def context_name(source: str) -> str | None:
    """Return the named context a source stands for (None for a stage or an image)."""
    return source[len(CONTEXT_PREFIX) :] if source.startswith(CONTEXT_PREFIX) else None


def apply_contexts(resolution: Resolution, contexts: Iterable[str]) -> Resolution:
    """Replace, in a resolution, what these named contexts replace; return it (changed in place).

    BuildKit: a stage named like a context runs nothing (its ref goes into
    `resolution.replaced`, and it keeps no parent and no sources); a stage that starts FROM
    it, or copies or mounts from it, takes the context instead, as it does for an image or
    source of a context's name. The classic builder refuses the whole build.
    """
    names = {str(name) for name in contexts}
    if not names:
        return resolution
    if resolution.builder == "classic":
        resolution.refuse(
            None,
            "unknown flag: --build-context",
            "named build contexts are BuildKit's: the classic builder has no --build-context; "
            'build with builder="buildkit"',
        )
        return resolution
    for stage in resolution.stages:
        if stage.name and stage.name.lower() in names:
            resolution.replaced[stage.ref] = stage.name.lower()
    for stage in resolution.stages:
        if stage.ref in resolution.replaced:
            stage.parent, stage.sources, stage.source_kinds = None, [], []
            stage.base = context_source(resolution.replaced[stage.ref])
            continue
        if stage.parent is not None and stage.parent.ref in resolution.replaced:
            stage.base = context_source(resolution.replaced[stage.parent.ref])
            stage.parent = None
        elif stage.parent is None and stage.base in names:
            stage.base = context_source(stage.base)
        stage.sources = [
            context_source(resolution.replaced[source])
            if source in resolution.replaced
            else context_source(source)
            if source in names
            else source
            for source in stage.sources
        ]
    return resolution
