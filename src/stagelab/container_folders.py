"""Host folders and containers: the folders a run gets (`docker run -v` done by copying, so
that it works on a remote engine too), and files copied out of a container (`docker cp`).

Pure helpers on a docker-py container object; containers.py owns the engine calls.
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import tarfile
import tempfile
from pathlib import Path

from . import lazy
from .errors import StagelabError


def checked(folders: dict) -> dict[str, Path]:
    """Return run()'s `folders` ({path in the container: host folder}) with normalised
    container paths and host folders as Paths. Raises StagelabError for a container path that
    is not absolute or a host folder that does not exist."""
    mounted = {}
    for inside, host in folders.items():
        if not str(inside).startswith("/"):
            raise StagelabError(
                f"folders: {inside!r} is no absolute path in the container; write it as "
                "docker run -v does, like {'/src': 'my-source-folder'}"
            )
        if not Path(host).is_dir():
            raise StagelabError(
                f"folders: {os.fspath(host)!r} is no folder on this machine; make it first "
                "(os.makedirs) and pass its path"
            )
        mounted[posixpath.normpath(str(inside))] = Path(host)
    return mounted


def tar_of(folder: Path, name: str) -> bytes:
    """Return a tar archive (bytes) of a host folder, its top folder named `name`, for the
    engine's put_archive."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        tar.add(folder, arcname=name)
    return data.getvalue()


def copy_back(container, inside: str, host: Path) -> None:
    """Copy a container folder's files over a host folder (nothing on the host is deleted;
    a folder the command removed copies nothing)."""
    with tempfile.TemporaryDirectory(prefix="stagelab-copy-") as unpacked:
        try:
            unpack(container, inside, Path(unpacked))
        except lazy.docker.errors.NotFound:
            return
        shutil.copytree(
            Path(unpacked, posixpath.basename(inside)), host, symlinks=True, dirs_exist_ok=True
        )


def unpack(container, path: str, destination: Path) -> list[str]:
    """Unpack `docker cp CONTAINER:PATH DESTINATION`'s files (the path's last name first);
    return the files and links written, relative to `destination`, sorted."""
    chunks, _ = container.get_archive(path)
    with tempfile.TemporaryFile() as tar_file:
        for chunk in chunks:
            tar_file.write(chunk)
        tar_file.seek(0)
        with tarfile.open(fileobj=tar_file) as tar:
            members = tar.getmembers()
            # The data filter refuses absolute names, `..` and links that leave `destination`.
            tar.extractall(destination, filter="data")
    return sorted(member.name for member in members if not member.isdir())
