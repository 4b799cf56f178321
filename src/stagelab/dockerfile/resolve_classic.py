"""Resolve a Dockerfile's stages as the classic builder does (rules.py says whence): one
after another, each seeing only the stages above it. Returns a Resolution; nothing here
raises.
"""

from __future__ import annotations

from dataclasses import replace

from .instructions import Instruction
from .resolve import (
    INDEX,
    fresh_stages,
    later_stage_advice,
    meta_instructions,
    refuse_mount_variables,
    target_advice,
)
from .rules import (
    CLASSIC_LACKS,
    ImageLookup,
    Resolution,
    engine_has,
    expand_base,
    from_env,
    heredoc_copy,
    later_declared_args,
    uses,
    valid_reference,
)
from .stages import Stage


def resolve_classic(
    written: list[Stage],
    instructions: list[Instruction],
    build_args: dict[str, str],
    target: str | None,
    escape: str,
    lookup: ImageLookup | None = None,
) -> Resolution:
    """Resolve the stages as the classic builder does: one after another, each seeing only
    the stages above it (moby/moby builder/dockerfile/builder.go, dispatchers.go); `lookup`
    tells which names the engine has as images (rules.engine_has)."""
    stages = fresh_stages(written)
    res = Resolution("classic", stages)
    refuse_mount_variables(res, stages, escape)
    if target is not None and not any(
        s.name and s.name.lower() == str(target).lower() for s in stages
    ):
        res.refuse(None, f'target stage "{target}" could not be found', target_advice(stages))
    env = from_env("classic", meta_instructions(instructions), build_args, "", "", "", escape)
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
        _classic_platform(res, stage, env, escape)
        stage.parent = earlier.get(stage.base.lower())
        if stage.parent is None and stage.base and stage.base != "scratch":
            _classic_image(res, stage, stage.base, line, "", stages, lookup)
        for kind, source, ins in uses(stage):
            if kind != "mount":
                _classic_copy_source(res, stage, kind, source, ins, earlier, stages, lookup)
        for ins in stage.steps:
            if ins.keyword == "RUN" and ins.flag("mount"):
                res.refuse(
                    ins.line,
                    "the --mount option requires BuildKit",
                    CLASSIC_LACKS.format("RUN --mount"),
                    stage.index,
                )
            elif heredoc_copy(ins):
                res.refuse(
                    ins.line,
                    f"{ins.keyword} failed: no source files were specified",
                    CLASSIC_LACKS.format(f"heredocs in {ins.keyword}"),
                    stage.index,
                )
        if stage.name and stage.name.lower() not in earlier:
            earlier[stage.name.lower()] = stage
    return res


def _classic_platform(res: Resolution, stage: Stage, env: dict, escape: str) -> None:
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
                CLASSIC_LACKS.format(
                    "the platform ARGs ($BUILDPLATFORM, $TARGETPLATFORM, ...): they are empty there"
                ),
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
