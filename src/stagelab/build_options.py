"""The BuildKit options of a build request, checked: `--platform` values, `--build-context`
NAME=VALUE pairs, `--secret` files, cache specs, and the classic builder's refusal of them."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from .dockerfile import machine_platform
from .dockerfile.platforms import split_platform
from .errors import BuildContextError, StagelabError


def platform_list(platforms: str | Sequence[str] | None) -> list[str]:
    """`--platform` values, as a list: "linux/amd64,linux/arm64" or a list of them."""
    if not platforms:
        return []
    words = platforms.split(",") if isinstance(platforms, str) else list(platforms)
    chosen = []
    for word in words:
        os_name, arch, variant = split_platform(str(word))  # ValueError names the bad one
        chosen.append("/".join(part for part in (os_name, arch, variant) if part))
    return list(dict.fromkeys(chosen))


def named_contexts(contexts: Mapping[str, str | os.PathLike] | None) -> dict[str, str]:
    """`--build-context` NAME=VALUE pairs: a folder (made absolute) or a URL-like value
    (`docker-image://ref`, `oci-layout://...`, `https://...`)."""
    chosen = {}
    for name, value in (contexts or {}).items():
        if not isinstance(name, str) or not name or name != name.lower() or "=" in name:
            raise ValueError(
                f"build_contexts: {name!r} is no context name: use the stage or image name it "
                'replaces, in lowercase, as in build_contexts={"deps": "./vendor"}'
            )
        text = os.fspath(value)
        if "://" in text:
            chosen[name] = text
            continue
        folder = Path(text).expanduser()
        if not folder.is_dir():
            raise BuildContextError(
                f"build_contexts: {name}={text}: no such folder. Give a folder, or an image "
                'as "docker-image://NAME:TAG".'
            )
        chosen[name] = str(folder.resolve())
    return chosen


def several_specs(specs: str | Sequence[str] | None) -> list[str]:
    if not specs:
        return []
    return [specs] if isinstance(specs, str) else [str(spec) for spec in specs]


def refuse_for_classic(builder, platforms, contexts, secrets, caches) -> None:
    if builder != "classic":
        return
    wanted = [
        what
        for what, given in (
            ("build_contexts= (--build-context)", contexts),
            ("secrets= (--secret)", secrets),
            ("cache_from= and cache_to= (local cache folders)", caches),
            (
                "platforms= other than this machine's own",
                [p for p in platforms if split_platform(p) != split_platform(machine_platform())],
            ),
        )
        if given
    ]
    if wanted:
        raise StagelabError(
            f"{' and '.join(wanted)} need BuildKit: the classic builder has no such option "
            '(`DOCKER_BUILDKIT=0 docker build` says "unknown flag"). Use builder="buildkit".'
        )


@contextmanager
def secret_files(secrets: Mapping[str, str | bytes | os.PathLike]) -> Iterator[dict[str, Path]]:
    """Put each secret that is a value into a file only this user can read, outside the
    build context; a path stays where it is. Yields {id: file}; the folder goes afterwards."""
    with tempfile.TemporaryDirectory(prefix="stagelab-secrets-") as tmp:
        files = {}
        for secret_id, value in secrets.items():
            if not isinstance(secret_id, str) or not secret_id or "," in secret_id:
                raise ValueError(f"secrets: {secret_id!r} is no secret id: use a word like token")
            if isinstance(value, os.PathLike):
                files[secret_id] = Path(value).resolve()
                continue
            path = Path(tmp, f"secret-{len(files)}")
            path.touch(mode=0o600)
            path.write_bytes(value if isinstance(value, bytes) else str(value).encode())
            files[secret_id] = path
        yield files
