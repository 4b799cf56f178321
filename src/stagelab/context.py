"""A build request: the build context (a folder, or Dockerfile text in a temporary one), what
to build, and the one `docker buildx build` command line that builds or `--call`s it."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .dockerfile import BUILDERS, Dockerfile, parse_dockerfile
from .errors import DockerfileError, StagelabError
from .images import labels
from .results import BuildResult


@dataclass
class BuildRequest:
    """Everything that decides a build's outcome, and where its files are.

    `target` is the target as the user wrote it, `target_ref` the stage's ref (None: the last
    stage); `substitutions` maps official image names to the stand-ins that serve them.
    """

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
        """Return a BuildResult of this request with the outcome's fields filled in."""
        return BuildResult(builder=self.builder, target=self.target_ref,
                           dockerfile=self.dockerfile, build_args=self.build_args,
                           tag=self.tag, output=self.output,
                           substitutions=dict(self.substitutions), **fields)


def parse_build_args(items: list[str]) -> dict[str, str]:
    """Turn `KEY=VALUE` words (as after --build-arg) into a dict; StagelabError for a bad one."""
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise StagelabError(f"--build-arg {item!r}: write it as KEY=VALUE")
        pairs[key] = value
    return pairs


@contextmanager
def build_request(context: str | os.PathLike, *, dockerfile: str | None = None,
                  files: dict[str, str | bytes] | None = None, target: str | None = None,
                  builder: str = "buildkit", build_args: dict | None = None,
                  tag: str | None = None, no_cache: bool = False,
                  output: str | os.PathLike | None = None) -> Iterator[BuildRequest]:
    """Yield the BuildRequest for a context folder or Dockerfile text (with `files`).

    Text goes into a temporary build context, removed afterwards. Raises ValueError for an
    unknown builder or options that do not go together, DockerfileError for a Dockerfile that
    is missing or does not parse, or a target that is not a named stage.
    """
    if builder not in BUILDERS:
        raise ValueError(f"builder must be one of {BUILDERS}, not {builder!r}")
    build_args = {key: str(value) for key, value in (build_args or {}).items()}
    with _context_folder(context, dockerfile, files) as (context_dir, dockerfile_path):
        # Bytes that are not UTF-8 stay as lone surrogates, which the parser refuses by line.
        parsed = parse_dockerfile(dockerfile_path.read_text(encoding="utf-8",
                                                            errors="surrogateescape"))
        yield BuildRequest(parsed, context_dir, dockerfile_path, target,
                           _target_ref(parsed, target, builder), builder, build_args, tag, no_cache,
                           str(output) if output is not None else None)


@contextmanager
def _context_folder(context, dockerfile, files) -> Iterator[tuple[Path, Path]]:
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


def _target_ref(parsed: Dockerfile, target: str | None, builder: str) -> str | None:
    if target is None:
        return None
    return parsed.target_stage(target, builder).ref


def buildx_command(request: BuildRequest, *, iidfile: Path | None = None,
                   call: str | None = None) -> list[str]:
    """Return the `docker buildx build` command line for this request.

    With `call` ("check,format=json", ...) the build only answers that question
    (`--call`, quiet progress). Otherwise it streams `--progress=rawjson`, and either exports
    to `request.output` or loads a labelled image and writes its id to `iidfile`. Stand-ins
    come in as named build contexts, which replace both FROM and COPY --from of that name.
    """
    command = ["docker", "buildx", "build"]
    command += [f"--call={call}", "--progress=quiet"] if call else ["--progress=rawjson"]
    command += ["-f", str(request.dockerfile_path)]
    if request.target:
        command += ["--target", request.target]
    for key, value in request.build_args.items():
        command += ["--build-arg", f"{key}={value}"]
    for official, standin in request.substitutions.items():
        command += ["--build-context", f"{official}=docker-image://{standin}"]
    if call:
        return command + [str(request.context_dir)]
    if request.no_cache:
        command.append("--no-cache")
    if request.output:
        output = request.output
        command += ["--output", output if "=" in output else f"type=local,dest={output}"]
    else:
        for key, value in labels("build").items():
            command += ["--label", f"{key}={value}"]
        if request.tag:
            command += ["-t", request.tag]
        command += ["--iidfile", str(iidfile)]
    return command + [str(request.context_dir)]
