"""Ask BuildKit about a Dockerfile without building it: build checks, targets and outline.

Like builds, these calls are recorded (`make recordings`) and replayed when no engine answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from dataclasses import dataclass

from . import engine, images, replay_calls
from .context import build_request, buildx_command
from .errors import DockerfileError, EngineUnavailable, StagelabError
from .recording import context_files

METHODS = ("check", "targets", "outline")
FORMATS = ("json", "text")
CALL_TIMEOUT_S = 300


@dataclass(frozen=True)
class CheckWarning:
    """One build-check rule a Dockerfile breaks, where (1-based line), and the doc page on it."""

    rule: str
    line: int | None
    detail: str
    description: str
    url: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "Dockerfile"
        return f"{self.rule} ({where}): {self.detail}"


def features() -> dict[str, bool]:
    """Return which BuildKit features this engine and buildx have: {"heredocs",
    "named contexts", "--check", "--call"} -> True when available.

    Each is probed with a tiny real build; with no engine, what was recorded on the engine that
    made the recordings, and all False when nothing was recorded.
    """
    try:
        return replay_calls.recorded_call("buildx features", "engine", {}, engine.probe_features)
    except EngineUnavailable:
        return {name: False for name in engine.FEATURE_PROBES}


def engine_version() -> str:
    """Return the Docker Engine's version, as `docker version` prints it ("28.5.2"); with no
    engine, the version of the engine that made the recordings.

    Raises EngineUnavailable, saying how to get an engine, with no engine and no recording.
    """
    return replay_calls.recorded_call(
        "engine version", "engine", {}, lambda: (engine.ping() or {}).get("Version", "unknown")
    )


def check(
    context: str | os.PathLike,
    *,
    dockerfile: str | None = None,
    files: dict[str, str] | None = None,
    target: str | None = None,
    build_args: dict[str, str] | None = None,
) -> list[CheckWarning]:
    """Run BuildKit's build checks (`--call=check`) and return the warnings, in line order.

    Takes a context folder or Dockerfile text, as `sl.build` does. Raises DockerfileError for
    a Dockerfile BuildKit refuses, StagelabError when buildx cannot run the check, and
    EngineUnavailable with no engine and no recording.
    """
    report = call(
        context, "check", dockerfile=dockerfile, files=files, target=target, build_args=build_args
    )
    warnings = [
        CheckWarning(
            rule=w.get("ruleName", ""),
            line=_first_line(w),
            detail=w.get("detail", ""),
            description=w.get("description", ""),
            url=w.get("url", ""),
        )
        for w in report.get("warnings") or []
    ]
    return sorted(warnings, key=lambda w: (w.line or 0, w.rule))


def call(
    context: str | os.PathLike,
    method: str = "targets",
    *,
    format: str = "json",
    dockerfile: str | None = None,
    files: dict[str, str] | None = None,
    target: str | None = None,
    build_args: dict[str, str] | None = None,
) -> dict | str:
    """Run `docker buildx build --call=METHOD` and return its report.

    `method` is "check", "targets" or "outline"; `format` "json" (a dict) or "text" (buildx's
    own text). Raises ValueError for another method or format, DockerfileError for a Dockerfile
    BuildKit refuses or an unknown target, StagelabError when buildx fails or lacks --call
    (it needs buildx 0.15), EngineUnavailable with no engine and no recording.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {format!r}")
    with build_request(
        context, dockerfile=dockerfile, files=files, target=target, build_args=build_args
    ) as request:

        def ask_engine() -> dict | str:
            # Checks resolve each base image, so offline stand-ins must answer for official names.
            request.substitutions = images.substitutions(
                request.dockerfile.images(request.build_args)
            )
            command = buildx_command(request, call=f"{method},format={format}")
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=CALL_TIMEOUT_S, check=False
            )
            # Name the Dockerfile as the reader knows it, not by its temporary path.
            done.stdout = done.stdout.replace(
                str(request.dockerfile_path), request.dockerfile_path.name
            )
            return call_report(method, format, command, done, syntax_image(request.dockerfile.text))

        arguments = {
            "method": method,
            "format": format,
            "target": target,
            "build_args": dict(sorted(request.build_args.items())),
        }
        return replay_calls.recorded_call(
            f"buildx --call={method}",
            _context_identity(request.dockerfile.text, request.context_dir),
            arguments,
            ask_engine,
            errors=(StagelabError,),
        )


def _context_identity(dockerfile_text: str, context_dir) -> str:
    """Name a Dockerfile and its context's files by their contents, for recordings."""
    contents = {"dockerfile": dockerfile_text, "context": context_files(context_dir)}
    digest = hashlib.sha256(json.dumps(contents, sort_keys=True).encode()).hexdigest()
    return "dockerfile-context:" + digest[:24]


def syntax_image(text: str) -> str | None:
    """Return the frontend image a `# syntax=` parser directive names, or None."""
    for line in text.splitlines():
        match = re.match(r"^\s*#\s*syntax\s*=\s*(\S+)", line, re.IGNORECASE)
        if match:
            return match.group(1)
        if not re.match(r"^\s*#\s*\w+\s*=", line):
            return None
    return None


def call_report(
    method: str,
    format: str,
    command: list[str],
    done: subprocess.CompletedProcess,
    syntax: str | None = None,
) -> dict | str:
    """Turn a finished `--call` run into its report, or raise the error it stands for.

    `syntax` is the frontend image a `# syntax=` line names: when BuildKit cannot fetch it,
    the error says how to check with the built-in frontend instead.
    """
    if (
        syntax
        and done.returncode != 0
        and "resolve source metadata" in done.stderr
        and syntax.split(":")[0].split("@")[0] in done.stderr
    ):
        raise StagelabError(
            f"The `# syntax={syntax}` line asks BuildKit to fetch that frontend "
            "image from a registry, and none answers here. Remove the "
            "`# syntax=` line to check with the Dockerfile frontend built into "
            "BuildKit (it reads the same Dockerfile syntax), or `docker load` "
            f"{syntax} first.",
            command=command,
            exit_code=done.returncode,
            output=done.stderr,
        )
    if "unknown flag: --call" in done.stderr:
        raise StagelabError(
            f"This buildx cannot run `--call={method},format={format}`: "
            "it needs buildx 0.15 or later. Run `stagelab doctor` to see "
            "what the engine supports.",
            command=command,
            exit_code=done.returncode,
            output=done.stderr,
        )
    if format == "text":
        # A check that finds warnings exits 1 yet its report is the answer.
        if done.returncode != 0 and not (method == "check" and "WARNING:" in done.stdout):
            raise _failure(method, command, done, done.stderr or done.stdout)
        return done.stdout.strip("\n")
    try:
        answer = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise _failure(method, command, done, done.stderr or done.stdout) from None
    error = answer.get("buildError")
    if error:
        message = error.get("message", "the engine rejected it")
        raise DockerfileError(images.explain_missing_image(message), line=_first_line(error))
    answer.pop("sources", None)  # the Dockerfile itself, base64: noise for a reader
    return answer


def _failure(
    method: str, command: list[str], done: subprocess.CompletedProcess, text: str
) -> StagelabError:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    reason = next(
        (line for line in lines if line.startswith("ERROR")),
        lines[-1] if lines else f"buildx exited with code {done.returncode}",
    )
    return StagelabError(
        f"`--call={method}` failed: {reason}",
        command=command,
        exit_code=done.returncode,
        output=text,
    )


def _first_line(item: dict) -> int | None:
    ranges = (item.get("location") or {}).get("ranges") or []
    return ranges[0].get("start", {}).get("line") if ranges else None
