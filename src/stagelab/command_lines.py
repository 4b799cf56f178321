"""The one builder of `docker buildx build` command lines: keyword arguments that mirror its
flags, as python-on-whales' `docker.buildx.build` has them.

Flags, their spellings and value formats are those of the `docker buildx build` reference,
https://docs.docker.com/reference/cli/docker/buildx/build/ (and `docker buildx build --help`
of buildx 0.29). Every buildx build stagelab runs is written here: a build or `--call` of a
request (context.buildx_command turns the request into these keywords), the feature probes
(engine.py), the stand-ins (standins.py) and the Kubernetes classroom's images.

The classic builder runs through the engine's API (classic.py), not a command line; the
command it stands for, `DOCKER_BUILDKIT=0 docker build ...` (the `docker build` reference,
https://docs.docker.com/reference/cli/docker/build-legacy/), is written by
`classic_build_command` below from the same keywords, so a build can show what it ran.
"""

from __future__ import annotations

import csv
import io
import os
import shlex
from collections.abc import Mapping, Sequence

# An exporter, cache or secret spec: buildx's own text ("type=local,dest=out"), or its fields.
Spec = str | Mapping[str, str | os.PathLike]

PROGRESS_MODES = ("auto", "none", "plain", "quiet", "rawjson", "tty")
CALL_METHODS = ("build", "check", "outline", "targets")
IMAGE_SCHEME = "docker-image://"


def buildx_build_command(
    context_path: str | os.PathLike,
    *,
    file: str | os.PathLike | None = None,
    target: str | None = None,
    platforms: str | Sequence[str] = (),
    build_args: Mapping[str, str] | None = None,
    build_contexts: Mapping[str, str | os.PathLike] | None = None,
    secrets: Spec | Sequence[Spec] = (),
    cache_from: Spec | Sequence[Spec] = (),
    cache_to: Spec | Sequence[Spec] = (),
    no_cache: bool = False,
    output: Spec | Sequence[Spec] = (),
    labels: Mapping[str, str] | None = None,
    tags: str | Sequence[str] = (),
    iidfile: str | os.PathLike | None = None,
    metadata_file: str | os.PathLike | None = None,
    progress: str | None = None,
    call: str | None = None,
    check: bool = False,
) -> list[str]:
    """Return the argument list of `docker buildx build` with these flags, ending in the context.

    - `context_path`: the build context (the positional PATH).
    - `file`: `-f`, the Dockerfile (default PATH/Dockerfile). `target`: `--target`, a stage.
    - `platforms`: `--platform`, one or several `os/arch[/variant]` (joined by commas).
    - `build_args`: `--build-arg NAME=VALUE` each. `labels`: `--label KEY=VALUE` each.
    - `build_contexts`: `--build-context NAME=VALUE` each: a folder, a URL, or an image
      (`docker_image(ref)` writes `docker-image://ref`).
    - `secrets`: `--secret` each, like `{"id": "ca", "src": "/path"}` or `"id=ca,env=VAR"`.
    - `cache_from`, `cache_to`: `--cache-from`, `--cache-to` each (`"type=local,src=dir"`).
    - `no_cache`: `--no-cache`.
    - `output`: `-o`/`--output` each, an exporter (`{"type": "local", "dest": "out"}`).
    - `tags`: `-t` each. `iidfile`: `--iidfile`, where the image's id is written.
    - `metadata_file`: `--metadata-file`, where buildx writes the build's metadata (its
      `buildx.build.ref`, which `docker buildx history` knows it by).
    - `progress`: `--progress`, one of PROGRESS_MODES.
    - `call`: `--call`, a method of CALL_METHODS with options (`"check,format=json"`);
      `check`: `--check`, its shorthand for `--call=check`.

    A spec given as fields is written as buildx reads it, CSV with quotes where a value holds
    a comma or quote. Raises ValueError for an empty or `=`-holding name (build arg, label,
    build context), an unknown progress mode or call method, or an empty spec.
    """
    command = ["docker", "buildx", "build"]
    if call is not None:
        method = call.split(",", 1)[0]
        if method not in CALL_METHODS:
            raise ValueError(f"call: {method!r} is no method of --call: one of {CALL_METHODS}")
        command.append(f"--call={call}")
    if check:
        command.append("--check")
    if progress is not None:
        if progress not in PROGRESS_MODES:
            raise ValueError(f"progress: {progress!r} is not one of {PROGRESS_MODES}")
        command.append(f"--progress={progress}")
    if file is not None:
        command += ["-f", os.fspath(file)]
    if target is not None:
        command += ["--target", target]
    platform_list = _several(platforms)
    if platform_list:
        command += ["--platform", ",".join(platform_list)]
    command += _pairs("--build-arg", "build arg", build_args)
    command += _pairs("--build-context", "build context", build_contexts)
    command += _specs("--secret", secrets)
    command += _specs("--cache-from", cache_from)
    command += _specs("--cache-to", cache_to)
    if no_cache:
        command.append("--no-cache")
    command += _specs("--output", output)
    if metadata_file is not None:
        command += ["--metadata-file", os.fspath(metadata_file)]
    return command + _image_and_context(labels, tags, iidfile, context_path)


# The classic builder's command: with BuildKit off, `docker build` is the classic builder.
CLASSIC_PREFIX = ["DOCKER_BUILDKIT=0", "docker", "build"]


def classic_build_command(
    context_path: str | os.PathLike,
    *,
    file: str | os.PathLike | None = None,
    target: str | None = None,
    build_args: Mapping[str, str] | None = None,
    no_cache: bool = False,
    labels: Mapping[str, str] | None = None,
    tags: str | Sequence[str] = (),
    force_rm: bool = False,
    iidfile: str | os.PathLike | None = None,
) -> list[str]:
    """Return the words of `DOCKER_BUILDKIT=0 docker build` with these flags, ending in the
    context: the classic builder's command line, which classic.py runs through the engine's
    API with the same options (`force_rm`: `--force-rm`, remove intermediate containers even
    after a failure). The other keywords mean what they mean in buildx_build_command; BuildKit's
    own flags (platforms, build contexts, secrets, cache export, output, call) do not exist
    there. The first word is the environment assignment a shell reads (`shell_text` joins
    them). Raises ValueError as buildx_build_command does.
    """
    command = list(CLASSIC_PREFIX)
    if file is not None:
        command += ["-f", os.fspath(file)]
    if target is not None:
        command += ["--target", target]
    command += _pairs("--build-arg", "build arg", build_args)
    if no_cache:
        command.append("--no-cache")
    if force_rm:
        command.append("--force-rm")
    return command + _image_and_context(labels, tags, iidfile, context_path)


def _image_and_context(labels, tags, iidfile, context_path) -> list[str]:
    """The flags of the image both builders make (labels, tags, its id's file), then the
    context: the same words in `docker buildx build` and `docker build`."""
    words = _pairs("--label", "label", labels)
    for tag in _several(tags):
        words += ["-t", tag]
    if iidfile is not None:
        words += ["--iidfile", os.fspath(iidfile)]
    return words + [os.fspath(context_path)]


def shell_text(command: Sequence[str], multiline: bool = False) -> str:
    """Return a command's words as text a POSIX shell reads back into the same words (each
    quoted where needed; a leading `NAME=value` stays an environment assignment): one line, or
    with `multiline` one flag and its value per line, joined by backslash-newlines."""
    if not multiline:
        return shlex.join(command)
    lines: list[list[str]] = [[]]
    for index, word in enumerate(command):
        # Each flag starts a line with its value after it; the context ends on its own line.
        if lines[-1] and (word.startswith("-") or index == len(command) - 1):
            lines.append([])
        lines[-1].append(word)
    return " \\\n  ".join(shlex.join(words) for words in lines)


def docker_image(ref: str) -> str:
    """Return the `--build-context` value that serves a name from the image `ref` on the
    engine (`docker-image://ref`)."""
    return IMAGE_SCHEME + ref


def image_contexts(substitutions: Mapping[str, str]) -> dict[str, str]:
    """Return the named build contexts that serve each image name from another image: for
    {official: stand-in}, {official: "docker-image://stand-in"}. A named context replaces the
    name in FROM, COPY --from and RUN --mount from= alike."""
    return {name: docker_image(ref) for name, ref in substitutions.items()}


def _several(values) -> list:
    """One value or a sequence of them, as a list (a string or a mapping is one value)."""
    if isinstance(values, (str, os.PathLike, Mapping)):
        return [values]
    return list(values)


def _pairs(flag: str, what: str, pairs: Mapping | None) -> list[str]:
    words = []
    for name, value in (pairs or {}).items():
        if not isinstance(name, str) or not name or "=" in name:
            raise ValueError(f"{what} name {name!r}: give a non-empty name without '='")
        words += [flag, f"{name}={os.fspath(value)}"]
    return words


def _specs(flag: str, specs) -> list[str]:
    words = []
    for spec in _several(specs):
        text = spec if isinstance(spec, str) else _csv_fields(spec)
        if not text:
            raise ValueError(f"{flag}: an empty spec; give its fields, like type=local,dest=out")
        words += [flag, text]
    return words


def _csv_fields(fields: Mapping) -> str:
    # buildx reads these specs as one CSV record of key=value fields (util/buildflags).
    line = io.StringIO()
    csv.writer(line, lineterminator="").writerow(
        f"{key}={os.fspath(value)}" for key, value in fields.items()
    )
    return line.getvalue()
