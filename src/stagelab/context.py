"""A build request: the build context (a folder, or Dockerfile text in a temporary one), what
to build, and the one `docker buildx build` command line that builds or `--call`s it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import build_options, engine
from .command_lines import buildx_build_command, image_contexts
from .dockerfile import BUILDERS, Dockerfile
from .dockerfile.instructions import INSTRUCTIONS, refuse_oversized
from .errors import BuildContextError, DockerfileError, StagelabError
from .images import labels, parse_dockerfile
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
    # BuildKit only: `--platform` values, `--build-context` NAME=VALUE, `--secret` ids with
    # the files that hold them, `--cache-from` and `--cache-to` specs.
    platforms: list[str] = field(default_factory=list)
    build_contexts: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, Path] = field(default_factory=dict)
    cache_from: list[str] = field(default_factory=list)
    cache_to: list[str] = field(default_factory=list)
    # The engine the build runs on when not the CLI's own (multiplatform.build_host), and
    # the image store asked for ("containerd", or None for any).
    docker_host: str | None = None
    image_store: str | None = None
    # Whether an engine answered when the request was made: asked once per build.
    engine_answered: bool = False

    def result(self, **fields) -> BuildResult:
        """Return a BuildResult of this request with the outcome's fields filled in."""
        return BuildResult(
            builder=self.builder,
            target=self.target_ref,
            dockerfile=self.dockerfile,
            build_args=self.build_args,
            tag=self.tag,
            output=self.output,
            no_cache=self.no_cache,
            substitutions=dict(self.substitutions),
            platforms=list(self.platforms),
            build_contexts=dict(self.build_contexts),
            docker_host=self.docker_host,
            **fields,
        )

    def environment(self) -> dict[str, str] | None:
        """Return the environment buildx runs in: DOCKER_HOST set when the build goes to
        another engine than the CLI's own; None for this process's own."""
        if self.docker_host is None:
            return None
        return {**os.environ, "DOCKER_HOST": self.docker_host}


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
def build_request(
    context: str | os.PathLike,
    *,
    dockerfile: str | None = None,
    files: dict[str, str | bytes] | None = None,
    target: str | None = None,
    builder: str = "buildkit",
    build_args: dict | None = None,
    tag: str | None = None,
    no_cache: bool = False,
    output: str | os.PathLike | None = None,
    platforms: str | Sequence[str] | None = None,
    build_contexts: Mapping[str, str | os.PathLike] | None = None,
    secrets: Mapping[str, str | bytes | os.PathLike] | None = None,
    cache_from: str | Sequence[str] | None = None,
    cache_to: str | Sequence[str] | None = None,
) -> Iterator[BuildRequest]:
    """Yield the BuildRequest for a context folder or Dockerfile text (with `files`).

    Text goes into a temporary build context, removed afterwards; `files` names are relative
    paths inside it. `secrets` values that are text or bytes go into files of a private
    temporary folder outside the context, removed afterwards. Raises ValueError for an
    unknown builder, a build arg name that is empty or holds `=`, a malformed platform, or
    options that do not go together; StagelabError for a BuildKit option with the classic
    builder; BuildContextError for a file name outside the context (refused before anything is
    written), a path that is no folder, or a named context's folder that does not exist;
    DockerfileError for a Dockerfile that is empty, missing or does not parse, or a target
    that is not a named stage.

    Folder or text: `context` is the build context folder when it names an existing folder (a
    PathLike is always a path). Any other string is Dockerfile text when it holds a line break,
    starts with `#` (a comment or parser directive), or its first word is an instruction of the
    Dockerfile reference in any case (`"FROM busybox:1.36"`), or it is one line of several words
    whose first word holds no `/` (`"FORM busybox"`: the parser's did-you-mean answers it).
    Every other one-line string (`"nope"`, `"sub/nope"`, `"ok/../nope"`, `"./x"`, `"~/x"`) is a
    folder that does not exist: BuildContextError "No folder ...".
    """
    if builder not in BUILDERS:
        raise ValueError(f"builder must be one of {BUILDERS}, not {builder!r}")
    build_args = {key: str(value) for key, value in (build_args or {}).items()}
    for key in build_args:
        if not isinstance(key, str) or not key.strip() or "=" in key:
            raise ValueError(
                f"build_args: {key!r} is no build arg name: use the name an ARG line "
                'declares, as in build_args={"MODE": "dev"}'
            )
    platform_list = build_options.platform_list(platforms)
    contexts = build_options.named_contexts(build_contexts)
    cache_from_list = build_options.several_specs(cache_from)
    cache_to_list = build_options.several_specs(cache_to)
    caches = cache_from_list + cache_to_list
    build_options.refuse_for_classic(builder, platform_list, contexts, secrets, caches)
    with ExitStack() as stack:
        context_dir, dockerfile_path = stack.enter_context(
            context_folder(context, dockerfile, files)
        )
        answered = engine.answers()
        parsed = parse_dockerfile(read_dockerfile(dockerfile_path), engine_answers=answered)
        yield BuildRequest(
            parsed,
            context_dir,
            dockerfile_path,
            target,
            _target_ref(parsed, target, builder),
            builder,
            build_args,
            tag,
            no_cache,
            str(output) if output is not None else None,
            platforms=platform_list,
            build_contexts=contexts,
            secrets=stack.enter_context(build_options.secret_files(secrets)) if secrets else {},
            cache_from=cache_from_list,
            cache_to=cache_to_list,
            engine_answered=answered,
        )


@contextmanager
def context_folder(context, dockerfile, files) -> Iterator[tuple[Path, Path]]:
    """Yield (the build context folder, its Dockerfile's path): `context` itself when it is a
    folder, else a temporary folder holding Dockerfile text `context` and `files` (removed
    afterwards). Raises what build_request says about them."""
    as_path = Path(context) if isinstance(context, (str, os.PathLike)) else None
    is_dir = as_path is not None and "\n" not in str(context) and as_path.is_dir()
    if is_dir and str(context).strip():
        if files:
            raise ValueError("files= goes with Dockerfile text, not with a context directory")
        path = as_path / (dockerfile or "Dockerfile")
        if not path.exists():
            raise DockerfileError(f"no Dockerfile at {path}")
        yield as_path.resolve(), path.resolve()
        return
    if not str(context).strip():
        raise DockerfileError(
            "the Dockerfile text is empty: give at least a FROM line, as in "
            'sl.build("FROM busybox:1.36\\nRUN echo hi\\n")'
        )
    if isinstance(context, os.PathLike) or _looks_like_a_path(str(context)):
        raise BuildContextError(
            f"No folder {context}: give the build context folder (the one holding the "
            "Dockerfile), or the Dockerfile's text itself."
            + (
                f" {context} is a file: pass its folder, and dockerfile= its name."
                if Path(context).is_file()
                else ""
            )
        )
    if dockerfile is not None:
        raise ValueError(
            "dockerfile= names a file inside a context directory; Dockerfile text needs none"
        )
    refuse_oversized(len(str(context)), "the Dockerfile text")  # before it is written anywhere
    with tempfile.TemporaryDirectory(prefix="stagelab-context-") as tmp:
        root = Path(tmp)
        targets = {name: _inside(root, name) for name in (files or {})}
        (root / "Dockerfile").write_text(str(context))
        for name, content in (files or {}).items():
            target = targets[name]
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        yield root, root / "Dockerfile"


def _looks_like_a_path(text: str) -> bool:
    # The rule of build_request's docstring: one line that is not Dockerfile text names a place.
    line = text.strip()
    if "\n" in line or not line or line.startswith("#"):
        return False
    first = line.split()[0]
    if first.upper() in INSTRUCTIONS:
        return False
    one_word = len(line.split()) == 1
    return one_word or "/" in first or first.startswith(("~", ".")) or Path(line).exists()


def _inside(root: Path, name: str) -> Path:
    """Return where file `name` goes in the build context `root`; refuse any other place."""
    if not isinstance(name, str) or not name.strip() or "\x00" in name:
        raise BuildContextError(
            f'files=: {name!r} is not a file name: use a relative path like "app/main.c"'
        )
    relative = Path(name)
    target = (root / relative).resolve()
    if (
        relative.is_absolute()
        or not target.is_relative_to(root.resolve())
        or target == root.resolve()
    ):
        raise BuildContextError(
            f"files=: {name!r} is outside the build context: name files "
            'relative to it, like "app/main.c" (no leading /, no ..)'
        )
    if target == (root / "Dockerfile").resolve():
        raise BuildContextError(
            'files=: "Dockerfile" is the Dockerfile text itself: pass it '
            "as the first argument, not in files="
        )
    return target


def read_dockerfile(path: str | os.PathLike) -> str:
    """Return a Dockerfile's text, read as UTF-8.

    Raises StagelabError saying what is wrong when the file cannot be read, and DockerfileError
    naming the line of the first byte that is not UTF-8, or for a file over
    MAX_DOCKERFILE_BYTES (refused before it is read).
    """
    try:
        if not Path(path).is_dir():  # a huge file is refused before it is read
            refuse_oversized(Path(path).stat().st_size, str(path))
        data = Path(path).read_bytes()
    except IsADirectoryError:
        raise StagelabError(
            f"{path} is a folder: give the path of a Dockerfile ({Path(path) / 'Dockerfile'}?)"
        ) from None
    except OSError as error:
        raise StagelabError(f"Cannot read {path}: {error.strerror}.") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DockerfileError(
            f"{path} is not UTF-8 text (byte {data[error.start]:#04x}): save it as UTF-8", line=line
        ) from None


def _target_ref(parsed: Dockerfile, target: str | None, builder: str) -> str | None:
    if target is None:
        return None
    return parsed.target_stage(target, builder).ref


def buildx_command(
    request: BuildRequest,
    *,
    iidfile: Path | None = None,
    call: str | None = None,
    progress: str | None = None,
    metadata_file: Path | None = None,
) -> list[str]:
    """Return the `docker buildx build` command line for this request: the one place a build
    request becomes buildx flags (command_lines.buildx_build_command writes them).

    With `call` ("check,format=json", ...) the build only answers that question
    (`--call`, quiet progress). Otherwise it streams `--progress=rawjson` (or `progress`), and
    either exports to `request.output` (a bare folder is the local exporter's destination) or
    loads a labelled image, tagged `request.tag`, and writes its id to `iidfile`; buildx
    writes the build's metadata (its history ref) to `metadata_file`. Stand-ins come in as
    named build contexts, which replace both FROM and COPY --from of that name; the user's own
    named contexts win over them.
    """
    flags = dict(
        file=request.dockerfile_path,
        target=request.target,
        build_args=request.build_args,
        build_contexts={**image_contexts(request.substitutions), **request.build_contexts},
        platforms=request.platforms,
        secrets=[{"id": key, "src": path} for key, path in request.secrets.items()],
    )
    if call:
        return buildx_build_command(
            request.context_dir, call=call, progress=progress or "quiet", **flags
        )
    if request.output:
        output = request.output
        flags["output"] = output if "=" in output else {"type": "local", "dest": output}
    else:
        flags.update(labels=labels("build"), tags=request.tag or (), iidfile=iidfile)
    return buildx_build_command(
        request.context_dir,
        progress=progress or "rawjson",
        no_cache=request.no_cache,
        cache_from=request.cache_from,
        cache_to=request.cache_to,
        metadata_file=metadata_file,
        **flags,
    )
