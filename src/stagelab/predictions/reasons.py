"""Why a build did what it did, read from the build itself: each stage's status, a step's cache
status, where it failed and what its image holds, as sentences a learner reads.

Predictions (predictions.py) show these beside a learner's guess. Every reason comes from the
build's own record (its stage statuses, steps and failure, as the engine reported them) and
from the Dockerfile, resolved as that builder resolves it; the rules they state are the
builders' own: the classic builder runs every stage up to the target, BuildKit the stages the
target depends on (https://docs.docker.com/build/building/multi-stage/#differences-between-
legacy-builder-and-buildkit, dockerfile/plan.py); a step's cache key takes in the step before
it (moby/buildkit solver/cachekey.go, moby builder/dockerfile/imageprobe.go). A build result
and a BuildFailed are read by their fields, so nothing here imports them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ..dockerfile import Stage
from ..dockerfile.stages import find_stage, instruction_sources
from ..errors import DockerfileError

# How a hop from one stage to another reads, by edge kind (Stage.source_kinds and "from").
_HOPS = {
    "from": "starts FROM",
    "copy": "copies from",
    "mount": "mounts files of",
    "onbuild": "runs an ONBUILD COPY from",
}
_EXIT_MEANINGS = {127: "command not found", 126: "not executable", 1: "an error", 2: "misuse"}


@dataclass(frozen=True)
class Hop:
    """One dependency on the way to the target: stage `child` uses stage `source` at `line`."""

    child: str
    kind: str
    source: str
    line: int

    def __str__(self) -> str:
        return f"`{self.child}` {_HOPS[self.kind]} `{self.source}` (line {self.line})"


def stages_of(result) -> list[Stage]:
    """Return the build's stages as its builder resolved them under its build args and named
    build contexts (a stage a context replaced uses nothing)."""
    return result.dockerfile.resolve(
        result.build_args, result.builder, contexts=result.build_contexts
    )


def goal_of(result, stages: list[Stage]) -> Stage:
    """Return the stage the build made (its target, else the last stage)."""
    return next((s for s in stages if s.ref == result.target), stages[-1])


def dependencies(stages: list[Stage]) -> dict[str, list[Hop]]:
    """Return, for each stage's ref, the stages it uses directly, each with the line using it."""
    uses: dict[str, list[Hop]] = {}
    for stage in stages:
        hops = []
        if stage.parent is not None:
            hops.append(Hop(stage.ref, "from", stage.parent.ref, stage.lines[0]))
        for ins in stage.steps:
            for kind, written in instruction_sources(ins):
                try:
                    source = find_stage(stages[: stage.index], written).ref
                except DockerfileError:
                    continue  # an image, not a stage
                hops.append(Hop(stage.ref, kind, source, ins.line))
        uses[stage.ref] = hops
    return uses


def chain(stages: list[Stage], goal: Stage, ref: str) -> list[Hop] | None:
    """Return the shortest chain of hops by which `goal` depends on stage `ref` ([] for the
    goal itself), or None when it does not depend on it."""
    uses = dependencies(stages)
    came_by: dict[str, list[Hop]] = {goal.ref: []}
    waiting = deque([goal.ref])
    while waiting:
        here = waiting.popleft()
        if here == ref:
            return came_by[here]
        for hop in uses.get(here, []):
            if hop.source not in came_by:
                came_by[hop.source] = came_by[here] + [hop]
                waiting.append(hop.source)
    return None


def _failed_step(result):
    return next((s for s in result.steps if s.status == "failed"), None)


def stage_reason(result, ref: str) -> str:
    """Say why stage `ref` has the status this build gave it, in one sentence."""
    stages = stages_of(result)
    goal = goal_of(result, stages)
    stage = next(s for s in stages if s.ref == ref)
    status = result.stage_status.get(ref, "skipped")
    hops = chain(stages, goal, ref)
    needed = (
        "it is the target"
        if hops == []
        else f"the target `{goal.label}` needs it: " + "; ".join(map(str, hops))
        if hops
        else None
    )
    failed = _failed_step(result)
    if status == "failed":
        where = f" at line {failed.line}: `{failed.instruction}`" if failed and failed.line else ""
        return f"`{stage.label}` failed{where}, and the build stopped there."
    if status in ("built", "cached"):
        how = "was taken whole from the cache" if status == "cached" else "ran"
        shared = result.shared_with.get(ref)
        if shared:
            how += f" (BuildKit ran its work once, for it and the identical stage `{shared}`)"
        if result.builder == "classic":
            rule = (
                "the classic builder runs every stage up to the target, in file order, "
                "whether the target needs it or not"
            )
            return f"`{stage.label}` {how}: " + (f"{needed}; and {rule}." if needed else f"{rule}.")
        return f"`{stage.label}` {how} because {needed}." if needed else f"`{stage.label}` {how}."
    # skipped
    if (stage.name or "").lower() in result.build_contexts:
        return (
            f"`{stage.label}` did not run: the named build context `{stage.name.lower()}` "
            "replaced it, so BuildKit takes its files from there."
        )
    stopped = failed is not None and failed.stage != ref
    if result.builder == "classic":
        if stage.index > goal.index:
            return (
                f"`{stage.label}` did not run: it comes after the target `{goal.label}`, and the "
                "classic builder stops at the target."
            )
        if stopped:
            return f"`{stage.label}` did not run: the build failed in `{failed.stage}` first."
        return f"`{stage.label}` did not run."
    if needed and stopped:
        return (
            f"`{stage.label}` did not run: {needed}, but the build failed in "
            f"`{failed.stage}` before it got there."
        )
    return (
        f"`{stage.label}` did not run: the target `{goal.label}` does not need it (no stage on "
        "the way to the target starts FROM it, copies from it or mounts it), and BuildKit runs "
        "only what the target needs."
    )


def step_reason(result, step) -> str:
    """Say why a step (a Step of this build) was cached or run, in one sentence."""
    reason = _step_reason(result, step)
    return reason[0].upper() + reason[1:]


def _step_reason(result, step) -> str:
    shown = f"line {step.line}, `{step.instruction}`"
    if step.status == "cached":
        return (
            f"The engine already had the result of {shown} from an earlier build: the same "
            "instruction, on the same step before it, with the same files and build args."
        )
    if step.status == "failed":
        return f"{shown} ran and failed."
    if getattr(result, "no_cache", False):
        return f"{shown} ran: the build asked for no cache (`no_cache=True`, `--no-cache`)."
    earlier = [
        s
        for s in result.steps
        if s.stage == step.stage and s.line and step.line and s.line < step.line
    ]
    rerun = next((s for s in earlier if s.status == "built" and _changes_files(s)), None)
    if rerun is not None:
        return (
            f"{shown} ran again because line {rerun.line} (`{rerun.instruction}`) before it in "
            "the same stage ran: a step's cache key includes the step before it, so once one "
            "step runs, every later step of the stage runs too."
        )
    return (
        f"{shown} ran: the engine had no result for it. Its instruction, a build arg it sees, "
        "or the files it copies changed since the last build (or it never ran here, or the "
        "cache was cleared)."
    )


def _changes_files(step) -> bool:
    return step.instruction.split(" ", 1)[0].upper() in ("RUN", "COPY", "ADD", "WORKDIR")


def failure_reason(failure) -> str:
    """Say where and how a build failed (a BuildFailed, or any StagelabError), in one sentence."""
    stage = getattr(failure, "stage", None)
    if stage is None:
        first = str(failure).strip().splitlines()[0] if str(failure).strip() else "it failed"
        return f"The build failed before any stage ran: {first}"
    code = getattr(failure, "exit_code", None)
    meaning = f" ({_EXIT_MEANINGS[code]})" if code in _EXIT_MEANINGS else ""
    how = f" with exit code {code}{meaning}" if code is not None else ""
    line = f" at line {failure.line}" if getattr(failure, "line", None) else ""
    ins = f": `{failure.instruction}`" if getattr(failure, "instruction", None) else ""
    return f"Stage `{stage}` failed{line}{ins}{how}; the build stops at its first failure."


def size_reason(result) -> str:
    """Say what the image of this build is made of: its base image, and what its stage adds."""
    stages = stages_of(result)
    stage = goal_of(result, stages)
    own = [stage]
    while stage.parent is not None:
        stage = stage.parent
        own.append(stage)
    names = ", ".join(f"`{s.label}`" for s in reversed(own))
    copied = sorted({src for s in own for src in s.sources})
    copies = (
        f"; files of other stages or images are in it only where copied ({', '.join(copied)})"
        if copied
        else "; no other stage's files are in it"
    )
    if stage.base == "scratch":
        start = "starts FROM scratch, an empty image, so it holds only what its steps add"
    else:
        served = result.substitutions.get(stage.base)
        by = f", served here by the stand-in {served}" if served else ""
        start = (
            f"starts FROM {stage.base}{by}, and holds all of that base image plus what its "
            "steps add"
        )
    return f"The image is the stage{'s' if len(own) > 1 else ''} {names}: it {start}{copies}."
