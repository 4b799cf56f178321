"""What a build did: its steps and, for every stage, one of the stage statuses (states.py)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from .command_lines import shell_text
from .dockerfile import Dockerfile
from .render.graphs import StageGraph, stage_graph
from .render.html import summary_html
from .why import StageWhy, Why
from .why.stages import result_outline

# How many lines of a failing step's output a BuildFailed shows.
LOG_TAIL_LINES = 12
# Numbers the builds of this process, so a notebook can tell them apart.
_build_numbers = itertools.count(1)


@dataclass
class Step:
    """One instruction the engine ran.

    `stage` is the stage's ref (None when the engine named no stage), `line` the Dockerfile
    line (1-based), `status` "built", "cached" or "failed", `seconds` how long it ran and
    `start` when it started, in seconds after the build started. In a build for several
    platforms, or one other than the engine's, `platform` is the platform the step built for
    and `runs_on` the one whose CPU ran it (the build platform for a stage
    `FROM --platform=$BUILDPLATFORM`), as BuildKit names the step ("[linux/amd64->arm64 ...]").
    `image` is the image the classic builder made or reused for the step (its short ID; None
    for BuildKit).
    """

    stage: str | None
    instruction: str
    line: int | None
    status: str
    seconds: float
    start: float = 0.0
    platform: str | None = None
    runs_on: str | None = None
    image: str | None = None

    @property
    def end(self) -> float:
        """Return when the step ended, in seconds after the build started."""
        return self.start + self.seconds


@dataclass(repr=False)
class BuildResult:
    """What a real (or replayed) build did, stage by stage, read from the engine's own progress.

    `stage_status` maps every stage's ref, in Dockerfile order, to "built", "cached",
    "skipped" or "failed". `image_id` is None for a build that exported files (`output`);
    `size_bytes` is the image's size in bytes; `duration_s` the build's wall time in seconds;
    `substitutions` maps official image names to the offline stand-ins that served them.
    `shared_with` maps a stage whose work BuildKit ran once for two identical stages, under
    the other one's name, to that other stage (its status is that stage's). `no_cache` says
    the build was asked to use no cache (`--no-cache`). `command` is the command line that ran
    it (`docker buildx build ...`), or for the classic builder, which runs through the engine's
    API, the command that does the same (`DOCKER_BUILDKIT=0 docker build ...`); `log` is the
    engine's log of the build (a replayed result keeps its last lines).
    A replayed result has `replayed` set and says which engine recorded it, and when.
    `number` counts the builds of this process (1, 2, ...): views of one build carry it.
    `platforms` are the platforms asked for (`--platform`; [] for the engine's own), and
    `platform_status` maps each of them to every stage's status for that platform (empty for
    a build of one platform). `build_contexts` are the named contexts it was given,
    `docker_host` the engine it ran on when not the CLI's own (stagelab's platform engine),
    and `build_ref` the engine's name for the build in `docker buildx history`. `layer_ids`
    are the image's layers (their diff IDs, oldest first; [] without an image).
    `explanation` is what `why()` returns (set by sl.build); `summary_why` shows it in the
    build's summary.
    """

    builder: str
    target: str | None
    dockerfile: Dockerfile
    stage_status: dict[str, str]
    steps: list[Step]
    image_id: str | None
    size_bytes: int | None
    duration_s: float
    log: str
    substitutions: dict[str, str] = field(default_factory=dict)
    tag: str | None = None
    build_args: dict[str, str] = field(default_factory=dict)
    output: str | None = None
    replayed: bool = False
    recorded_engine: str | None = None
    recorded_on: str | None = None
    shared_with: dict[str, str] = field(default_factory=dict)
    platforms: list[str] = field(default_factory=list)
    platform_status: dict[str, dict[str, str]] = field(default_factory=dict)
    build_contexts: dict[str, str] = field(default_factory=dict)
    docker_host: str | None = None
    build_ref: str | None = None
    layer_ids: list[str] = field(default_factory=list)
    no_cache: bool = False
    command: list[str] = field(default_factory=list)
    explanation: Why | None = field(default=None, repr=False, compare=False)
    summary_why: bool = field(default=False, repr=False, compare=False)
    number: int = field(
        default_factory=lambda: next(_build_numbers), init=False, repr=False, compare=False
    )

    def stages_with(self, status: str) -> list[str]:
        """Return the refs of the stages with this status, in Dockerfile order."""
        return [ref for ref, state in self.stage_status.items() if state == status]

    @property
    def built(self) -> list[str]:
        """Return the stages whose steps the engine ran."""
        return self.stages_with("built")

    @property
    def cached(self) -> list[str]:
        """Return the stages the engine took whole from its build cache."""
        return self.stages_with("cached")

    @property
    def skipped(self) -> list[str]:
        """Return the stages the engine did not run."""
        return self.stages_with("skipped")

    @property
    def ran(self) -> list[str]:
        """Return the stages the engine built or took from its cache."""
        return [ref for ref, state in self.stage_status.items() if state != "skipped"]

    @property
    def size_mb(self) -> float | None:
        """Return the image's size in megabytes (10^6 bytes), or None without an image."""
        return None if self.size_bytes is None else self.size_bytes / 1e6

    def ran_for(self, platform: str) -> list[str]:
        """Return the stages the engine built or took from its cache for one platform of a
        build for several; KeyError names the platforms it was built for."""
        if platform not in self.platform_status:
            raise KeyError(f"{platform}: this build was for {self.platforms or 'one platform'}")
        return [ref for ref, state in self.platform_status[platform].items() if state != "skipped"]

    @property
    def command_line(self) -> str:
        """Return the build's command as one line a shell reads ("" when none was recorded)."""
        return shell_text(self.command) if self.command else ""

    def __repr__(self) -> str:
        statuses = ", ".join(f"{ref}={state}" for ref, state in self.stage_status.items())
        size = f"{self.size_mb:.1f} MB" if self.size_bytes is not None else "no image"
        image = (self.image_id or "")[7:19] or "-"
        replay = " replayed" if self.replayed else ""
        return (
            f"<BuildResult{replay} {self.builder} target={self.target or 'last stage'} "
            f"image={image} {size} {self.duration_s:.1f}s stages: {statuses}>"
        )

    def _repr_html_(self) -> str:
        return summary_html(self)

    def graph(self) -> StageGraph:
        """Draw the stage graph coloured by what this build did with each stage."""
        return stage_graph(self.dockerfile, target=self.target, result=self)

    def why(self, stage: str | None = None) -> Why | StageWhy:
        """Say why each stage ran or was skipped, and why each step came from the cache or was
        built, with what each rebuild invalidated (stagelab.why; the rules cited there).

        `stage` (a name, ref or index) narrows it to one stage: returns its StageWhy; without
        it, the Why of the whole build. Both show as a table in a notebook and as text
        elsewhere. A replayed result's reasons come from its recording, and say so. Raises
        DockerfileError for a stage this Dockerfile does not have.
        """
        explanation = self.explanation or result_outline(
            self, "This result holds no explanation of its steps: it was not made by sl.build."
        )
        if stage is None:
            return explanation
        return explanation.stage(self.dockerfile.stage(stage).ref)


@dataclass
class StreamOutcome:
    """What a builder's progress stream says: steps, every stage's status, the log, for a
    failed build the fields of its BuildFailed (stage, instruction, line, exit_code, log_tail,
    reason), and the stages whose work BuildKit shared with another (`BuildResult`)."""

    steps: list[Step]
    stage_status: dict[str, str]
    log: str
    failure: dict | None = None
    shared_with: dict[str, str] = field(default_factory=dict)
    platform_status: dict[str, dict[str, str]] = field(default_factory=dict)


def combined_statuses(per_platform: dict[str, dict[str, str]]) -> dict[str, str]:
    """Return every stage's status over all platforms: failed on any, else built on any, else
    cached on any, else skipped."""
    combined: dict[str, str] = {}
    for statuses in per_platform.values():
        for ref, status in statuses.items():
            now = combined.get(ref, "skipped")
            combined[ref] = min(now, status, key=_STATUS_ORDER.index)
    return combined


_STATUS_ORDER = ["failed", "built", "cached", "skipped"]


def stage_statuses(dockerfile: Dockerfile, steps: list[Step]) -> dict[str, str]:
    """Return every stage's status from the steps the engine reported, in Dockerfile order.

    A stage with a failed step failed; with none it was skipped; otherwise it was built when
    any step past its FROM (or its FROM alone) ran, and cached when all came from the cache.
    """
    statuses = {}
    for stage in dockerfile.stages:
        mine = [step for step in steps if step.stage == stage.ref]
        own = [step for step in mine if not step.instruction.upper().startswith("FROM")] or mine
        if not mine:
            statuses[stage.ref] = "skipped"
        elif any(step.status == "failed" for step in mine):
            statuses[stage.ref] = "failed"
        else:
            statuses[stage.ref] = "cached" if all(s.status == "cached" for s in own) else "built"
    return statuses
