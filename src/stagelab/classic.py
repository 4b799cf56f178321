"""Classic-builder builds through the engine's API: a pure reader of its `Step N/M` stream,
and a thin runner that feeds it."""

from __future__ import annotations

import io
import re
import tarfile
import tempfile
import time
from pathlib import Path
from typing import IO

from . import engine
from .cleanup import remember
from .command_lines import classic_build_command
from .context import BuildRequest
from .dockerfile import Instruction, Stage
from .dockerfile.refusals import engine_sentence
from .dockerfile.rules import onbuilds
from .errors import BuildFailed
from .images import by_name_only, explain_missing_image, labels, size_of
from .progress import Progress
from .results import LOG_TAIL_LINES, BuildResult, Step, StreamOutcome, stage_statuses
from .why.contextfiles import DOCKERIGNORE, BuildContext

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CLASSIC_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$", re.DOTALL)
# " ---> 1d30814da8c9": the image a step made (or took from the cache, or the base image).
_STEP_IMAGE = re.compile(r"^ ---> ([0-9a-f]{12})$")
# The rewritten Dockerfile goes into the context under this fixed name, with a .dockerignore that
# names it, so the engine leaves both out of what COPY sees (moby/moby builder/remotecontext
# `removeDockerfile`). docker-py names a Dockerfile from outside the context `.dockerfile.<random>`
# and writes that name into the .dockerignore it sends: with a .dockerignore of the learner's own,
# that file then changed every build, and a `COPY . .` never came from the cache.
CLASSIC_DOCKERFILE = ".stagelab.Dockerfile"


def classic_dockerfile(request: BuildRequest) -> str:
    """Return the Dockerfile for the classic builder, with stand-ins in.

    The classic builder has no named contexts, so a stand-in replaces an official name in
    FROM, COPY --from and RUN --mount from= (never a stage name); `FROM 1` in full (by_name_only).
    """
    lines = request.dockerfile.text.splitlines(keepends=True)
    for stage in request.dockerfile.resolve(request.build_args, "classic"):
        base = request.substitutions.get(stage.base) or by_name_only(stage.base)
        if stage.parent is None and base != stage.base:
            number = stage.lines[0] - 1
            lines[number] = lines[number].replace(stage.written_base, base, 1)
        for ins in stage.steps:
            for official, standin in request.substitutions.items():
                for flag in (f"--from={official}", f"from={official}"):
                    number = ins.line - 1
                    lines[number] = lines[number].replace(flag, flag.replace(official, standin))
    return "".join(lines)


def classic_build_options(request: BuildRequest, context: IO[bytes] | None) -> dict:
    """Return the engine API's build options (docker SDK `api.build`) for this request, whose
    context is the tar `classic_context` wrote to `context`.

    stagelab's labels go through the API's label option, never into the Dockerfile text: the
    engine adds them to the final image as one more step, with its own quoting.
    """
    return dict(
        fileobj=context,
        custom_context=True,
        dockerfile=CLASSIC_DOCKERFILE,
        target=request.target,
        buildargs=request.build_args or None,
        tag=request.tag,
        nocache=request.no_cache,
        labels=labels("build"),
        rm=True,
        forcerm=True,
        decode=True,
    )


def classic_command(request: BuildRequest, dockerfile: Path) -> list[str]:
    """Return the `DOCKER_BUILDKIT=0 docker build ...` command that does what the API call of
    classic_build_options does. It names the Dockerfile the build read: the request's own, or
    where stand-ins replaced names in it, the rewritten copy `dockerfile`."""
    rewritten = dockerfile.read_text() != request.dockerfile.text
    options = classic_build_options(request, None)
    return classic_build_command(
        request.context_dir,
        file=dockerfile if rewritten else request.dockerfile_path,
        target=options["target"],
        build_args=options["buildargs"],
        no_cache=options["nocache"],
        labels=options["labels"],
        tags=options["tag"] or (),
        force_rm=options["forcerm"],
    )


def classic_context(request: BuildRequest, into: IO[bytes]) -> None:
    """Write the build context the engine gets as a tar: the context's files that .dockerignore
    keeps (why.contextfiles reads it as the engine would), the Dockerfile with stand-ins in
    (CLASSIC_DOCKERFILE) and a .dockerignore that names it."""
    root = request.context_dir
    context = BuildContext(root)
    ignore = root / DOCKERIGNORE
    lines = ignore.read_text(errors="replace").splitlines() if ignore.is_file() else [DOCKERIGNORE]
    with tarfile.open(fileobj=into, mode="w") as archive:
        for path in context.paths:
            if path == DOCKERIGNORE:
                continue
            info = archive.gettarinfo(root / path, arcname=path)
            if info is None:  # a socket or a device: nothing a build can copy
                continue
            # Owned by root, as the docker CLI sends a context (ChownOpts 0:0).
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isfile():
                with (root / path).open("rb") as data:
                    archive.addfile(info, data)
            else:
                archive.addfile(info)
        for name, text in (
            (DOCKERIGNORE, "\n".join(lines + [CLASSIC_DOCKERFILE]) + "\n"),
            (CLASSIC_DOCKERFILE, classic_dockerfile(request)),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            archive.addfile(info, io.BytesIO(data))
    into.seek(0)


def classic_steps(request: BuildRequest) -> list[Instruction]:
    """Return what each classic `Step N` runs: the instructions up to the target's stage.

    A Step past these is the LABEL step the engine adds for the build's labels.
    """
    stages = request.dockerfile.stages
    if request.target_ref is not None:
        stages = stages[: request.dockerfile.stage(request.target_ref).index + 1]
    sequence = [ins for ins in request.dockerfile.instructions if ins.line < stages[0].lines[0]]
    for stage in stages:
        sequence += stage.instructions
    return sequence


class ClassicReader:
    """Fold the classic builder's JSON messages into steps, telling a watcher as stages change.

    `feed(chunk, at)` takes one decoded message and when it arrived (seconds after the build
    started: the classic stream carries no times of its own); `outcome(at)` reads the result.
    Nothing here talks to the engine: tests feed it streams captured from real builds.
    """

    def __init__(self, request: BuildRequest, watcher: Progress | None = None):
        self.request = request
        self.watcher = watcher or Progress()
        self.sequence = classic_steps(request)
        self.stage_of_line: dict[int, Stage] = {
            ins.line: stage for stage in request.dockerfile.stages for ins in stage.instructions
        }
        self.log: list[str] = []
        self.steps: list[Step] = []
        self.current: dict | None = None
        self.image_id: str | None = None
        self.error: dict | None = None
        self.finished = False
        # Images this build made (not taken from the cache or a base): `stagelab clean`'s.
        self.made: list[str] = []
        self.step_reused = False

    def feed(self, chunk: dict, at: float) -> None:
        """Take one message of the stream, received `at` seconds after the build started."""
        if "stream" in chunk:
            text = _ANSI.sub("", chunk["stream"])
            self.log.append(text)
            match = _CLASSIC_STEP.match(text.strip())
            image = _STEP_IMAGE.match(text.rstrip("\n"))
            if match:
                self._close_step(at)
                number = int(match.group(1))
                ins = self.sequence[number - 1] if number <= len(self.sequence) else None
                self.step_reused = ins is not None and ins.keyword == "FROM"
                # None: the LABEL step the engine adds for the build's labels.
                self.current = (
                    None
                    if ins is None
                    else {
                        "ins": ins,
                        "stage": self.stage_of_line.get(ins.line),
                        "start": at,
                        "cached": False,
                    }
                )
                if self.current and self.current["stage"]:
                    self.watcher.stage(self.current["stage"].ref, "running", str(ins))
            elif text.startswith("# Executing ") and self.current:
                # A FROM runs its parent's ONBUILD triggers: each prints "Using cache" or runs;
                # only the last one's image shows (moby/moby builder/dockerfile/dispatchers.go).
                self.current["triggers cached"] = 0
                self.step_reused = False
            elif "Using cache" in text:
                self.step_reused = True
                if self.current:
                    self.current["cached"] = True
                    if "triggers cached" in self.current:  # reused only if every trigger is
                        self.current["triggers cached"] += 1
                        triggers = onbuilds(self.current["stage"].parent)
                        self.step_reused = self.current["triggers cached"] == len(triggers)
            elif image:
                if self.current is not None:
                    # The step's image: the one it made, took from the cache, or its base.
                    self.current["image"] = image.group(1)
                if not self.step_reused:
                    self.made.append(image.group(1))
            elif text.startswith("Successfully built "):
                self.finished = True
        elif "aux" in chunk and "ID" in chunk["aux"]:
            self.image_id = chunk["aux"]["ID"]
        elif "error" in chunk:
            self.error = chunk
            self.log.append(chunk["error"] + "\n")

    def _close_step(self, at: float) -> None:
        current = self.current
        if current is None or current["stage"] is None:
            return
        ins, ref, done = current["ins"], current["stage"].ref, current.get("triggers cached")
        status = "cached" if current["cached"] or ins.keyword == "FROM" else "built"
        steps = [(ins, status, current.get("image"))]
        if done is not None:  # the FROM, then each ONBUILD trigger as a step of its own
            steps = [(ins, "cached", None)] + [
                (onbuild, "cached" if number < done else "built", None)
                for number, onbuild in enumerate(onbuilds(current["stage"].parent))
            ]
            steps[-1] = (*steps[-1][:2], current.get("image"))
        seconds, start = round(at - current["start"], 3), round(current["start"], 3)
        for made, state, image in steps:
            self.steps.append(Step(ref, str(made), made.line, state, seconds, start, image=image))
        built = any(state == "built" for _, state, _ in steps)
        self.watcher.stage(ref, "done" if built else "cached", str(ins))

    def outcome(self, at: float) -> StreamOutcome:
        """Return the outcome once the stream ended, `at` seconds after the build started."""
        text_log = "".join(self.log)
        if self.error is None and self.finished:
            self._close_step(at)
            return StreamOutcome(
                self.steps, stage_statuses(self.request.dockerfile, self.steps), text_log
            )
        if self.error is None:  # the stream stopped short: the build was interrupted
            self.feed({"error": "the build stopped before it finished: it was interrupted"}, at)
            text_log = "".join(self.log)
        current = self.current
        failed = current["ins"] if current else None
        failed_stage = current["stage"] if current else None
        if failed_stage:
            self.watcher.stage(failed_stage.ref, "failed", str(failed))
        self.steps.append(
            Step(
                failed_stage.ref if failed_stage else None,
                str(failed or ""),
                failed.line if failed else None,
                "failed",
                round(at - current["start"], 3) if current else 0.0,
                round(current["start"], 3) if current else 0.0,
            )
        )
        output = text_log.splitlines()
        run_output = [
            line
            for line in output[:-1]
            if line.strip() and not line.startswith((" ---> ", "Step ", "Removing intermediate"))
        ]
        message = _ANSI.sub("", self.error["error"]).strip()
        exit_code = (self.error.get("errorDetail") or {}).get("code")
        explained = None
        if exit_code is None:  # a step the builder refused: the planner may know why
            explained = self.request.dockerfile.explain(
                message,
                failed.line if failed else None,
                "classic",
                self.request.target_ref,
                self.request.build_args,
            )
        if explained is not None and explained.advised and explained.line is not None:
            # The classic builder names no line; its last step printed is not always the one
            # it refused (a repeated stage name is refused at the next FROM).
            where = (explained.stage, explained.instruction, explained.line)
        else:
            where = (
                failed_stage.ref if failed_stage else None,
                str(failed) if failed else None,
                failed.line if failed else None,
            )
        from_image = (
            f"metadata for {failed.value[0]}" if failed and failed.keyword == "FROM" else ""
        )
        failure = {
            "stage": where[0],
            "instruction": where[1],
            "line": where[2],
            "exit_code": exit_code,
            "log_tail": "\n".join(run_output[-LOG_TAIL_LINES:] + [message]),
            "reason": (
                explained.reason
                if explained is not None and explained.advised
                else explain_missing_image(message, from_image)
            ),
        }
        return StreamOutcome(
            self.steps, stage_statuses(self.request.dockerfile, self.steps), text_log, failure
        )


def refused_before_building(
    request: BuildRequest, refusal: str, log: str, duration: float, command: str
) -> BuildFailed:
    """The BuildFailed for a Dockerfile the daemon refused before running a step (its HTTP
    answer to the build request): the line, stage and the daemon's sentence, explained;
    `command` is the build as a command line, `duration` in seconds."""
    explained = request.dockerfile.explain(
        refusal, None, "classic", request.target_ref, request.build_args
    )
    result = request.result(
        stage_status=stage_statuses(request.dockerfile, []),
        steps=[],
        image_id=None,
        size_bytes=None,
        duration_s=duration,
        log=log + refusal + "\n",
    )
    return BuildFailed(
        stage=explained.stage,
        instruction=explained.instruction,
        line=explained.line,
        exit_code=None,
        log_tail=engine_sentence(refusal)[0],
        reason=explained.reason,
        command=command,
        log=result.log,
        result=result,
    )


def run_classic(request: BuildRequest, watcher: Progress) -> BuildResult:
    """Build with the classic builder through the engine's API, feeding a ClassicReader.

    Returns the BuildResult; raises BuildFailed (holding the partial result) on an error.
    Interrupting closes the stream, which cancels the build; its containers are removed.
    """
    client = engine.client()
    reader = ClassicReader(request, watcher)
    with (
        tempfile.TemporaryDirectory(prefix="stagelab-classic-") as tmp,
        tempfile.TemporaryFile(prefix="stagelab-classic-") as context,
    ):
        dockerfile = Path(tmp) / "Dockerfile"
        dockerfile.write_text(classic_dockerfile(request))
        command = classic_command(request, dockerfile)
        watcher.command(command)
        classic_context(request, context)
        began = time.monotonic()
        stream = None
        try:
            stream = client.api.build(**classic_build_options(request, context))
            for chunk in stream:
                reader.feed(chunk, time.monotonic() - began)
        except BaseException as error:
            refusal = engine.daemon_refusal(error)
            if refusal is not None:
                log = "".join(reader.log)
                raise refused_before_building(
                    request, refusal, log, time.monotonic() - began, command
                ) from None
            # Closing the stream cancels the classic build; forcerm removes its container.
            if hasattr(stream, "close"):
                stream.close()
            raise
        finally:
            # Every stage leaves an image, even when a later one fails.
            remember(reader.made, request.tag)
        duration = time.monotonic() - began
    outcome = reader.outcome(duration)
    image_id = reader.image_id if outcome.failure is None else None
    result = request.result(
        stage_status=outcome.stage_status,
        steps=outcome.steps,
        image_id=image_id,
        size_bytes=None,
        duration_s=duration,
        log=outcome.log,
        command=command,
    )
    if outcome.failure is not None:
        raise BuildFailed(**outcome.failure, command=command, log=outcome.log, result=result)
    if image_id:
        result.size_bytes = size_of(image_id)
    return result
