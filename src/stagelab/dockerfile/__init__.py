"""Parse Dockerfiles with the official BuildKit parser; their stages, graph and build plans."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..errors import DockerfileError
from .contexts import apply_contexts, context_name
from .frontend import ENGINE_28_5, Frontend, frontend_for
from .instructions import Instruction, escape_char, parse_instructions
from .parsing import first_unparsable
from .plan import BUILDERS, Plan, attempt, goal_stage, plan_stages
from .platform_plan import PlatformPlan, plan_platforms
from .platforms import machine_platform, split_platform
from .refusals import Explanation, explain_refusal
from .resolve_buildkit import resolve_buildkit
from .resolve_classic import resolve_classic
from .rules import CheckHit, ImageLookup, Resolution
from .stages import Edge, Stage, find_stage, split_stages, stage_edges
from .variables import expand, global_args

__all__ = [
    "BUILDERS",
    "CheckHit",
    "Dockerfile",
    "Edge",
    "Explanation",
    "Frontend",
    "Instruction",
    "Plan",
    "PlatformPlan",
    "Stage",
    "expand",
    "frontend_for",
    "machine_platform",
]


class Dockerfile:
    """A parsed Dockerfile: its text, instructions, global ARGs (name -> default) and stages.

    `Dockerfile(text)` parses, raising DockerfileError naming the line and the engine's own
    sentence where both builders refuse the whole file, whatever the target: text their
    parser refuses, or an instruction that does not parse into its command (an argument
    missing, a flag the engine's frontend does not know: parsing.py, frontend.py). What one
    builder or target refuses is raised by `plan()` (and by the engine in a build).
    `image_lookup` tells which names an engine has as images (rules.ImageLookup;
    `sl.parse_dockerfile` asks the engine): a builder that looks a later stage's name up as
    an image finds such an image there. Without it the planner takes the engine to have none
    of the names it looks up. `frontend` is the engine's Dockerfile frontend (frontend.py;
    default: that of Docker Engine 28.5, which the course provisions). `image_platform` tells
    the platform (`os/arch[/variant]`) of the image a name finds there, or None
    (`sl.parse_dockerfile` asks the engine: images.platform_of); `caveats()` uses it.
    """

    def __init__(
        self,
        text: str,
        image_lookup: ImageLookup | None = None,
        frontend: Frontend = ENGINE_28_5,
        image_platform: Callable[[str], str | None] | None = None,
    ):
        self.text = text
        self.image_lookup = image_lookup
        self.image_platform = image_platform
        self.frontend = frontend
        self.escape = escape_char(text)
        self.instructions = parse_instructions(text)
        unparsable = first_unparsable(self.instructions, frontend)
        if unparsable is not None:
            ins, reason, advice = unparsable
            raise DockerfileError(
                f"both builders refuse the whole file, for any target: {reason}. "
                f"{advice[:1].upper()}{advice[1:]}",
                line=ins.line,
            )
        if not any(ins.keyword == "FROM" for ins in self.instructions):
            raise DockerfileError("no FROM instruction: a Dockerfile needs at least one stage")
        self.global_args = global_args(self.instructions, self.escape)
        self._written = split_stages(self.instructions)
        self.stages = self.resolve()

    def __repr__(self) -> str:
        refs = ", ".join(s.label for s in self.stages)
        return f"<Dockerfile: {len(self.stages)} stages: {refs}>"

    def resolution(
        self,
        builder: str = "buildkit",
        build_args: dict[str, str] | None = None,
        platform: str | None = None,
        target: str | None = None,
        contexts: Iterable[str] | None = None,
    ) -> Resolution:
        """Return the stages as `builder` resolves them, with every place it refuses the file.

        `platform` is the target platform (`os/arch[/variant]`, default: this machine's own,
        which is what a local engine builds for); BuildKit's platform ARGs take their values
        from it. `contexts` are the names of named build contexts (`--build-context`), which
        replace stages and images of those names (contexts.py). Raises ValueError for an
        unknown builder or a malformed platform.
        """
        if builder not in BUILDERS:
            raise ValueError(f"builder must be one of {BUILDERS}, not {builder!r}")
        build_args = dict(build_args or {})
        target = None if target is None else str(target)
        native = machine_platform()
        if builder == "classic":
            resolution = resolve_classic(
                self._written,
                self.instructions,
                build_args,
                target,
                self.escape,
                self.image_lookup,
                self.frontend,
                self.text,
                native,
            )
            return apply_contexts(resolution, contexts or ())
        chosen = platform or native
        split_platform(chosen)
        resolution = resolve_buildkit(
            self._written,
            self.instructions,
            build_args,
            chosen,
            native,
            target,
            self.escape,
            self.image_lookup,
            self.frontend,
            self.text,
        )
        return apply_contexts(resolution, contexts or ())

    def resolve(
        self,
        build_args: dict[str, str] | None = None,
        builder: str = "buildkit",
        platform: str | None = None,
        contexts: Iterable[str] | None = None,
    ) -> list[Stage]:
        """Return the stages with FROM and every --from resolved by this builder under these
        build args (a build arg changes only an ARG declared before the first FROM) and named
        contexts.

        Never raises for what a builder refuses: `plan()` does (see `resolution`).
        """
        return self.resolution(builder, build_args, platform, contexts=contexts).stages

    def stage(self, ref: str | int) -> Stage:
        """Return the stage with this name (any case), ref or index; DockerfileError if none."""
        return find_stage(self.stages, ref)

    def target_stage(self, target: str, builder: str = "buildkit") -> Stage:
        """Return the stage `--target target` builds with this builder.

        Raises DockerfileError, as both builders do, for a target that names no stage (an
        index is no name): BuildKit takes the last stage of a repeated name, the classic
        builder the first.
        """
        resolution = self.resolution(builder, target=target)
        goal = goal_stage(resolution, target)
        if goal is None:
            refusal = next(r for r in resolution.refusals if "target stage" in r.reason)
            raise DockerfileError(refusal.message(builder), line=None)
        return goal

    def edges(
        self,
        build_args: dict[str, str] | None = None,
        builder: str = "buildkit",
        platform: str | None = None,
        contexts: Iterable[str] | None = None,
    ) -> list[Edge]:
        """Return every dependency edge: FROM a stage or image, COPY --from, RUN --mount, and
        the ONBUILD COPY --from of a stage a stage starts from; a named context is a source
        called `context NAME` (contexts.context_source)."""
        return stage_edges(self.resolve(build_args, builder, platform, contexts))

    def images(
        self,
        build_args: dict[str, str] | None = None,
        builder: str = "buildkit",
        platform: str | None = None,
        contexts: Iterable[str] | None = None,
    ) -> list[str]:
        """Return the external images this Dockerfile uses, in order of first use (not those
        named contexts serve)."""
        return list(
            dict.fromkeys(
                e.source
                for e in self.edges(build_args, builder, platform, contexts)
                if e.external and context_name(e.source) is None
            )
        )

    def plan(
        self,
        target: str | None = None,
        builder: str = "buildkit",
        build_args: dict[str, str] | None = None,
        platform: str | None = None,
        contexts: Iterable[str] | None = None,
    ) -> Plan:
        """Return the refs of the stages this builder runs for this target, dependencies first
        (a Plan: a list whose `caveats` say what the planner cannot know, see `caveats()`).

        `target` is a stage name, as `--target` takes it (default: the last stage);
        `builder` is "buildkit" or "classic"; `platform` the target platform (default: this
        machine's, see `resolution`); `contexts` the names of named build contexts: a stage
        one replaces does not run, nor do the stages only it needed (the classic builder
        refuses them). Raises ValueError for another builder, DockerfileError,
        naming the line and the builder's own reason, where that builder refuses the file for
        this target (an unknown target or an index included). The rules come from each
        builder's source: see stagelab/dockerfile/rules.py.
        """
        resolution = self.resolution(builder, build_args, platform, target, contexts)
        return Plan(
            [r for r in plan_stages(resolution, target) if r not in resolution.replaced],
            lambda: self.caveats(target, builder, build_args, platform, contexts),
        )

    def attempt(
        self,
        target: str | None = None,
        builder: str = "buildkit",
        build_args: dict[str, str] | None = None,
        platform: str | None = None,
        contexts: Iterable[str] | None = None,
    ) -> tuple[list[str], DockerfileError | None]:
        """Return what `plan()` returns, or, where the builder refuses the file, the stages it
        runs before refusing (none for BuildKit) and the DockerfileError `plan()` raises."""
        resolution = self.resolution(builder, build_args, platform, target, contexts)
        refs, refusal = attempt(resolution, target)
        return [r for r in refs if r not in resolution.replaced], refusal

    def platform_plan(
        self,
        target: str | None = None,
        platforms: Iterable[str] = (),
        build_args: dict[str, str] | None = None,
        contexts: Iterable[str] | None = None,
        build_platform: str | None = None,
    ) -> PlatformPlan:
        """Return what BuildKit runs for each target platform of one build (`--platform a,b`):
        the stages, where each runs, which run once for all, the platform ARGs' values, and
        which need an emulator (platform_plan.py). `platforms` default to this machine's;
        `build_platform` is the machine that builds (default: this one). Raises
        DockerfileError where BuildKit refuses the file for a platform, ValueError for a
        malformed platform."""
        return plan_platforms(self, target, platforms, build_args, contexts, build_platform)

    def at_line(self, line: int | None) -> tuple[Stage, Instruction] | None:
        """Return the stage (as written, for the default build) and the instruction that a
        1-based `line` falls in, or None for a line outside every stage's instructions."""
        for stage in self.stages if line is not None else []:
            for ins in stage.instructions:
                if ins.line <= line <= ins.end_line:
                    return stage, ins
        return None

    def explain(
        self,
        message: str,
        line: int | None = None,
        builder: str = "buildkit",
        target: str | None = None,
        build_args: dict[str, str] | None = None,
    ) -> Explanation:
        """Explain an engine's refusal of this Dockerfile: `message` is what the engine said
        (buildx's or the daemon's text, prefixes and all), `line` the line it named, if any.

        Returns the line, stage, instruction and reason: the engine's sentence, with the
        planner's own refusal and advice where the planner refuses the same build at the same
        line, or what the learner most likely meant where the engine found no image of a name
        (a stage with a tag, one defined further down, one swallowed by a continued line,
        one named nearly so).
        """
        _, planned = self.attempt(target, builder, build_args)
        return explain_refusal(message, line, self.stages, planned, self.text, self.instructions)

    def caveats(
        self,
        target: str | None = None,
        builder: str = "buildkit",
        build_args: dict[str, str] | None = None,
        platform: str | None = None,
        contexts: Iterable[str] | None = None,
    ) -> list[str]:
        """Return what the plan cannot know: each image a stage the builder runs uses that the
        engine (`image_lookup`) does not have, which the build pulls, and which fails where no
        registry has it; for BuildKit also each FROM image the engine has only for another
        platform (`image_platform`) than the stage asks for. An image or stage a named context
        in `contexts` serves is no such image. Empty without an image lookup (nothing was asked)
        or a refusal."""
        refs, refusal = self.attempt(target, builder, build_args, platform, contexts)
        if self.image_lookup is None or refusal is not None:
            return []
        stages = self.resolve(build_args, builder, platform, contexts)
        lines = {s.ref: s.lines[0] for s in stages}
        notes = []
        for edge in self.edges(build_args, builder, platform, contexts):
            if (
                edge.external
                and context_name(edge.source) is None
                and edge.child in refs
                and self.image_lookup(edge.source) is None
            ):
                notes.append(
                    f"stage {edge.child} (line {lines[edge.child]}) uses image {edge.source}, "
                    "which is not on this engine: the build pulls it, and fails if no "
                    "registry has it"
                )
        if builder == "buildkit":
            wanted = platform or machine_platform()
            notes += [n for s in stages if s.ref in refs for n in self._other_platform(s, wanted)]
        return list(dict.fromkeys(notes))

    def _other_platform(self, stage: Stage, wanted: str) -> list[str]:
        """BuildKit takes an image of the engine's only for the platform a stage asks for (the
        OS and architecture: moby builder/builder-next/adapters/containerimage/pull.go
        `resolveLocal`, measured on Engine 28.5): else it pulls the image for that platform."""
        if self.image_platform is None or stage.parent is not None or stage.base == "scratch":
            return []
        if context_name(stage.base) is not None:
            return []  # a named context serves it
        have = self.image_platform(stage.base)
        asked = stage.platform or wanted
        try:
            if have is None or split_platform(have)[:2] == split_platform(asked)[:2]:
                return []
        except ValueError:  # `linux` alone: BuildKit fills in the architecture
            return []
        return [
            f"stage {stage.label} (line {stage.lines[0]}) starts FROM {stage.base} for {asked}, "
            f"and this engine has that image for {have} only: BuildKit takes a local image "
            "only for the platform asked, so the build pulls it, and fails if no registry has it"
        ]
