"""A pure reader of BuildKit's `docker buildx build --progress=rawjson` stream: vertices folded
into steps and stage statuses. Nothing here runs a process (buildkit.py does)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from .dockerfile import Dockerfile, Instruction, Stage
from .errors import DockerfileError
from .images import explain_missing_image
from .progress import Progress
from .progress_names import (
    VERTEX_NAME,
    from_is_a_step,
    settle_platform_statuses,
    step_platform,
)
from .results import LOG_TAIL_LINES, Step, StreamOutcome, combined_statuses, stage_statuses
from .vertex_names import (
    FILESYSTEM_STEPS,
    build_began,
    instruction_for,
    progress_time,
    stage_by_progress_name,
    stage_work,
)

_EXIT_CODE = re.compile(r"exit code: (\d+)")
# buildx's error summary names the Dockerfile line it refers to: "Dockerfile:12".
_LOCATED = re.compile(r"^[^\s:]+:(\d+)$")


@dataclass
class Vertex:
    """One node of BuildKit's build graph as the stream reported it."""

    digest: str
    name: str
    started: datetime | None = None
    completed: datetime | None = None
    cached: bool = False
    error: str = ""
    logs: list[str] = field(default_factory=list)


class RawJsonReader:
    """Fold `--progress=rawjson` lines into vertices, telling a watcher as stages change.

    `feed()` takes one line at a time; `outcome()` then reads the steps and stage statuses.
    Nothing here runs a process: tests feed it streams captured from real builds.
    """

    def __init__(
        self,
        dockerfile: Dockerfile,
        watcher: Progress | None = None,
        *,
        build_args: dict[str, str] | None = None,
        target_ref: str | None = None,
        platforms: list[str] | None = None,
        contexts: list[str] | None = None,
    ):
        self.dockerfile = dockerfile
        self.watcher = watcher or Progress()
        self.build_args = build_args or {}
        self.target_ref = target_ref
        self.platforms = list(platforms or [])
        self.contexts = list(contexts or [])
        self.vertices: dict[str, Vertex] = {}
        self.order: list[str] = []
        self.other_lines: list[str] = []

    def feed(self, line: str) -> None:
        """Take one line of the stream: a JSON status message, or buildx's own text."""
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            if line.strip():
                self.other_lines.append(line.rstrip())
            return
        for raw in message.get("vertexes") or []:
            vertex = self.vertices.get(raw["digest"])
            if vertex is None:
                vertex = self.vertices[raw["digest"]] = Vertex(raw["digest"], raw.get("name", ""))
                self.order.append(raw["digest"])
            vertex.started = progress_time(raw.get("started")) or vertex.started
            vertex.completed = progress_time(raw.get("completed")) or vertex.completed
            vertex.cached = vertex.cached or bool(raw.get("cached"))
            vertex.error = raw.get("error") or vertex.error
            self._tell(vertex)
        for log in message.get("logs") or []:
            vertex = self.vertices.get(log.get("vertex"))
            if vertex is not None and log.get("data"):
                vertex.logs.append(base64.b64decode(log["data"]).decode("utf-8", "replace"))

    def _tell(self, vertex: Vertex) -> None:
        where = self.locate(vertex)
        if where is None:
            return
        if vertex.error:
            state = "failed"
        elif vertex.completed:
            state = "cached" if vertex.cached else "done"
        elif vertex.started:
            state = "running"
        else:
            state = "waiting"  # BuildKit lists every step of the graph before it runs it
        self.watcher.stage(where[0].ref, state, vertex.name)

    def locate(self, vertex: Vertex) -> tuple[Stage, Instruction | None] | None:
        """Return the stage and instruction a vertex belongs to, from its name (None: neither)."""
        match = VERTEX_NAME.match(vertex.name)
        if not match:
            return None
        stage = stage_by_progress_name(self.dockerfile.stages, match["stage"], match["text"])
        if stage is None:
            return None
        names = [v.name for v in self.vertices.values()]
        first = 1 + from_is_a_step(self.dockerfile.stages, stage, names)
        return stage, instruction_for(stage, match["text"], int(match["step"]), first)

    def log_text(self) -> str:
        """Return the build's log: each step's name, its output and how it ended."""
        lines = []
        for digest in self.order:
            vertex = self.vertices[digest]
            if vertex.name.startswith("[internal]"):
                continue
            lines.append(vertex.name)
            lines.extend("  " + part for text in vertex.logs for part in text.splitlines())
            if vertex.error:
                lines.append(f"  ERROR: {vertex.error}")
            elif vertex.cached:
                lines.append("  CACHED")
            elif vertex.completed and vertex.started:
                seconds = (vertex.completed - vertex.started).total_seconds()
                lines.append(f"  DONE {seconds:.1f}s")
        return "\n".join(lines + self.other_lines)

    def outcome(self, failed: bool) -> StreamOutcome:
        """Return the steps, every stage's status, the log, and (when `failed`) why it failed.

        For a build of several platforms, every stage's status for each platform too; a
        stage's status over all of them is its worst (failed, built, cached, skipped)."""
        steps = self._steps()
        if len(self.platforms) < 2:
            statuses, shared = self._statuses(steps, failed)
            return StreamOutcome(
                steps, statuses, self.log_text(), self._failure() if failed else None, shared
            )
        per_platform = {}
        shared = {}
        for platform in self.platforms:
            mine = [step for step in steps if step.platform == platform]
            per_platform[platform], found = self._statuses(mine, failed, platform)
            shared.update(found)
        self._once_for_all(per_platform, failed)
        return StreamOutcome(
            steps,
            combined_statuses(per_platform),
            self.log_text(),
            self._failure() if failed else None,
            shared,
            per_platform,
        )

    def _statuses(
        self, steps: list[Step], failed: bool, platform: str | None = None
    ) -> tuple[dict[str, str], dict[str, str]]:
        statuses = stage_statuses(self.dockerfile, steps)
        shared: dict[str, str] = {}
        if self.vertices and not failed:  # an empty stream (buildx failed at once) ran nothing
            shared = self._shared_work(statuses, platform)
        if self.vertices:
            statuses = self._fill_silent_stages(statuses, platform)
        for stage in self.dockerfile.stages:  # a named context replaced it: it never runs
            if stage.name and stage.name.lower() in self.contexts:
                statuses[stage.ref] = "skipped"
        return statuses, shared

    def _once_for_all(self, per_platform: dict[str, dict[str, str]], failed: bool) -> None:
        """Complete the statuses per platform (progress_names.settle_platform_statuses)."""
        try:
            plan = self.dockerfile.platform_plan(
                self.target_ref, self.platforms, self.build_args, self.contexts
            )
        except DockerfileError:
            return
        listed = {
            (step_platform(match["platform"])[0], where[0].ref)
            for vertex in self.vertices.values()
            if (match := VERTEX_NAME.match(vertex.name)) and (where := self.locate(vertex))
        }
        settle_platform_statuses(per_platform, plan, listed, failed)

    def _shared_work(self, statuses: dict[str, str], platform: str | None = None) -> dict[str, str]:
        """Give a needed stage that printed nothing the status of the identical stage whose
        work BuildKit ran in its place; return {stage: the stage it shared with}.

        BuildKit solves a graph of operations: two stages with the same instructions on the same
        base are one operation, shown once under one stage's name.
        """
        try:
            needed = self.dockerfile.plan(
                self.target_ref, "buildkit", self.build_args, platform, self.contexts
            )
        except DockerfileError:
            return {}
        stages = self.dockerfile.resolve(self.build_args, platform=platform)
        by_ref = {stage.ref: stage for stage in stages}
        shared = {}
        for ref in needed:
            stage = by_ref[ref]
            if statuses[ref] != "skipped" or not any(
                s.keyword in FILESYSTEM_STEPS for s in stage.steps
            ):
                continue
            twin = next(
                (
                    other
                    for other in stages
                    if other.ref != ref
                    and statuses[other.ref] != "skipped"
                    and stage_work(other) == stage_work(stage)
                ),
                None,
            )
            if twin is not None:
                statuses[ref] = statuses[twin.ref]
                shared[ref] = twin.ref
        return shared

    def _steps(self) -> list[Step]:
        first = build_began(self.vertices.values())
        # When a step fails, BuildKit cancels the others: those did not fail. When nothing
        # failed but the build was cancelled (Ctrl-C), the steps it stopped are what failed.
        errors = [v.error for v in self.vertices.values() if v.error]
        caused = any("canceled" not in error for error in errors)
        cancelled_by_failure = {error for error in errors if caused and "canceled" in error}
        steps = []
        for digest in self.order:
            vertex = self.vertices[digest]
            where = self.locate(vertex)
            if where is None:
                continue
            if not (vertex.started or vertex.cached) or (vertex.error in cancelled_by_failure):
                continue  # never ran, or stopped because another step failed
            stage, instruction = where
            status = "failed" if vertex.error else "cached" if vertex.cached else "built"
            platform, runs_on = step_platform(VERTEX_NAME.match(vertex.name)["platform"])
            # A step shared with a build that started it earlier runs, for this build, from
            # when this build began.
            began = max(vertex.started, first) if vertex.started and first else vertex.started
            start = (began - first).total_seconds() if began and first else 0.0
            end = vertex.completed or vertex.started
            seconds = (end - began).total_seconds() if end and began else 0.0
            steps.append(
                Step(
                    stage.ref,
                    VERTEX_NAME.match(vertex.name)["text"],
                    instruction.line if instruction else None,
                    status,
                    round(max(seconds, 0.0), 3),
                    round(max(start, 0.0), 3),
                    platform or self._only_platform(),
                    runs_on or platform or self._only_platform(),
                )
            )
        return steps

    def _only_platform(self) -> str | None:
        # A build for one platform names none in its steps.
        return self.platforms[0] if len(self.platforms) == 1 else None

    def _base_cached(self) -> bool:
        # A base image loads as "[context NAME] IMAGE" or as a FROM step; BuildKit marks the
        # load cached when the image is used as it is, as it is for a stage of metadata only.
        loads = [
            v
            for v in self.vertices.values()
            if "load metadata" not in v.name
            and (v.name.startswith("[context ") or " FROM " in f" {v.name}")
        ]
        return bool(loads) and all(v.cached for v in loads)

    def _fill_silent_stages(
        self, statuses: dict[str, str], platform: str | None = None
    ) -> dict[str, str]:
        """Give a stage with no step of its own the status of what it starts from.

        BuildKit prints nothing for a stage that is only FROM plus metadata (CMD, ENV, ...); it
        ran when it is the target of a build that produced an image, or when a stage that ran
        starts from it or copies from it.
        """
        stages = self.dockerfile.resolve(self.build_args, platform=platform)
        by_ref = {stage.ref: stage for stage in stages}
        silent = {
            stage.ref
            for stage in stages
            if statuses[stage.ref] == "skipped"
            and not any(s.keyword in FILESYSTEM_STEPS for s in stage.steps)
        }
        goal = self.target_ref or stages[-1].ref
        ran = {ref for ref, status in statuses.items() if status != "skipped"}
        if goal in silent and "failed" not in statuses.values():
            ran.add(goal)
        pending = list(ran)
        while pending:
            stage = by_ref[pending.pop()]
            for dep in ([stage.parent.ref] if stage.parent else []) + stage.sources:
                if dep in silent and dep not in ran:
                    ran.add(dep)
                    pending.append(dep)
        base = "cached" if self._base_cached() else "built"
        for stage in stages:  # parents come first, so their status is known
            if stage.ref in silent and stage.ref in ran:
                statuses[stage.ref] = statuses[stage.parent.ref] if stage.parent else base
        return statuses

    def _failure(self) -> dict:
        failed = [v for v in self.vertices.values() if v.error]
        # The first error is the cause; later ones are often cancellations it triggered.
        vertex = next(
            (v for v in failed if "canceled" not in v.error), failed[0] if failed else None
        )
        located = self._located_line()
        if vertex is None:
            return self._refusal(located)
        where = self.locate(vertex)
        stage, instruction = where if where else (None, None)
        at_line = self.dockerfile.at_line(located)
        if at_line is not None:  # buildx names the failing step's line: a repeated stage
            stage, instruction = at_line  # name or step text cannot mislead it
        code = _EXIT_CODE.search(vertex.error)
        tail_lines = "".join(vertex.logs).splitlines()[-LOG_TAIL_LINES:] or [vertex.error]
        reason = explain_missing_image(vertex.error, vertex.name)
        if code is None and instruction is not None:  # an image not found: a stage meant?
            explained = self.dockerfile.explain(
                vertex.error, instruction.line, "buildkit", self.target_ref, self.build_args
            )
            reason = explained.reason if explained.advised else reason
        return {
            "stage": stage.ref if stage else None,
            "instruction": str(instruction) if instruction else vertex.name,
            "line": instruction.line if instruction else None,
            "exit_code": int(code.group(1)) if code else None,
            "log_tail": "\n".join(tail_lines),
            "reason": reason,
        }

    def _refusal(self, located: int | None) -> dict:
        """BuildKit refused the file before running a step: explain its sentence and line."""
        lines = [line for line in reversed(self.other_lines) if line.strip()]
        fallback = lines[0] if lines else "buildx exited with an error"
        message = next((x for x in lines if x.startswith("ERROR")), fallback)
        explained = self.dockerfile.explain(
            message, located, "buildkit", self.target_ref, self.build_args
        )
        return {
            "stage": explained.stage,
            "instruction": explained.instruction,
            "line": explained.line,
            "exit_code": None,
            "log_tail": "\n".join(self.other_lines[-LOG_TAIL_LINES:]),
            "reason": explained.reason if explained.advised else explain_missing_image(message),
        }

    def _located_line(self) -> int | None:
        """The line buildx's error summary names ("Dockerfile:12"), if it names one."""
        for line in self.other_lines:
            match = _LOCATED.match(line.strip())
            if match:
                return int(match.group(1))
        return None


def read_rawjson(
    lines: Iterable[str],
    dockerfile: Dockerfile,
    *,
    build_args: dict[str, str] | None = None,
    target_ref: str | None = None,
    failed: bool | None = None,
) -> StreamOutcome:
    """Read a whole captured `--progress=rawjson` stream into its outcome.

    `failed` says whether buildx exited non-zero; None infers it from a step's error.
    """
    reader = RawJsonReader(dockerfile, build_args=build_args, target_ref=target_ref)
    for line in lines:
        reader.feed(line)
    if failed is None:
        failed = any(v.error for v in reader.vertices.values())
    return reader.outcome(failed)
