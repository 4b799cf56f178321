"""Ask BuildKit about a Dockerfile without building it: build checks, targets and outline.

Like builds, these calls are recorded (`make recordings`) and replayed when no engine answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass

from . import engine, images, replay
from .build import _context, _explain
from .dockerfile import parse_dockerfile
from .errors import DockerfileError, EngineUnavailable, StagelabError

METHODS = ("check", "targets", "outline")
FORMATS = ("json", "text")


@dataclass(frozen=True)
class CheckWarning:
    """One build-check rule a Dockerfile breaks, where, and the doc page that explains it."""

    rule: str
    line: int | None
    detail: str
    description: str
    url: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "Dockerfile"
        return f"{self.rule} ({where}): {self.detail}"


def supported() -> dict[str, bool]:
    """Tell whether the engine runs build checks and `--call`; with no engine, what was recorded."""
    def probe() -> dict[str, bool]:
        found = engine.features()
        return {"check": found["--check"], "call": found["--call"]}

    try:
        return replay.recorded_call("buildx features", "engine", {}, probe)
    except EngineUnavailable:
        return {"check": False, "call": False}


def check(context: str | os.PathLike, *, dockerfile: str | None = None,
          files: dict[str, str] | None = None, target: str | None = None,
          build_args: dict[str, str] | None = None) -> list[CheckWarning]:
    """Run BuildKit's build checks (`--call=check`) and return the warnings, in line order."""
    report = call(context, "check", dockerfile=dockerfile, files=files, target=target,
                  build_args=build_args)
    warnings = [CheckWarning(rule=w.get("ruleName", ""), line=_first_line(w),
                             detail=w.get("detail", ""), description=w.get("description", ""),
                             url=w.get("url", "")) for w in report.get("warnings") or []]
    return sorted(warnings, key=lambda w: (w.line or 0, w.rule))


def call(context: str | os.PathLike, method: str = "targets", *, format: str = "json",
         dockerfile: str | None = None, files: dict[str, str] | None = None,
         target: str | None = None, build_args: dict[str, str] | None = None) -> dict | str:
    """Run `docker buildx build --call=METHOD` and return its report: a dict, or buildx's text."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {format!r}")
    build_args = {k: str(v) for k, v in (build_args or {}).items()}
    with _context(context, dockerfile, files) as (context_dir, dockerfile_path):
        text = dockerfile_path.read_text()
        parsed = parse_dockerfile(text)
        if target is not None:
            parsed.stage(target)  # a short DockerfileError for an unknown stage

        def ask_engine() -> dict | str:
            substitutions = images.substitutions(parsed.images(build_args))
            command = call_command(method, format, context_dir, dockerfile_path, target,
                                   build_args, substitutions)
            done = subprocess.run(command, capture_output=True, text=True, timeout=300)
            # Name the Dockerfile as the reader knows it, not by its temporary path.
            done.stdout = done.stdout.replace(str(dockerfile_path), dockerfile_path.name)
            return _report(method, format, command, done)

        arguments = {"method": method, "format": format, "target": target,
                     "build_args": dict(sorted(build_args.items()))}
        return replay.recorded_call(f"buildx --call={method}",
                                    _context_identity(text, context_dir), arguments,
                                    ask_engine, errors=(StagelabError,))


def _context_identity(dockerfile_text: str, context_dir) -> str:
    """Name a Dockerfile and its context's files by their contents, for recordings."""
    contents = {"dockerfile": dockerfile_text, "context": replay.context_files(context_dir)}
    digest = hashlib.sha256(json.dumps(contents, sort_keys=True).encode()).hexdigest()
    return "dockerfile-context:" + digest[:24]


def call_command(method, format, context_dir, dockerfile_path, target, build_args,
                 substitutions) -> list[str]:
    """Return the `docker buildx build --call=...` command line."""
    command = ["docker", "buildx", "build", f"--call={method},format={format}",
               "--progress=quiet", "-f", str(dockerfile_path)]
    if target:
        command += ["--target", target]
    for key, value in build_args.items():
        command += ["--build-arg", f"{key}={value}"]
    # Checks resolve each base image, so offline stand-ins must answer for official names.
    for official, standin in substitutions.items():
        command += ["--build-context", f"{official}=docker-image://{standin}"]
    return command + [str(context_dir)]


def _report(method: str, format: str, command: list[str],
            done: subprocess.CompletedProcess) -> dict | str:
    if "unknown flag: --call" in done.stderr:
        raise StagelabError(f"This buildx cannot run `--call={method},format={format}`: "
                            "it needs buildx 0.15 or later. Run `stagelab doctor` to see "
                            "what the engine supports.", command=command,
                            exit_code=done.returncode, output=done.stderr)
    if format == "text":
        # A check that finds warnings exits 1 yet its report is the answer.
        if done.returncode != 0 and not (method == "check" and "WARNING:" in done.stdout):
            raise _failure(method, command, done, done.stderr or done.stdout)
        return done.stdout.strip("\n")
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise _failure(method, command, done, done.stderr or done.stdout) from None
    error = report.get("buildError")
    if error:
        raise DockerfileError(_explain(error.get("message", "the engine rejected it")),
                              line=_first_line(error))
    report.pop("sources", None)  # the Dockerfile itself, base64: noise for a reader
    return report


def _failure(method: str, command: list[str], done: subprocess.CompletedProcess,
             text: str) -> StagelabError:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    reason = next((line for line in lines if line.startswith("ERROR")), lines[-1] if lines else
                  f"buildx exited with code {done.returncode}")
    return StagelabError(f"`--call={method}` failed: {reason}", command=command,
                         exit_code=done.returncode, output=text)


def _first_line(item: dict) -> int | None:
    ranges = (item.get("location") or {}).get("ranges") or []
    return ranges[0].get("start", {}).get("line") if ranges else None
