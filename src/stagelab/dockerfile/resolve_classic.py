"""Resolve a Dockerfile's stages as the classic builder does (rules.py says whence): one
after another, each seeing only the stages above it. Returns a Resolution; nothing here
raises.
"""

from __future__ import annotations

from dataclasses import replace

from .advice import swallowed_stages, target_advice
from .dispatch import classic_advice
from .frontend import Frontend
from .instructions import Instruction
from .platforms import split_platform
from .resolve import INDEX, dispatch_stages, fresh_stages, later_stage_advice, meta_instructions
from .rules import (
    TARGET,
    ImageLookup,
    Resolution,
    engine_has,
    expand_base,
    from_env,
    later_declared_args,
    uses,
    valid_reference,
)
from .stages import Stage

# Instructions whose step the classic builder exports as an image of its own, which it keeps
# by ID for the rest of the build (moby builder/dockerfile/internals.go `exportImage` adds it to
# `imageSources`); the others commit a container, and `FROM --platform=P <stage>` then looks
# that image up by ID on the engine, which refuses a platform other than the image's.
_EXPORTED = {"COPY", "ADD", "FROM"}


def resolve_classic(
    written: list[Stage],
    instructions: list[Instruction],
    build_args: dict[str, str],
    target: str | None,
    escape: str,
    lookup: ImageLookup | None,
    frontend: Frontend,
    text: str,
    engine_platform: str,
) -> Resolution:
    """Resolve the stages as the classic builder does: one after another, each seeing only
    the stages above it (moby/moby builder/dockerfile/builder.go, dispatchers.go); `lookup`
    tells which names the engine has as images (rules.engine_has), `frontend` what the
    engine's parser takes, `engine_platform` the platform the engine builds for."""
    stages = fresh_stages(written)
    res = Resolution("classic", stages)
    if target is not None and not any(
        s.name and s.name.lower() == str(target).lower() for s in stages
    ):
        res.refuse(
            None,
            f'target stage "{target}" could not be found',
            target_advice(stages, target, swallowed_stages(text, instructions)),
            phase=TARGET,
        )
    env = from_env("classic", meta_instructions(instructions), build_args, "", "", "", escape, res)
    later_args = later_declared_args(instructions)
    earlier: dict[str, Stage] = {}
    for stage in stages:
        line = stage.lines[0]
        if stage.name and stage.name.lower() in earlier:
            res.refuse(
                line,
                f"{stage.name.lower()} stage name already used",
                "give each stage its own name (the classic builder builds only up to "
                "the first stage of a name)",
                stage.index,
            )
        stage.base = expand_base(stage, env, escape, res, later_args, stage.index)
        stage.parent = earlier.get(stage.base.lower())
        _classic_platform(res, stage, env, escape, engine_platform)
        if stage.parent is None and stage.base and stage.base != "scratch":
            _classic_image(res, stage, stage.base, line, "", stages, lookup)
        for kind, source, ins in uses(stage):
            if kind != "mount":
                _classic_copy_source(res, stage, kind, source, ins, earlier, stages, lookup)
        if stage.name and stage.name.lower() not in earlier:
            earlier[stage.name.lower()] = stage
    dispatch_stages(res, env, build_args, escape, frontend)
    return res


def _classic_platform(
    res: Resolution, stage: Stage, env: dict, escape: str, engine_platform: str
) -> None:
    for value in stage.instructions[0].flag("platform"):
        try:
            expanded = expand_base(
                replace(stage, written_base=value), env, escape, Resolution("classic", []), {}, None
            )
        except ValueError:
            expanded = ""
        if not expanded:
            res.refuse(
                stage.lines[0],
                f'failed to parse platform {expanded}: "" is an invalid OS component',
                _platform_arg_advice(value, env),
                stage.index,
            )
        elif stage.parent is not None and _committed(stage.parent):
            _stage_platform(res, stage, expanded, engine_platform)


def _platform_arg_advice(value: str, env: dict) -> str:
    names = [n for n in ("BUILDPLATFORM", "TARGETPLATFORM", "BUILDOS", "TARGETOS") if n in value]
    if names or "ARCH" in value or "VARIANT" in value:
        return classic_advice(
            "the platform ARGs ($BUILDPLATFORM, $TARGETPLATFORM, ...): they are empty there"
        )
    return (
        f"--platform={value} expands to nothing here: declare the ARG it names before the "
        "first FROM with a default, or pass it as a build arg"
    )


def _committed(stage: Stage) -> bool:
    """Tell whether a stage's image is one the classic builder committed from a container."""
    last = stage.instructions[-1]
    if last.keyword == "FROM":
        return stage.parent is not None and _committed(stage.parent)
    return last.keyword not in _EXPORTED


def _stage_platform(res: Resolution, stage: Stage, asked: str, engine_platform: str) -> None:
    try:
        os_name, arch, _ = split_platform(asked)
        own_os, own_arch, _ = split_platform(engine_platform)
    except ValueError:
        return
    if (os_name, arch) == (own_os, own_arch):
        return
    parent = stage.parent
    res.refuse(
        stage.lines[0],
        f"image with reference <the image of stage {parent.label}> was found but its platform "
        f"({own_os}/{own_arch}) does not match the specified platform ({os_name}/{arch})",
        f"the classic builder builds stage {parent.label} (line {parent.lines[0]}) for this "
        f"engine's platform, {own_os}/{own_arch}, and cannot start a stage FROM it for "
        f'{asked}: use BuildKit (builder="buildkit"), which builds {parent.label} for the '
        "platform asked, or drop --platform",
        stage.index,
    )


def _classic_copy_source(
    res: Resolution,
    stage: Stage,
    kind: str,
    source: str,
    ins: Instruction,
    earlier: dict[str, Stage],
    stages: list[Stage],
    lookup: ImageLookup | None,
) -> None:
    """COPY --from in the classic builder: an earlier stage by index or name, else an image
    (imagecontext.go); the value is used as written."""
    found = None
    if INDEX.match(source):
        number = int(source)
        if not 0 <= number < stage.index:
            res.refuse(
                ins.line,
                f"invalid from flag value {source}: index out of bounds",
                "--from=N names one of the stages above this one",
                stage.index,
            )
            return
        found = stages[number]
    else:
        found = earlier.get(source.lower())
    if found is not None:
        stage.sources.append(found.ref)
        stage.source_kinds.append(kind)
        return
    stage.sources.append(source)
    stage.source_kinds.append(kind)
    _classic_image(res, stage, source, ins.line, "invalid from flag value ", stages, lookup)


def _classic_image(
    res: Resolution,
    stage: Stage,
    name: str,
    line: int,
    prefix: str,
    stages: list[Stage],
    lookup: ImageLookup | None,
) -> None:
    """A name that is no stage above is an image: it must be a valid reference, and one
    that names a later stage fails unless the engine has an image by that name or ID prefix."""
    if not valid_reference(name):
        advice = (
            "the classic builder does not expand variables in --from"
            if "$" in name
            else "image names are lowercase, as in busybox:1.36"
        )
        res.refuse(line, f"{prefix}{name}: invalid reference format", advice, stage.index)
        return
    later = next(
        (s for s in stages[stage.index :] if s.name and s.name.lower() == name.lower()), None
    )
    if later is not None and not engine_has(lookup, name, "classic"):
        res.refuse(
            line,
            f"{prefix}{name}: no such image (pull access denied)",
            later_stage_advice(name, later),
            stage.index,
        )
