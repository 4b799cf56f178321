"""What BuildKit runs for each target platform of one build for several (`--platform a,b`).

BuildKit converts the Dockerfile once per target platform (moby/buildkit frontend/dockerfile/
builder/build.go runs dockerfile2llb for each of `opt.TargetPlatforms`) and solves the graphs
together, so an operation that is the same for every platform runs once. A stage runs on the
platform its `FROM --platform=...` names (expanded with the platform ARGs: `$BUILDPLATFORM` is
the machine that builds), else on its parent stage's, else on the target platform
(dockerfile2llb/convert.go, `toDispatchState`: `platformOpt`, `d.platform`). Its steps are the
same for every target platform when it runs on the same platform for all, starts from and
copies from stages that are the same, and declares no ARG whose value differs between them
(TARGETARCH, ... and ARGs whose defaults use them): BuildKit puts declared ARGs into the
environment of RUN steps. A stage with RUN that runs on another CPU than the build machine's
needs an emulator (https://docs.docker.com/build/building/multi-platform/).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .platforms import machine_platform, platform_args, split_platform
from .resolve import meta_instructions
from .rules import from_env
from .stages import Stage
from .variables import arg_pairs, expand_word


@dataclass(frozen=True)
class StageRun:
    """One stage run for one target platform: `runs_on` is the platform whose CPU runs its
    steps; `has_run` tells whether it has RUN steps (which run programs of that platform)."""

    ref: str
    platform: str
    runs_on: str
    has_run: bool


@dataclass
class PlatformPlan:
    """What BuildKit runs for each target platform of one build.

    `runs` maps each target platform to its stage runs, dependencies first; `shared` lists
    the stages whose work is the same for every platform, which run once; `args` maps each
    target platform to BuildKit's automatic platform ARGs and their values; `build_platform`
    is the machine that builds.
    """

    build_platform: str
    platforms: list[str]
    runs: dict[str, list[StageRun]] = field(default_factory=dict)
    shared: list[str] = field(default_factory=list)
    args: dict[str, dict[str, str]] = field(default_factory=dict)

    def stages(self, platform: str) -> list[str]:
        """Return the refs of the stages run for one target platform, dependencies first."""
        return [run.ref for run in self.runs[_normal(platform)]]

    def runs_on(self, platform: str, ref: str) -> str:
        """Return the platform that runs stage `ref` for target `platform`; KeyError if the
        stage does not run for it."""
        for run in self.runs[_normal(platform)]:
            if run.ref == ref:
                return run.runs_on
        raise KeyError(f"stage {ref} does not run for {platform}")

    def times_run(self, ref: str) -> int:
        """Return how many times the build runs stage `ref`: once when its work is shared,
        else once per platform it runs for."""
        count = sum(ref in self.stages(platform) for platform in self.platforms)
        return min(count, 1) if ref in self.shared else count

    def describe(self, ref: str) -> str:
        """Say in a few words what the build does with stage `ref` on which platform:
        "once, on linux/amd64", "on linux/amd64 for amd64, arm64", "for amd64, arm64", or ""
        when it runs for no platform."""
        runs = [run for runs in self.runs.values() for run in runs if run.ref == ref]
        if not runs:
            return ""
        places = sorted({run.runs_on for run in runs})
        if ref in self.shared and len(self.platforms) > 1:
            return f"once, on {', '.join(places)}"
        targets = ", ".join(split_platform(run.platform)[1] for run in runs)
        if all(run.runs_on == run.platform for run in runs):
            return f"for {targets}"
        return f"on {', '.join(places)} for {targets}"

    def needs_emulator(self) -> dict[str, list[str]]:
        """Return, per target platform, the stages with RUN that run on another CPU than the
        build machine's: they need an emulator (binfmt_misc with QEMU) to run."""
        build = split_platform(self.build_platform)[:2]
        return {
            platform: [
                run.ref for run in runs if run.has_run and split_platform(run.runs_on)[:2] != build
            ]
            for platform, runs in self.runs.items()
        }


def _normal(platform: str) -> str:
    return "/".join(part for part in split_platform(platform) if part)


def plan_platforms(
    dockerfile,
    target: str | None,
    platforms: Iterable[str],
    build_args: dict[str, str] | None,
    contexts: Iterable[str] | None,
    build_platform: str | None,
) -> PlatformPlan:
    """Return the PlatformPlan of one BuildKit build of `dockerfile` (a Dockerfile: this is
    `Dockerfile.platform_plan`, which the package's __init__ defines above this module)."""
    build = _normal(build_platform or machine_platform())
    chosen = [_normal(p) for p in platforms] or [_normal(machine_platform())]
    plan = PlatformPlan(build, list(dict.fromkeys(chosen)))
    declared: dict[str, dict[str, tuple]] = {}
    for platform in plan.platforms:
        refs = dockerfile.plan(target, "buildkit", build_args, platform, contexts)
        resolution = dockerfile.resolution("buildkit", build_args, platform, target, contexts)
        stages = {stage.ref: stage for stage in resolution.stages}
        env = from_env(
            "buildkit",
            meta_instructions(dockerfile.instructions),
            dict(build_args or {}),
            platform,
            build,
            "",
            dockerfile.escape,
        )
        plan.args[platform] = platform_args(platform, build)
        where: dict[str, str] = {}
        runs = []
        for ref in refs:
            stage = stages[ref]
            where[ref] = _runs_on(stage, env, dockerfile.escape, where, platform)
            runs.append(
                StageRun(ref, platform, where[ref], any(i.keyword == "RUN" for i in stage.steps))
            )
            declared.setdefault(ref, {})[platform] = (
                where[ref],
                _declared_values(stage, env, dockerfile.escape),
                stage.parent.ref if stage.parent else stage.base,
                tuple(stage.sources),
            )
        plan.runs[platform] = runs
    plan.shared = _shared(plan, declared)
    return plan


def _runs_on(stage: Stage, env: dict, escape: str, where: dict[str, str], platform: str) -> str:
    written = stage.instructions[0].flag("platform")
    if written:
        try:
            return _normal(expand_word(written[-1], env, escape)[0])
        except ValueError:
            return platform
    if stage.parent is not None and stage.parent.ref in where:
        return where[stage.parent.ref]
    return platform


def _declared_values(stage: Stage, env: dict, escape: str) -> tuple:
    """The ARGs a stage declares, with the values they take (a platform ARG or a global
    ARG's default, unless the declaration gives its own)."""
    values = []
    for ins in stage.steps:
        if ins.keyword != "ARG":
            continue
        for name, default in arg_pairs(ins, env, escape).items():
            values.append((name, default if default is not None else env.get(name)))
    return tuple(values)


def _shared(plan: PlatformPlan, declared: dict[str, dict[str, tuple]]) -> list[str]:
    """The stages run for every platform with the same work: the same platform, ARG values,
    base and sources, each of those stages shared too (dependencies come first)."""
    if len(plan.platforms) < 2:
        return [run.ref for run in plan.runs[plan.platforms[0]]]
    shared: list[str] = []
    for run in plan.runs[plan.platforms[0]]:
        seen = declared[run.ref]
        if len(seen) < len(plan.platforms) or len(set(seen.values())) != 1:
            continue
        _, _, base, sources = next(iter(seen.values()))
        upstream = [base, *sources]
        if all(ref in shared or ref not in declared for ref in upstream):
            shared.append(run.ref)
    return shared
