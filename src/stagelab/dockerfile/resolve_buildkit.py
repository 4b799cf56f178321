"""Resolve a Dockerfile's stages as BuildKit does (rules.py says whence): every stage's
base and sources, the stages a target needs, cycles refused. Returns a Resolution; nothing
here raises.
"""

from __future__ import annotations

from .advice import swallowed_stages, target_advice
from .checks import file_checks
from .frontend import Frontend
from .instructions import Instruction
from .parsing import closest
from .resolve import (
    INDEX,
    dispatch_stages,
    fresh_stages,
    later_stage_advice,
    meta_instructions,
    progress_name,
    valid_platform,
)
from .rules import (
    _STAGE_CONTEXT_NAME,
    BASES,
    CHECK_OPTIONS,
    COMMANDS,
    DISPATCH,
    ONBUILD,
    TARGET,
    ImageLookup,
    Resolution,
    engine_has,
    expand_base,
    from_env,
    has_variable,
    later_declared_args,
    uses,
    valid_reference,
)
from .stages import Stage
from .variables import expand_matches


def resolve_buildkit(
    written: list[Stage],
    instructions: list[Instruction],
    build_args: dict[str, str],
    platform: str,
    build_platform: str,
    target: str | None,
    escape: str,
    lookup: ImageLookup | None,
    frontend: Frontend,
    text: str,
) -> Resolution:
    """Resolve the stages as BuildKit's Dockerfile frontend does, pass after pass over the
    whole file (convert.go `toDispatchState`); `lookup` tells which names the engine has as
    images (rules.engine_has), `frontend` what this engine's frontend takes, `text` is the
    Dockerfile (its `# check=` directive and comments)."""
    stages = fresh_stages(written)
    res = Resolution("buildkit", stages)
    last = stages[-1]
    target_name = target if target is not None else (last.name or "").lower()
    meta = meta_instructions(instructions)
    env = from_env("buildkit", meta, build_args, platform, build_platform, target_name, escape, res)
    defaults = from_env("buildkit", meta, {}, platform, build_platform, target_name, escape)
    checks = file_checks(text, instructions, stages, build_args, defaults, env)
    if checks.refusal:
        res.refuse(None, checks.refusal, _check_options_advice(), phase=CHECK_OPTIONS)
    later_args = later_declared_args(instructions)
    earlier: dict[str, Stage] = {}
    for stage in stages:
        line = stage.lines[0]
        stage.base = expand_base(stage, env, escape, res, later_args, None)
        _buildkit_platform(res, stage, env, escape)
        if stage.name and not _STAGE_CONTEXT_NAME.match(stage.name.lower()):
            res.refuse(
                line,
                f"invalid context name {stage.name.lower()}: invalid reference format",
                "BuildKit also reads a stage name as an image name: end it "
                "with a letter or digit and use no two separators in a row",
            )
        # Stage names are stored lowercased; FROM looks its word up as written.
        stage.parent = earlier.get(stage.base)
        if stage.name:
            earlier[stage.name.lower()] = stage
    if target is not None and not any(
        s.name and s.name.lower() == str(target).lower() for s in stages
    ):
        res.refuse(
            None,
            f'target stage "{target}" could not be found',
            target_advice(stages, target, swallowed_stages(text, instructions)),
            phase=TARGET,
        )
    named = {s.name.lower(): s for s in stages if s.name}  # the last of a repeated name wins
    images: list[str] = []  # each image a --from or from= names: one more state, after stages
    for stage in stages:
        for kind, source, ins in uses(stage):
            _buildkit_source(res, stage, kind, source, ins, named, escape, images)
    _refuse_cycles(res)
    for stage in stages:
        _buildkit_base(res, stage, named, lookup)
    dispatch_stages(res, env, build_args, escape, frontend)
    res.checks[:0] = checks.hits
    res.checks_refuse = checks.config.error
    return res


def _check_options_advice() -> str:
    return (
        "write the `# check=` directive as options separated by `;`, each `key=value`, with "
        "no spaces: skip=Rule1,Rule2 (or all), experimental=Rule (or all), error=true"
    )


def _buildkit_platform(res: Resolution, stage: Stage, env: dict, escape: str) -> None:
    """Every stage's `FROM --platform` is expanded and parsed before the target is chosen
    (convert.go): an empty or malformed one refuses the file whatever the target."""
    for value in stage.instructions[0].flag("platform"):
        try:
            result, _, unmatched = expand_matches(value, env, escape)
        except ValueError as error:
            res.refuse(stage.lines[0], f"failed to process arguments for platform: {error}")
            continue
        if not result:
            known = sorted(k for k, v in env.items() if v is not None)
            near = next(
                (closest(name, known) for name in sorted(unmatched) if closest(name, known)), None
            )
            hint = f" (did you mean {near}?)" if near else ""
            res.refuse(
                stage.lines[0],
                f"empty platform value from expression {value}{hint}",
                f"write ${near}: BuildKit evaluates every stage's --platform, even in stages "
                "this target does not need"
                if near
                else "declare the ARG it names before the first FROM, or pass it as a build arg",
            )
        elif not valid_platform(result):
            res.refuse(
                stage.lines[0],
                f'failed to parse platform {value}: "{result}": unknown operating system or '
                "architecture: invalid argument",
                "--platform takes os/arch[/variant], as linux/amd64 or linux/arm/v7",
            )
        else:
            stage.platform = result


def _buildkit_source(
    res: Resolution,
    stage: Stage,
    kind: str,
    source: str,
    ins: Instruction,
    named: dict[str, Stage],
    escape: str,
    images: list[str],
) -> None:
    """Resolve one --from or from= (convert.go `toCommand`, `detectRunMount`). An image it
    names is one more of BuildKit's states, after the stages (kept in `images`): so
    `--from=N` past the last stage names an image named earlier (measured on Engine 28.5)."""
    # An ONBUILD trigger is read only once a stage starting FROM its stage is needed.
    refused = stage.index if kind == "onbuild" else None
    phase = ONBUILD if kind == "onbuild" else COMMANDS
    if kind == "mount":
        if has_variable(source, escape):
            return  # refused while parsing (parsing.py)
        found = named.get(source.lower())
    elif has_variable(source, escape):
        res.refuse(
            ins.line,
            "variable expansion is not supported for --from, define a new "
            "stage with FROM using ARG from global scope as a workaround",
            "name the stage or image in --from as written",
            refused,
            phase,
        )
        return
    elif INDEX.match(source):
        number = int(source)
        if len(res.stages) <= number < len(res.stages) + len(images) and kind == "copy":
            stage.sources.append(images[number - len(res.stages)])
            stage.source_kinds.append(kind)
            return
        if not 0 <= number < len(res.stages):
            res.refuse(
                ins.line,
                f"invalid stage index {number}",
                f"the stages are numbered 0 to {len(res.stages) - 1}",
                refused,
                phase,
            )
            return
        found = res.stages[number]
    else:
        found = named.get(source.lower())
    if found is None:
        stage.sources.append(source)
        stage.source_kinds.append(kind)
        if kind == "mount" and INDEX.match(source):
            res.refuse(
                ins.line,
                f"failed to resolve source metadata for docker.io/library/{source}:latest",
                f"from= takes a stage name or an image, not a "
                f"stage index: BuildKit looks for an image named {source}; name the "
                f"stage (`AS name`) and mount from=name",
                stage.index,
                BASES,
            )
        if kind != "onbuild":
            images.append(source)
        return
    stage.sources.append(found.ref)
    stage.source_kinds.append(kind)
    if found.index > stage.index:
        if kind == "mount":
            reason = (
                f'cannot mount from stage "{source}" to "{_mount_target(ins, source)}", '
                "stage needs to be defined before current command"
            )
        else:
            reason = (
                f'cannot copy from stage "{source}", it needs to be defined before '
                f'current stage "{progress_name(stage)}"'
            )
        res.refuse(
            ins.line,
            reason,
            f"move stage {found.label} (line {found.lines[0]}) above stage {stage.label}",
            stage.index,
            DISPATCH,
        )


def _mount_target(ins: Instruction, source: str) -> str:
    for mount in ins.flag("mount"):
        options = dict(part.partition("=")[::2] for part in mount.split(","))
        if options.get("from") == source:
            return options.get("target") or options.get("dst") or options.get("destination", "")
    return ""


def _buildkit_base(
    res: Resolution, stage: Stage, named: dict[str, Stage], lookup: ImageLookup | None
) -> None:
    """An image base must be a valid reference whatever the target; one that names a later
    stage is an image, which fails once the stage is needed unless the engine has it."""
    base = stage.base
    if stage.parent is not None or not base or base == "scratch":
        return
    line = stage.lines[0]
    if not valid_reference(base):
        stage_named = named.get(base.lower())
        advice = (
            f"stage names are matched in lowercase: write FROM {base.lower()}"
            if stage_named is not None and stage_named.index < stage.index
            else "image names are lowercase, as in busybox:1.36"
        )
        res.refuse(
            line,
            f'failed to parse stage name "{base}": invalid reference format',
            advice,
            phase=BASES,
        )
        return
    later = named.get(base)
    if (
        later is not None
        and later.index >= stage.index
        and not engine_has(lookup, base, "buildkit")
    ):
        res.refuse(
            line,
            f"{base}: failed to resolve source metadata for {base}",
            later_stage_advice(base, later),
            stage.index,
            BASES,
        )


def _refuse_cycles(res: Resolution) -> None:
    """Refuse the file when a stage reaches a cycle of --from and from= uses, as BuildKit's
    own search does (convert.go `validateCircularDependency`, called from
    `buildStageDependencyGraph` before the target's stages are picked, so for any target).

    Its graph is each stage's `deps`: the stages its COPY --from and RUN --mount from= name,
    earlier or later, one command per dependency (the last). A stage's FROM is no edge (its
    base can only be a stage above it): a stage FROM `a` whose `a` copies from it is no cycle
    here; the copy from a later stage is refused when `a` is dispatched. A depth-first search
    starts at each stage in file order, with one `visited` set for all starts; the message
    names the stage it started from (the first that reaches a cycle, not necessarily one in
    it), and buildx shows first the command that closes the cycle. BuildKit walks a stage's
    dependencies in Go's map order, which differs from run to run: where two of them lead back
    into a cycle, the command it shows can differ; the planner takes them in file order.
    """
    by_ref = {s.ref: s for s in res.stages}
    visited: set[int] = set()
    for start in res.stages:
        path = _path_to_cycle(start, by_ref, visited)
        if path:
            closing = path[-1]
            on_path = {s.index for s in path}
            used = next(d for d in _deps(closing, by_ref) if d.index in on_path)
            loop = path[path.index(used) :]
            steps = ", ".join(
                f"stage {s.label} uses stage {n.label} at line {_line_using(s, n)}"
                for s, n in zip(loop, loop[1:] + [used])
            )
            res.refuse(
                _line_using(closing, used),
                f"circular dependency detected on stage: {progress_name(start)}",
                f"a stage cannot use itself, directly or through other stages: {steps}",
                phase=COMMANDS,
            )
            return


def _path_to_cycle(start: Stage, by_ref: dict[str, Stage], visited: set[int]) -> list[Stage]:
    """Return the stages from `start` to the one whose dependency is already on the path (the
    cycle's closing use), or [] (`visit` in convert.go, without recursion)."""
    if start.index in visited:
        return []
    visited.add(start.index)
    path, on_path, stack = [start], {start.index}, [iter(_deps(start, by_ref))]
    while stack:
        dep = next(stack[-1], None)
        if dep is None:
            on_path.discard(path.pop().index)
            stack.pop()
        elif dep.index in on_path:
            return path
        elif dep.index not in visited:
            visited.add(dep.index)
            path.append(dep)
            on_path.add(dep.index)
            stack.append(iter(_deps(dep, by_ref)))
    return []


def _line_using(stage: Stage, dep: Stage) -> int:
    """The line of the last instruction in `stage` that uses `dep` (BuildKit keeps one per
    dependency, the last: convert.go `d.deps[src] = cmd`), or its FROM."""
    lines = [
        ins.line
        for kind, source, ins in uses(stage)
        if kind != "onbuild"
        and (source.lower() == (dep.name or "").lower() or source == str(dep.index))
    ]
    return lines[-1] if lines else stage.lines[0]


def _deps(stage: Stage, by_ref: dict[str, Stage]) -> list[Stage]:
    """The stages `stage`'s COPY --from and RUN --mount from= use, each once, in file order
    (convert.go `d.deps`: no FROM, no ONBUILD trigger)."""
    found = [
        by_ref[s]
        for k, s in zip(stage.source_kinds, stage.sources)
        if s in by_ref and k != "onbuild"
    ]
    return list(dict.fromkeys(found))
