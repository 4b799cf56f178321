"""Look inside built images: run a command, list files, read the layer history and config.

Every function records its answer on a real engine and replays it when there is none
(replay_calls.py).
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import shlex
import shutil
import tarfile
import tempfile
from pathlib import Path

import docker
import requests

from . import engine, images, replay_calls
from .errors import ImageUnavailable, RunFailed, RunTimedOut, StagelabError
from .history_layers import layer_flags

RUN_TIMEOUT_S = 300


@replay_calls.replayable(
    "run",
    errors=(RunFailed, RunTimedOut),
    unset_not_keyed=("folders",),
    folders_argument="folders",
)
def run(
    image: str,
    command: str | list[str] | None = None,
    *,
    check: bool = True,
    entrypoint: str | list[str] | None = None,
    timeout: float = RUN_TIMEOUT_S,
    folders: dict[str, str | os.PathLike] | None = None,
) -> str:
    """Run a command in a new container from an image, remove it, and return its output.

    `image` is an id or a name; `command` a string (split as a shell would) or a list; None
    runs the image's default command. `timeout` is in seconds (default 300): a command still
    running then is stopped, its container removed, and RunTimedOut raised. `folders` maps a
    folder in the container (an absolute path) to a folder on this machine, for a command that
    reads and writes files outside the image, as `docker run -v HOST:CONTAINER` gives it: each
    host folder's files are copied in before the command starts and what the folder holds when
    it ends is copied back (files it deleted stay on the host). Copying, unlike a bind mount,
    works with an engine on another machine or in another pod. Returns stdout and stderr
    together. Raises RunFailed (with `exit_code` and `output`) when `check` and the command
    exits non-zero (a command the image lacks exits 127, as in a shell), ImageUnavailable,
    saying how to get it, for an image the engine does not have, and StagelabError for a
    container folder that is not absolute or a host folder that does not exist.
    """
    mounted = _checked_folders(folders or {})
    if isinstance(command, str):
        command = shlex.split(command)
    shown = " ".join(command or []) or "the image's default command"
    container = _create(image, command=command, entrypoint=entrypoint)
    try:
        for inside, host in mounted.items():
            container.put_archive("/", _tar_of(host, inside.lstrip("/")))
        container.start()
        try:
            exit_code = container.wait(timeout=timeout)["StatusCode"]
        except requests.exceptions.RequestException:
            raise RunTimedOut(
                f"`{shown}` in {_short(image)} was still running after {timeout:g} s:"
                " it was stopped and its container removed. Pass timeout= (seconds)"
                " for a longer command.",
                command=command,
            ) from None
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        for inside, host in mounted.items():
            _copy_back(container, inside, host)
    except docker.errors.APIError as error:
        # The runtime refuses to start a command the image does not have, as a shell would.
        exit_code, output = 127, str(error.explanation or error)
    finally:
        container.remove(force=True)
    if check and exit_code != 0:
        raise RunFailed(
            f"`{shown}` in {_short(image)} exited with code {exit_code}:\n{output.strip()[-800:]}",
            command=command,
            exit_code=exit_code,
            output=output,
        )
    return output


def _checked_folders(folders: dict) -> dict[str, Path]:
    checked = {}
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
        checked[posixpath.normpath(str(inside))] = Path(host)
    return checked


def _tar_of(folder: Path, name: str) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        tar.add(folder, arcname=name)
    return data.getvalue()


def _copy_back(container, inside: str, host: Path) -> None:
    """Copy a container folder's files over a host folder (nothing on the host is deleted;
    a folder the command removed copies nothing)."""
    with tempfile.TemporaryDirectory(prefix="stagelab-copy-") as unpacked:
        try:
            _unpack(container, inside, Path(unpacked))
        except docker.errors.NotFound:
            return
        shutil.copytree(
            Path(unpacked, posixpath.basename(inside)), host, symlinks=True, dirs_exist_ok=True
        )


def _unpack(container, path: str, destination: Path) -> list[str]:
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


@replay_calls.replayable("copy_out", folders_argument="folders")
def _copy_out(image: str, path: str, folders: dict[str, Path]) -> list[str]:
    container = _create(image, command=["none"])
    try:
        return _unpack(container, path, folders["destination"])
    except docker.errors.NotFound:
        raise StagelabError(
            f"{path} is not in the image {_short(image)}: list its files with "
            "sl.files(image, under=...) to find the path"
        ) from None
    finally:
        container.remove(force=True)


def copy_out(image: str, path: str, destination: str | os.PathLike) -> list[str]:
    """Copy a file or folder out of an image, as the classic builder's users do:
    `docker create IMAGE`, `docker cp CONTAINER:PATH DESTINATION`, `docker rm CONTAINER`.

    The container is created, never started (`docker cp` reads a container, not an image).
    `path` is absolute in the image; `destination` a folder on this machine (made if missing)
    that receives the path's last name, with what is under it. Returns the files and links
    written, relative to `destination`, sorted. Raises StagelabError for a path the image does
    not have and ImageUnavailable for an image the engine does not have.
    """
    folder = Path(destination)
    folder.mkdir(parents=True, exist_ok=True)
    return _copy_out(image, path, folders={"destination": folder})


def run_status(
    image: str,
    command: str | list[str] | None = None,
    *,
    entrypoint: str | list[str] | None = None,
    folders: dict[str, str | os.PathLike] | None = None,
) -> tuple[int, str]:
    """Run a command in a container from an image; return (exit code, output), never raising
    for a non-zero exit code. `command` None runs the image's default command; `entrypoint`
    and `folders` are run()'s (the image's entry point replaced; host folders the command
    reads and writes)."""
    try:
        return 0, run(image, command, entrypoint=entrypoint, folders=folders)
    except RunFailed as failed:
        return failed.exit_code, failed.output


@replay_calls.replayable("files")
def files(image: str, under: str = "/") -> list[str]:
    """List the files and links in an image, under one folder of it, or one file (FROM
    scratch too).

    Returns absolute paths, sorted; [] when `under` does not exist. The files every container
    gets (/etc/hosts, /dev, ...) are left out: they are not part of the image. Raises
    ImageUnavailable for an image the engine does not have.
    """
    container = _create(image, command=["none"])
    try:
        with tempfile.TemporaryFile() as tar_file:
            if under.rstrip("/"):
                chunks, _ = container.get_archive(under.rstrip("/"))
                root = posixpath.dirname(under.rstrip("/"))
            else:
                chunks, root = container.export(), "/"
            for chunk in chunks:
                tar_file.write(chunk)
            tar_file.seek(0)
            with tarfile.open(fileobj=tar_file) as tar:
                names = [
                    posixpath.normpath(posixpath.join(root, m.name))
                    for m in tar.getmembers()
                    if not m.isdir()
                ]
    except docker.errors.NotFound:
        return []
    finally:
        container.remove(force=True)
    wanted = under.rstrip("/")
    # A path to a file lists that file; a folder lists what is under it.
    return sorted(
        n for n in names if (n == wanted or n.startswith(wanted + "/")) and not _added_by_engine(n)
    )


def _added_by_engine(path: str) -> bool:
    # Every container gets these; they are not part of the image.
    return path in {
        "/.dockerenv",
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/etc/mtab",
    } or path.startswith(("/dev/", "/proc/", "/sys/"))


def existing_paths(image: str, paths: list[str]) -> list[str]:
    """Return those of `paths` that exist in the image, asking the engine without exporting it."""
    api = engine.client().api
    container = _create(image, command=["none"])
    try:
        # HEAD /containers/{id}/archive stats one path: fast even for a 400 MB image.
        url = api._url("/containers/{0}/archive", container.id)
        return [path for path in paths if api.head(url, params={"path": path}).status_code == 200]
    finally:
        container.remove(force=True)


@replay_calls.replayable("history")
def history(image: str) -> list[dict]:
    """Return the image's history, oldest first: one entry per instruction that changed it,
    {"size" (bytes), "instruction", "comment", "layer"}.

    `layer` is True for an entry that added a layer (a file-system diff), False for one that
    changed only the image's config (CMD, ENV, LABEL, ...: a history entry, not a layer), and
    None where the engine's answers cannot tell (stagelab.history_layers says how it is read).
    Raises ImageUnavailable for an image the engine does not have.
    """
    api = engine.client().api
    layers = _inspect(image, api.history)
    rows = []
    for layer in reversed(layers):
        created_by = layer.get("CreatedBy", "")
        for prefix in ("/bin/sh -c #(nop) ", "|1 /bin/sh -c ", "/bin/sh -c "):
            if created_by.startswith(prefix):
                created_by = ("RUN " if prefix != "/bin/sh -c #(nop) " else "") + created_by[
                    len(prefix) :
                ]
                break
        rows.append(
            {
                "size": layer.get("Size", 0),
                "instruction": created_by.strip(),
                "comment": layer.get("Comment", ""),
            }
        )
    layer_count = len(_inspect(image, api.inspect_image)["RootFS"].get("Layers") or [])
    flags = layer_flags(rows, layer_count) or _saved_layer_flags(image, len(rows))
    for row, flag in zip(rows, flags):
        row["layer"] = flag
    return rows


def _saved_layer_flags(image: str, entries: int) -> list[bool | None]:
    """Read `empty_layer` from the image's config, in `docker save`'s archive (exact, and as
    slow as saving the image: only for histories whose sizes cannot tell)."""
    with tempfile.TemporaryFile() as tar_file:
        for chunk in engine.client().api.get_image(image):
            tar_file.write(chunk)
        tar_file.seek(0)
        with tarfile.open(fileobj=tar_file) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))
            config = json.load(tar.extractfile(manifest[0]["Config"]))
    saved = config.get("history", [])
    if len(saved) != entries:
        return [None] * entries
    return [not entry.get("empty_layer", False) for entry in saved]


@replay_calls.replayable("image_list")
def image_list_rows(label: str, all_images: bool = False) -> list[dict]:
    """Return the images carrying a label, as `docker image ls --filter label=LABEL` lists
    them (`--all` with `all_images`: intermediate images too), oldest first: {"id", "tags"
    (none for an untagged image), "size" (bytes), "created" (seconds since the epoch)}."""
    found = engine.client().api.images(all=all_images, filters={"label": label})
    return [
        {
            "id": image["Id"],
            "tags": [tag for tag in image.get("RepoTags") or [] if tag != "<none>:<none>"],
            "size": image.get("Size", 0),
            "created": image.get("Created", 0),
        }
        for image in sorted(found, key=lambda image: (image.get("Created", 0), image["Id"]))
    ]


@replay_calls.replayable("size")
def size(image: str) -> int:
    """Return the image's size in bytes; ImageUnavailable for an image the engine lacks."""
    return _inspect(image, engine.client().api.inspect_image)["Size"]


@replay_calls.replayable("config")
def image_config(image: str) -> dict:
    """Return the image's configuration: Cmd, Entrypoint, Env, WorkingDir, Labels, User, ...

    Raises ImageUnavailable for an image the engine does not have.
    """
    return _inspect(image, engine.client().api.inspect_image)["Config"]


@replay_calls.replayable("exists")
def image_exists(image: str) -> bool:
    """Return True when the engine has an image with this id or name, else False."""
    return images.present(image)


def _short(image: str) -> str:
    return image[7:19] if image.startswith("sha256:") else image


def _create(image: str, **options):
    """Create a container of stagelab's from an image; ImageUnavailable when there is none."""
    # The pid label tells `stagelab clean` that this process still uses the container.
    labels = images.labels("container", **{images.PID_LABEL: str(os.getpid())})
    try:
        return engine.client().containers.create(image, labels=labels, **options)
    except docker.errors.ImageNotFound:
        raise _no_such_image(image) from None


def _inspect(image: str, ask):
    try:
        return ask(image)
    except docker.errors.ImageNotFound:
        raise _no_such_image(image) from None


def _no_such_image(image: str) -> ImageUnavailable:
    return ImageUnavailable(
        f"No image {_short(image)!r} on this engine. Use the image_id (or tag=) of a build "
        "that made one (`result = sl.build(...)`, then `result.image_id`), or build, pull or "
        "`docker load` it first."
    )
