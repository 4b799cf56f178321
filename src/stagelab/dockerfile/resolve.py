"""Resolve a Dockerfile's stages as BuildKit or the classic builder does (rules.py says whence).

Each resolver returns a Resolution: the stages with their base, parent and sources for that
builder, build args, platform and target, and every refusal. Nothing here raises: plan.py
decides which refusals apply to a target.
"""

from __future__ import annotations

import re
from dataclasses import replace

from .instructions import Instruction
from .rules import (CLASSIC_LACKS, _STAGE_CONTEXT_NAME, ImageLookup, Resolution, engine_has,
                    expand_base, from_env, has_variable, heredoc_copy, later_declared_args, uses,
                    valid_reference)
from .stages import Stage

_INDEX = re.compile(r"^[+-]?\d+$")  # what Go's strconv.Atoi takes


def _fresh(stages: list[Stage]) -> list[Stage]:
    return [replace(stage, parent=None, sources=[], source_kinds=[]) for stage in stages]


def _meta(instructions: list[Instruction]) -> list[Instruction]:
    meta = []
    for ins in instructions:
        if ins.keyword == "FROM":
            break
        meta.append(ins)
    return meta


def _stage_name(stage: Stage) -> str:
    """The name BuildKit's messages use: the stage name lowercased, or stage-N."""
    return stage.name.lower() if stage.name else f"stage-{stage.index}"


def _refuse_mount_variables(res: Resolution, stages: list[Stage], escape: str) -> None:
    # instructions/commands_runmount.go refuses a variable in from= while parsing, and the
    # classic builder parses with the same package: the same refusal on both.
    for stage in stages:
        for kind, source, ins in uses(stage):
            if kind == "mount" and has_variable(source, escape):
                res.refuse(ins.line, "'from' doesn't support variable expansion, define alias "
                           "stage instead", "name the stage in from= as written")


def resolve_buildkit(written: list[Stage], instructions: list[Instruction],
                     build_args: dict[str, str], platform: str, build_platform: str,
                     target: str | None, escape: str,
                     lookup: ImageLookup | None = None) -> Resolution:
    """Resolve the stages as BuildKit's Dockerfile frontend does (convert.go order); `lookup`
    tells which names the engine has as images (rules.engine_has)."""
    stages = _fresh(written)
    res = Resolution("buildkit", stages)
    _refuse_mount_variables(res, stages, escape)
    last = stages[-1]
    env = from_env("buildkit", _meta(instructions), build_args, platform, build_platform,
                   target if target is not None else (last.name or "").lower(), escape)
    later_args = later_declared_args(instructions)
    earlier: dict[str, Stage] = {}
    for stage in stages:
        line = stage.lines[0]
        stage.base = expand_base(stage, env, escape, res, later_args, None)
        if stage.name and not _STAGE_CONTEXT_NAME.match(stage.name.lower()):
            res.refuse(line, f"invalid context name {stage.name.lower()}: invalid reference "
                       "format", "BuildKit also reads a stage name as an image name: end it "
                       "with a letter or digit and use no two separators in a row")
        # Stage names are stored lowercased; FROM looks its word up as written.
        stage.parent = earlier.get(stage.base)
        if stage.name:
            earlier[stage.name.lower()] = stage
    if target is not None and not any(s.name and s.name.lower() == str(target).lower()
                                      for s in stages):
        res.refuse(None, f'target stage "{target}" could not be found', _target_advice(stages))
    named = {s.name.lower(): s for s in stages if s.name}  # the last of a repeated name wins
    for stage in stages:
        for kind, source, ins in uses(stage):
            _buildkit_source(res, stage, kind, source, ins, named, escape)
    _refuse_cycles(res)
    for stage in stages:
        _buildkit_base(res, stage, named, lookup)
    return res


def _buildkit_source(res: Resolution, stage: Stage, kind: str, source: str, ins: Instruction,
                     named: dict[str, Stage], escape: str) -> None:
    # An ONBUILD trigger is read only once a stage starting FROM its stage is needed.
    refused = stage.index if kind == "onbuild" else None
    if kind == "mount":
        if has_variable(source, escape):
            return  # refused while parsing, above
        found = named.get(source.lower())
    elif has_variable(source, escape):
        res.refuse(ins.line, "variable expansion is not supported for --from, define a new "
                   "stage with FROM using ARG from global scope as a workaround",
                   "name the stage or image in --from as written", refused)
        return
    elif _INDEX.match(source):
        number = int(source)
        if not 0 <= number < len(res.stages):
            res.refuse(ins.line, f"invalid stage index {number}",
                       f"the stages are numbered 0 to {len(res.stages) - 1}", refused)
            return
        found = res.stages[number]
    else:
        found = named.get(source.lower())
    if found is None:
        stage.sources.append(source)
        stage.source_kinds.append(kind)
        if kind == "mount" and _INDEX.match(source):
            res.refuse(ins.line, f"failed to resolve source metadata for docker.io/library/"
                       f"{source}:latest", f"from= takes a stage name or an image, not a "
                       f"stage index: BuildKit looks for an image named {source}; name the "
                       f"stage (`AS name`) and mount from=name", stage.index)
        return
    stage.sources.append(found.ref)
    stage.source_kinds.append(kind)
    if found.index > stage.index:
        if kind == "mount":
            reason = (f'cannot mount from stage "{source}" to "{_mount_target(ins, source)}", '
                      "stage needs to be defined before current command")
        else:
            reason = (f'cannot copy from stage "{source}", it needs to be defined before '
                      f'current stage "{_stage_name(stage)}"')
        res.refuse(ins.line, reason, f"move stage {found.label} (line {found.lines[0]}) above "
                   f"stage {stage.label}", stage.index)


def _mount_target(ins: Instruction, source: str) -> str:
    for mount in ins.flag("mount"):
        options = dict(part.partition("=")[::2] for part in mount.split(","))
        if options.get("from") == source:
            return options.get("target") or options.get("dst") or options.get("destination", "")
    return ""


def _buildkit_base(res: Resolution, stage: Stage, named: dict[str, Stage],
                   lookup: ImageLookup | None) -> None:
    """An image base must be a valid reference whatever the target; one that names a later
    stage is an image, which fails once the stage is needed unless the engine has it."""
    base = stage.base
    if stage.parent is not None or not base or base == "scratch":
        return
    line = stage.lines[0]
    if not valid_reference(base):
        stage_named = named.get(base.lower())
        advice = (f"stage names are matched in lowercase: write FROM {base.lower()}"
                  if stage_named is not None and stage_named.index < stage.index
                  else "image names are lowercase, as in busybox:1.36")
        res.refuse(line, f'failed to parse stage name "{base}": invalid reference format',
                   advice)
        return
    later = named.get(base)
    if later is not None and later.index >= stage.index \
            and not engine_has(lookup, base, "buildkit"):
        res.refuse(line, f"{base}: failed to resolve source metadata for {base}",
                   _later_stage_advice(base, later), stage.index)


def _later_stage_advice(name: str, later: Stage) -> str:
    return (f"stage {later.label} is defined at line {later.lines[0]}, and a builder sees only "
            f"the stages above a line, so it looks for an image named {name}: move stage "
            f"{later.label} above this one")


def _target_advice(stages: list[Stage]) -> str:
    names = ", ".join(dict.fromkeys(s.name for s in stages if s.name))
    return ("--target takes a stage name (`FROM ... AS name`), not an index; "
            + (f"named stages: {names}" if names else "no stage has a name"))


def _refuse_cycles(res: Resolution) -> None:
    """Refuse a stage that depends on itself through FROM, COPY --from or RUN --mount."""
    by_ref = {s.ref: s for s in res.stages}
    state: dict[int, str] = {}
    for start in res.stages:
        if start.index in state:
            continue
        stack = [(start, iter(_deps(start, by_ref)))]
        state[start.index] = "open"
        while stack:
            stage, pending = stack[-1]
            dep = next(pending, None)
            if dep is None:
                state[stage.index] = "done"
                stack.pop()
            elif state.get(dep.index) == "open":
                res.refuse(_line_using(stage, dep), f"circular dependency detected on stage: "
                           f"{_stage_name(dep)}", "a stage cannot use itself, directly or "
                           "through other stages")
                return
            elif dep.index not in state:
                state[dep.index] = "open"
                stack.append((dep, iter(_deps(dep, by_ref))))


def _line_using(stage: Stage, dep: Stage) -> int:
    """The line of the last instruction in `stage` that uses `dep` (BuildKit keeps one per
    dependency, the last: convert.go `d.deps[src] = cmd`), or its FROM."""
    lines = [ins.line for kind, source, ins in uses(stage) if kind != "onbuild"
             and (source.lower() == (dep.name or "").lower() or source == str(dep.index))]
    return lines[-1] if lines else stage.lines[0]


def _deps(stage: Stage, by_ref: dict[str, Stage]) -> list[Stage]:
    deps = [stage.parent] if stage.parent else []
    return deps + [by_ref[s] for k, s in zip(stage.source_kinds, stage.sources)
                   if s in by_ref and k != "onbuild"]


def resolve_classic(written: list[Stage], instructions: list[Instruction],
                    build_args: dict[str, str], target: str | None, escape: str,
                    lookup: ImageLookup | None = None) -> Resolution:
    """Resolve the stages as the classic builder does: one after another, each seeing only
    the stages above it (moby/moby builder/dockerfile/builder.go, dispatchers.go); `lookup`
    tells which names the engine has as images (rules.engine_has)."""
    stages = _fresh(written)
    res = Resolution("classic", stages)
    _refuse_mount_variables(res, stages, escape)
    if target is not None and not any(s.name and s.name.lower() == str(target).lower()
                                      for s in stages):
        res.refuse(None, f'target stage "{target}" could not be found', _target_advice(stages))
    env = from_env("classic", _meta(instructions), build_args, "", "", "", escape)
    later_args = later_declared_args(instructions)
    earlier: dict[str, Stage] = {}
    for stage in stages:
        line = stage.lines[0]
        if stage.name and stage.name.lower() in earlier:
            res.refuse(line, f"{stage.name.lower()} stage name already used",
                       "give each stage its own name (the classic builder builds only up to "
                       "the first stage of a name)", stage.index)
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
                res.refuse(ins.line, "the --mount option requires BuildKit",
                           CLASSIC_LACKS.format("RUN --mount"), stage.index)
            elif heredoc_copy(ins):
                res.refuse(ins.line, f"{ins.keyword} failed: no source files were specified",
                           CLASSIC_LACKS.format(f"heredocs in {ins.keyword}"), stage.index)
        if stage.name and stage.name.lower() not in earlier:
            earlier[stage.name.lower()] = stage
    return res


def _classic_platform(res: Resolution, stage: Stage, env: dict, escape: str) -> None:
    for value in stage.instructions[0].flag("platform"):
        try:
            expanded = expand_base(replace(stage, written_base=value), env, escape,
                                   Resolution("classic", []), {}, None)
        except ValueError:
            expanded = ""
        if not expanded:
            res.refuse(stage.lines[0], f"failed to parse platform {expanded}: \"\" is an "
                       "invalid OS component",
                       CLASSIC_LACKS.format("the platform ARGs ($BUILDPLATFORM, "
                                            "$TARGETPLATFORM, ...): they are empty there"),
                       stage.index)


def _classic_copy_source(res: Resolution, stage: Stage, kind: str, source: str,
                         ins: Instruction, earlier: dict[str, Stage], stages: list[Stage],
                         lookup: ImageLookup | None) -> None:
    """COPY --from in the classic builder: an earlier stage by index or name, else an image
    (imagecontext.go); the value is used as written."""
    found = None
    if _INDEX.match(source):
        number = int(source)
        if not 0 <= number < stage.index:
            res.refuse(ins.line, f"invalid from flag value {source}: index out of bounds",
                       "--from=N names one of the stages above this one", stage.index)
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


def _classic_image(res: Resolution, stage: Stage, name: str, line: int, prefix: str,
                   stages: list[Stage], lookup: ImageLookup | None) -> None:
    """A name that is no stage above is an image: it must be a valid reference, and one
    that names a later stage fails unless the engine has an image by that name or ID prefix."""
    if not valid_reference(name):
        advice = ("the classic builder does not expand variables in --from"
                  if "$" in name else "image names are lowercase, as in busybox:1.36")
        res.refuse(line, f"{prefix}{name}: invalid reference format", advice, stage.index)
        return
    later = next((s for s in stages[stage.index:] if s.name and s.name.lower() == name.lower()),
                 None)
    if later is not None and not engine_has(lookup, name, "classic"):
        res.refuse(line, f"{prefix}{name}: no such image (pull access denied)",
                   _later_stage_advice(name, later), stage.index)
