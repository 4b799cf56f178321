"""Run real builds (BuildKit through buildx, or the classic builder) and report every stage."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import engine, images
from .dockerfile import BUILDERS, Dockerfile, Instruction, Stage, parse_dockerfile
from .errors import BuildFailed, DockerfileError, StagelabError

LOG_TAIL_LINES = 12


@dataclass
class Step:
    """One instruction the engine ran: its stage, line, status and timing."""

    stage: str | None
    instruction: str
    line: int | None
    status: str  # "built", "cached" or "failed"
    seconds: float
    start: float = 0.0  # seconds after the build started

    @property
    def end(self) -> float:
        return self.start + self.seconds


@dataclass(repr=False)
class BuildResult:
    """What a real build did, stage by stage, read from the engine's own progress."""

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

    def stages_with(self, status: str) -> list[str]:
        """Return the refs of the stages with this status, in Dockerfile order."""
        return [ref for ref, state in self.stage_status.items() if state == status]

    @property
    def built(self) -> list[str]:
        return self.stages_with("built")

    @property
    def cached(self) -> list[str]:
        return self.stages_with("cached")

    @property
    def skipped(self) -> list[str]:
        return self.stages_with("skipped")

    @property
    def ran(self) -> list[str]:
        """Return the stages the engine built or took from its cache."""
        return [ref for ref, state in self.stage_status.items() if state != "skipped"]

    @property
    def size_mb(self) -> float | None:
        return None if self.size_bytes is None else self.size_bytes / 1e6

    def __repr__(self) -> str:
        statuses = ", ".join(f"{ref}={state}" for ref, state in self.stage_status.items())
        size = f"{self.size_mb:.1f} MB" if self.size_bytes is not None else "no image"
        image = (self.image_id or "")[7:19] or "-"
        replay = " replayed" if self.replayed else ""
        return (f"<BuildResult{replay} {self.builder} target={self.target or 'last stage'} "
                f"image={image} {size} {self.duration_s:.1f}s stages: {statuses}>")

    def _repr_html_(self) -> str:
        from . import display

        return display.summary_html(self)

    def graph(self):
        """Draw the stage graph coloured by what this build did."""
        from . import display

        return display.graph(self.dockerfile, target=self.target, result=self)


class Progress:
    """Receives a build's events; the display module draws them. This one ignores them."""

    def start(self, dockerfile: Dockerfile, builder: str, target: str | None) -> None:
        pass

    def stage(self, ref: str, state: str, step: str = "") -> None:
        pass

    def finish(self, result: BuildResult | None, error: Exception | None = None) -> None:
        pass


def build(context: str | os.PathLike, *, dockerfile: str | None = None,
          target: str | None = None, builder: str = "buildkit",
          build_args: dict[str, str] | None = None, tag: str | None = None,
          no_cache: bool = False, files: dict[str, str] | None = None,
          output: str | os.PathLike | None = None,
          progress: Progress | bool | None = None) -> BuildResult:
    """Build a directory or Dockerfile text on the real engine and report each stage."""
    if builder not in BUILDERS:
        raise ValueError(f"builder must be one of {BUILDERS}, not {builder!r}")
    if output is not None and builder == "classic":
        raise StagelabError("output= (--output) needs BuildKit: the classic builder can only "
                            "make an image. Use builder=\"buildkit\".")
    build_args = {k: str(v) for k, v in (build_args or {}).items()}
    with _context(context, dockerfile, files) as (context_dir, dockerfile_path):
        text = dockerfile_path.read_text()
        parsed = parse_dockerfile(text)
        target_ref = _check_target(parsed, target)
        request = BuildRequest(parsed, context_dir, dockerfile_path, target, target_ref,
                               builder, build_args, tag, no_cache,
                               str(output) if output is not None else None)
        from . import replay

        if not engine.answers():
            return replay.replay(request, _progress(progress))
        request.substitutions = images.substitutions(parsed.images(build_args))
        runner = _run_buildkit if builder == "buildkit" else _run_classic
        watcher = _progress(progress)
        watcher.start(parsed, builder, target_ref)
        try:
            result = runner(request, watcher)
        except BaseException as error:
            watcher.finish(None, error)
            if isinstance(error, BuildFailed):
                replay.record(request, error)
            raise
        watcher.finish(result)
        replay.record(request, result)
        return result


@dataclass
class BuildRequest:
    """Everything that decides a build's outcome."""

    dockerfile: Dockerfile
    context_dir: Path
    dockerfile_path: Path
    target: str | None
    target_ref: str | None
    builder: str
    build_args: dict[str, str]
    tag: str | None
    no_cache: bool
    output: str | None
    substitutions: dict[str, str] = field(default_factory=dict)

    def result(self, **fields) -> BuildResult:
        return BuildResult(builder=self.builder, target=self.target_ref,
                           dockerfile=self.dockerfile, build_args=self.build_args,
                           tag=self.tag, output=self.output,
                           substitutions=dict(self.substitutions), **fields)


def _progress(progress: Progress | bool | None) -> Progress:
    if isinstance(progress, Progress):
        return progress
    if progress is False:
        return Progress()
    from . import display

    return display.auto_progress()


@contextmanager
def _context(context, dockerfile, files):
    as_path = Path(context) if isinstance(context, (str, os.PathLike)) else None
    is_dir = as_path is not None and "\n" not in str(context) and as_path.is_dir()
    if is_dir:
        if files:
            raise ValueError("files= goes with Dockerfile text, not with a context directory")
        path = as_path / (dockerfile or "Dockerfile")
        if not path.exists():
            raise DockerfileError(f"no Dockerfile at {path}")
        yield as_path.resolve(), path.resolve()
        return
    if dockerfile is not None:
        raise ValueError("dockerfile= names a file inside a context directory; "
                         "Dockerfile text needs none")
    with tempfile.TemporaryDirectory(prefix="stagelab-context-") as tmp:
        root = Path(tmp)
        (root / "Dockerfile").write_text(str(context))
        for name, content in (files or {}).items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        yield root, root / "Dockerfile"


def _check_target(parsed: Dockerfile, target: str | None) -> str | None:
    if target is None:
        return None
    stage = parsed.stage(target)
    if stage.name is None:
        raise DockerfileError(f"--target needs a stage name, and stage {stage.index} has none: "
                              f"add `AS name` to its FROM", line=stage.lines[0])
    return stage.ref


# ---------------------------------------------------------------- BuildKit

# "[build 2/3] RUN make"; a single-stage Dockerfile's steps carry no stage name: "[2/2] RUN make".
_VERTEX_NAME = re.compile(r"^\[(?:(?P<stage>[^\s\]]+) )?(?P<step>\d+)/(?P<total>\d+)\] (?P<text>.*)$",
                          re.DOTALL)
_EXIT_CODE = re.compile(r"exit code: (\d+)")


def buildx_command(request: BuildRequest, iidfile: Path | None) -> list[str]:
    """Return the `docker buildx build` command line for this request."""
    command = ["docker", "buildx", "build", "--progress=rawjson",
               "-f", str(request.dockerfile_path)]
    if request.target:
        command += ["--target", request.target]
    for key, value in request.build_args.items():
        command += ["--build-arg", f"{key}={value}"]
    for official, standin in request.substitutions.items():
        command += ["--build-context", f"{official}=docker-image://{standin}"]
    if request.no_cache:
        command.append("--no-cache")
    if request.output:
        output = request.output
        command += ["--output", output if "=" in output else f"type=local,dest={output}"]
    else:
        for key, value in images.labels("build").items():
            command += ["--label", f"{key}={value}"]
        if request.tag:
            command += ["-t", request.tag]
        command += ["--iidfile", str(iidfile)]
    return command + [str(request.context_dir)]


@dataclass
class _Vertex:
    digest: str
    name: str
    started: datetime | None = None
    completed: datetime | None = None
    cached: bool = False
    error: str = ""
    logs: list[str] = field(default_factory=list)


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    # Go prints nanoseconds; Python parses microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    return datetime.fromisoformat(text)


class RawJsonReader:
    """Fold `--progress=rawjson` lines into vertices, telling the watcher as stages change."""

    def __init__(self, dockerfile: Dockerfile, watcher: Progress):
        self.dockerfile = dockerfile
        self.watcher = watcher
        self.vertices: dict[str, _Vertex] = {}
        self.order: list[str] = []
        self.other_lines: list[str] = []

    def feed(self, line: str) -> None:
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            if line.strip():
                self.other_lines.append(line.rstrip())
            return
        for raw in message.get("vertexes") or []:
            vertex = self.vertices.get(raw["digest"])
            if vertex is None:
                vertex = self.vertices[raw["digest"]] = _Vertex(raw["digest"], raw.get("name", ""))
                self.order.append(raw["digest"])
            vertex.started = _time(raw.get("started")) or vertex.started
            vertex.completed = _time(raw.get("completed")) or vertex.completed
            vertex.cached = vertex.cached or bool(raw.get("cached"))
            vertex.error = raw.get("error") or vertex.error
            self._tell(vertex)
        for log in message.get("logs") or []:
            vertex = self.vertices.get(log.get("vertex"))
            if vertex is not None and log.get("data"):
                vertex.logs.append(base64.b64decode(log["data"]).decode("utf-8", "replace"))

    def _tell(self, vertex: _Vertex) -> None:
        where = self.locate(vertex)
        if where is None:
            return
        stage, _ = where
        if vertex.error:
            state = "failed"
        elif vertex.completed:
            state = "cached" if vertex.cached else "done"
        elif vertex.started:
            state = "running"
        else:
            state = "waiting"  # BuildKit lists every step of the graph before it runs it
        self.watcher.stage(stage.ref, state, vertex.name)

    def locate(self, vertex: _Vertex) -> tuple[Stage, Instruction | None] | None:
        """Return the stage and instruction a vertex belongs to, from its name."""
        match = _VERTEX_NAME.match(vertex.name)
        if not match:
            return None
        stage = _stage_by_progress_name(self.dockerfile.stages, match["stage"])
        if stage is None:
            return None
        return stage, _instruction_for(stage, match["text"], int(match["step"]))

    def log_text(self) -> str:
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


def _stage_by_progress_name(stages: list[Stage], name: str | None) -> Stage | None:
    if name is None:
        return stages[0] if len(stages) == 1 else None
    for stage in stages:
        if stage.ref == name.lower():
            return stage
    match = re.fullmatch(r"stage-(\d+)", name)
    if match and int(match.group(1)) < len(stages):
        return stages[int(match.group(1))]
    return None


def _squash(text: str) -> str:
    return " ".join(text.split())


def _instruction_for(stage: Stage, text: str, number: int) -> Instruction | None:
    keyword = text.split(" ", 1)[0].upper()
    same_kind = [ins for ins in stage.instructions if ins.keyword == keyword]
    for ins in same_kind:
        if _squash(ins.original) == _squash(text):
            return ins
    # The step number counts FROM, except when a named context replaced the base.
    for index in (number - 1, number):
        if index < len(stage.instructions) and stage.instructions[index].keyword == keyword:
            return stage.instructions[index]
    return same_kind[0] if len(same_kind) == 1 else None


def _run_buildkit(request: BuildRequest, watcher: Progress) -> BuildResult:
    with tempfile.TemporaryDirectory(prefix="stagelab-build-") as tmp:
        iidfile = Path(tmp) / "iid"
        command = buildx_command(request, iidfile)
        reader = RawJsonReader(request.dockerfile, watcher)
        began = time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True, start_new_session=True)
        with _stopped_on_interrupt(process):
            for line in process.stderr:
                reader.feed(line)
            process.wait()
        duration = time.monotonic() - began
        image_id = iidfile.read_text().strip() if iidfile.exists() else None
    steps, stage_status = _buildkit_outcome(reader, request)
    log = reader.log_text()
    if process.returncode != 0:
        raise _buildkit_failure(reader, request, command, log, steps, stage_status, duration)
    return request.result(stage_status=stage_status, steps=steps, image_id=image_id,
                          size_bytes=_size(image_id), duration_s=duration, log=log)


@contextmanager
def _stopped_on_interrupt(process: subprocess.Popen):
    """On Ctrl-C or Jupyter's stop button, stop the engine's work before re-raising."""
    try:
        yield
    except BaseException:
        if process.poll() is None:
            # SIGINT makes buildx cancel the solve in BuildKit, which stops its containers.
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        raise


def _buildkit_outcome(reader: RawJsonReader, request: BuildRequest):
    if not reader.vertices:
        return [], {s.ref: "skipped" for s in request.dockerfile.stages}
    first = min((v.started for v in reader.vertices.values() if v.started), default=None)
    steps: list[Step] = []
    seen: dict[str, list[_Vertex]] = {}
    for digest in reader.order:
        vertex = reader.vertices[digest]
        where = reader.locate(vertex)
        if where is None:
            continue
        if not (vertex.started or vertex.cached) or "canceled" in vertex.error:
            continue  # never ran, or stopped because another step failed
        stage, instruction = where
        seen.setdefault(stage.ref, []).append(vertex)
        status = "failed" if vertex.error else "cached" if vertex.cached else "built"
        start = (vertex.started - first).total_seconds() if vertex.started and first else 0.0
        end = vertex.completed or vertex.started
        seconds = (end - vertex.started).total_seconds() if end and vertex.started else 0.0
        text = _VERTEX_NAME.match(vertex.name)["text"]
        steps.append(Step(stage.ref, text, instruction.line if instruction else None, status,
                          round(max(seconds, 0.0), 3), round(max(start, 0.0), 3)))
    statuses = {}
    for stage in request.dockerfile.stages:
        vertices = seen.get(stage.ref, [])
        if any(v.error for v in vertices):
            statuses[stage.ref] = "failed"
        elif vertices:
            own = [v for v in vertices if not _VERTEX_NAME.match(v.name)["text"].startswith("FROM")]
            statuses[stage.ref] = ("cached" if all(v.cached for v in (own or vertices))
                                   else "built")
        else:
            statuses[stage.ref] = "skipped"
    # A base image loads as "[context NAME] IMAGE" or as a FROM step; BuildKit marks the
    # load cached when the image is used as it is, as it is for a stage of metadata only.
    loads = [v for v in reader.vertices.values() if "load metadata" not in v.name and
             (v.name.startswith("[context ") or " FROM " in f" {v.name}")]
    base_cached = bool(loads) and all(v.cached for v in loads)
    return steps, _fill_empty_stages(request, statuses, base_cached)


# Only these instructions give BuildKit a step to print; the others only change metadata.
_FILESYSTEM_STEPS = {"RUN", "COPY", "ADD", "WORKDIR"}


def _fill_empty_stages(request: BuildRequest, statuses: dict[str, str],
                       base_cached: bool) -> dict[str, str]:
    """Give a stage with no step of its own the status of what it starts from.

    BuildKit prints nothing for a stage that is only FROM plus metadata (CMD, ENV, ...); it
    ran when it is the target of a build that produced an image, or when a stage that ran
    starts from it or copies from it.
    """
    stages = request.dockerfile.resolve(request.build_args)
    by_ref = {stage.ref: stage for stage in stages}
    silent = {stage.ref for stage in stages if statuses[stage.ref] == "skipped"
              and not any(s.keyword in _FILESYSTEM_STEPS for s in stage.steps)}
    goal = request.target_ref or stages[-1].ref
    ran = {ref for ref, status in statuses.items() if status != "skipped"}
    if goal in silent and not any(s == "failed" for s in statuses.values()):
        ran.add(goal)
    pending = list(ran)
    while pending:
        stage = by_ref[pending.pop()]
        deps = ([stage.parent.ref] if stage.parent else []) + stage.sources
        for dep in deps:
            if dep in silent and dep not in ran:
                ran.add(dep)
                pending.append(dep)
    for stage in stages:  # parents come first, so their status is known
        if stage.ref in silent and stage.ref in ran:
            base = statuses[stage.parent.ref] if stage.parent else \
                "cached" if base_cached else "built"
            statuses[stage.ref] = base
    return statuses


def _buildkit_failure(reader, request, command, log, steps, stage_status, duration):
    failed = [v for v in reader.vertices.values() if v.error]
    # The first error is the cause; later ones are often cancellations it triggered.
    vertex = next((v for v in failed if "canceled" not in v.error), failed[0] if failed else None)
    result = request.result(stage_status=stage_status, steps=steps, image_id=None,
                            size_bytes=None, duration_s=duration, log=log)
    if vertex is None:
        reason = next((line for line in reversed(reader.other_lines) if line.strip()),
                      "buildx exited with an error")
        return BuildFailed(stage=None, instruction=None, line=None, exit_code=None,
                           log_tail="\n".join(reader.other_lines[-LOG_TAIL_LINES:]),
                           reason=_explain(reason), command=command, log=log, result=result)
    where = reader.locate(vertex)
    stage, instruction = where if where else (None, None)
    code = _EXIT_CODE.search(vertex.error)
    tail_lines = "".join(vertex.logs).splitlines()[-LOG_TAIL_LINES:] or [vertex.error]
    return BuildFailed(stage=stage.ref if stage else None,
                       instruction=str(instruction) if instruction else vertex.name,
                       line=instruction.line if instruction else None,
                       exit_code=int(code.group(1)) if code else None,
                       log_tail="\n".join(tail_lines), reason=_explain(vertex.error, vertex.name),
                       command=command, log=log, result=result)


def _explain(reason: str, where: str = "") -> str:
    if not any(w in reason for w in ("pull access denied", "no such host", "failed to resolve")):
        return reason.strip()
    last = reason.strip().splitlines()[-1]
    named = re.search(r"metadata for (?:docker\.io/library/)?([\w./-]+:[\w.-]+)",
                      f"{where}\n{reason}")
    image = images.normalise(named.group(1)) if named else None
    if image in images.BY_OFFICIAL:
        return (f"{last}\n  {image} is not on this engine and no registry answers: "
                "run `stagelab images ensure`.")
    names = ", ".join(images.BY_OFFICIAL)
    return (f"{last}\n  {image or 'An image'} is not on this engine and no registry answers: "
            f"use one of the base images ({names}), or `docker load` it first.")


# ---------------------------------------------------------------- classic builder

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CLASSIC_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$", re.DOTALL)


def classic_dockerfile(request: BuildRequest) -> str:
    """Return the Dockerfile for the classic builder: stand-ins in, every stage labelled.

    The classic builder keeps an image of every stage but labels only the last one, so a
    LABEL closes each stage to make all of them stagelab's (and `stagelab clean`'s).
    """
    lines = request.dockerfile.text.splitlines(keepends=True)
    stages = request.dockerfile.resolve(request.build_args)
    for stage in stages:
        if stage.parent is None and stage.base in request.substitutions:
            number = stage.lines[0] - 1
            lines[number] = lines[number].replace(stage.written_base,
                                                  request.substitutions[stage.base], 1)
        for ins in stage.steps:
            for official, standin in request.substitutions.items():
                for flag in (f"--from={official}", f"from={official}"):
                    number = ins.line - 1
                    lines[number] = lines[number].replace(flag, flag.replace(official, standin))
    label = "LABEL " + " ".join(f'"{key}"="{value}"'
                                for key, value in images.labels("build").items()) + "\n"
    for stage in reversed(stages):
        last = stage.lines[1] - 1
        if not lines[last].endswith("\n"):
            lines[last] += "\n"
        lines.insert(last + 1, label)
    return "".join(lines)


def _classic_steps(request: BuildRequest) -> list[Instruction | None]:
    """Return what each classic `Step N` runs: an instruction, or None for an added LABEL."""
    stages = request.dockerfile.stages
    if request.target_ref is not None:
        stages = stages[:request.dockerfile.stage(request.target_ref).index + 1]
    sequence: list[Instruction | None] = [ins for ins in request.dockerfile.instructions
                                          if ins.line < stages[0].lines[0]]
    for stage in stages:
        sequence += [*stage.instructions, None]
    return sequence


def _run_classic(request: BuildRequest, watcher: Progress) -> BuildResult:
    client = engine.client()
    sequence = _classic_steps(request)
    stage_of_line = {ins.line: stage for stage in request.dockerfile.stages
                     for ins in stage.instructions}
    with tempfile.TemporaryDirectory(prefix="stagelab-classic-") as tmp:
        dockerfile = Path(tmp) / "Dockerfile"
        dockerfile.write_text(classic_dockerfile(request))
        kwargs = dict(path=str(request.context_dir), dockerfile=str(dockerfile),
                      target=request.target, buildargs=request.build_args or None,
                      tag=request.tag, nocache=request.no_cache, rm=True, forcerm=True,
                      decode=True)
        log: list[str] = []
        steps: list[Step] = []
        current: dict | None = None
        image_id = None
        error = None
        began = time.monotonic()
        stream = client.api.build(**kwargs)
        try:
            for chunk in stream:
                if "stream" in chunk:
                    text = _ANSI.sub("", chunk["stream"])
                    log.append(text)
                    match = _CLASSIC_STEP.match(text.strip())
                    if match:
                        _close_classic_step(current, steps, began, watcher)
                        number = int(match.group(1))
                        ins = sequence[number - 1] if number <= len(sequence) else None
                        if ins is None:
                            current = None  # a LABEL classic_dockerfile() added
                            continue
                        current = {"ins": ins, "stage": stage_of_line.get(ins.line),
                                   "start": time.monotonic(), "cached": False}
                        if current["stage"]:
                            watcher.stage(current["stage"].ref, "running", str(ins))
                    elif current and "Using cache" in text:
                        current["cached"] = True
                elif "aux" in chunk and "ID" in chunk["aux"]:
                    image_id = chunk["aux"]["ID"]
                elif "error" in chunk:
                    error = chunk
                    log.append(chunk["error"] + "\n")
        except BaseException:
            # Closing the stream cancels the classic build; forcerm removes its container.
            stream.close() if hasattr(stream, "close") else None
            raise
        duration = time.monotonic() - began
    text_log = "".join(log)
    if error is not None:
        failed = current["ins"] if current else None
        failed_stage = current["stage"] if current else None
        if current and current["stage"]:
            watcher.stage(current["stage"].ref, "failed", str(failed))
        steps.append(Step(failed_stage.ref if failed_stage else None, str(failed or ""),
                          failed.line if failed else None, "failed",
                          round(time.monotonic() - current["start"], 3) if current else 0.0,
                          round(current["start"] - began, 3) if current else 0.0))
        statuses = _classic_statuses(request, steps)
        detail = error.get("errorDetail") or {}
        code = detail.get("code")
        output = text_log.splitlines()
        run_output = [line for line in output[:-1] if line.strip() and
                      not line.startswith((" ---> ", "Step ", "Removing intermediate"))]
        tail = run_output[-LOG_TAIL_LINES:] + [_ANSI.sub("", error["error"]).strip()]
        raise BuildFailed(stage=failed_stage.ref if failed_stage else None,
                          instruction=str(failed) if failed else None,
                          line=failed.line if failed else None, exit_code=code,
                          log_tail="\n".join(tail),
                          reason=_explain(error["error"], f"metadata for {failed.value[0]}"
                                          if failed and failed.keyword == "FROM" else ""),
                          command=["docker", "build (classic builder)"], log=text_log,
                          result=request.result(stage_status=statuses, steps=steps,
                                                image_id=None, size_bytes=None,
                                                duration_s=duration, log=text_log))
    _close_classic_step(current, steps, began, watcher)
    return request.result(stage_status=_classic_statuses(request, steps), steps=steps,
                          image_id=image_id, size_bytes=_size(image_id), duration_s=duration,
                          log=text_log)


def _close_classic_step(current, steps, began, watcher) -> None:
    if current is None or current["stage"] is None:
        return
    ins = current["ins"]
    is_from = ins.keyword == "FROM"
    status = "cached" if current["cached"] or is_from else "built"
    now = time.monotonic()
    steps.append(Step(current["stage"].ref, str(ins), ins.line, status,
                      round(now - current["start"], 3), round(current["start"] - began, 3)))
    watcher.stage(current["stage"].ref, "cached" if status == "cached" else "done", str(ins))


def _classic_statuses(request: BuildRequest, steps: list[Step]) -> dict[str, str]:
    statuses = {}
    for stage in request.dockerfile.stages:
        mine = [s for s in steps if s.stage == stage.ref]
        if not mine:
            statuses[stage.ref] = "skipped"
        elif any(s.status == "failed" for s in mine):
            statuses[stage.ref] = "failed"
        elif any(s.status == "built" for s in mine):
            statuses[stage.ref] = "built"
        else:
            statuses[stage.ref] = "cached"
    return statuses


def _size(image_id: str | None) -> int | None:
    if not image_id:
        return None
    return engine.client().api.inspect_image(image_id)["Size"]
