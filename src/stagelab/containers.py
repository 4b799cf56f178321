"""Look inside built images: run a command, list files, read the layer history and config.
Every function records its answer on a real engine and replays it with none (replay_calls.py).
"""

from __future__ import annotations

import json
import os
import posixpath
import shlex
import tarfile
import tempfile
from pathlib import Path

from . import container_folders, engine, images, lazy, limits, replay_calls
from .errors import ImageUnavailable, RunFailed, RunTimedOut, StagelabError
from .history_layers import layer_flags

RUN_TIMEOUT_S = 300
# Above this size, files() lists an image with `find` in a container of it instead of exporting
# it: an export streams every byte (seconds for a few hundred MB, a fraction of one for `find`).
EXPORT_AT_MOST_BYTES = 48 * 1024 * 1024
# Where busybox's image is mounted in that container, and the engine API that mounts images.
TOOLS_AT = "/.stagelab-tools"
IMAGE_MOUNTS_API = "1.48"


@replay_calls.replayable(
    "run",
    errors=(RunFailed, RunTimedOut),
    unset_not_keyed=("folders", "engine_access"),
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
    engine_access: bool | None = None,
) -> str:
    """Run a command in a new container from an image, remove it, and return its output.

    `image` is an id or a name; `command` a string (split as a shell would) or a list; None
    runs the image's default command. `timeout` is in seconds (default 300): a command still
    running then is stopped, its container removed, and RunTimedOut raised. `folders` maps a
    folder in the container (an absolute path) to a folder on this machine, for a command that
    reads and writes files outside the image, as `docker run -v HOST:CONTAINER` gives it: each
    host folder's files are copied in before the command starts and what the folder holds when
    it ends is copied back (files it deleted stay on the host). Copying, unlike a bind mount,
    works with an engine on another machine or in another pod. `engine_access=True` gives the
    container this engine and the docker CLI (engine.client_options). Returns stdout and stderr
    together. Raises RunFailed (with `exit_code` and `output`) when `check` and the command
    exits non-zero (a command the image lacks exits 127, as in a shell), ImageUnavailable,
    saying how to get it, for an image the engine does not have, and StagelabError for a
    container folder that is not absolute, a missing host folder, or an engine elsewhere.
    """
    mounted = container_folders.checked(folders or {})
    if isinstance(command, str):
        command = shlex.split(command)
    shown = " ".join(command or []) or "the image's default command"
    counters = limits.Counters.now()
    access = engine.client_options() if engine_access else {}
    container = _create(image, command=command, entrypoint=entrypoint, **access)
    try:
        for inside, host in mounted.items():
            container.put_archive("/", container_folders.tar_of(host, inside.lstrip("/")))
        container.start()
        try:
            exit_code = container.wait(timeout=timeout)["StatusCode"]
        except lazy.requests.exceptions.RequestException:
            raise RunTimedOut(
                f"`{shown}` in {_short(image)} was still running after {timeout:g} s:"
                " it was stopped and its container removed. Pass timeout= (seconds)"
                " for a longer command.",
                command=command,
            ) from None
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        for inside, host in mounted.items():
            container_folders.copy_back(container, inside, host)
    except lazy.docker.errors.APIError as error:
        # The runtime refuses to start a command the image does not have, as a shell would.
        exit_code, output = 127, str(error.explanation or error)
    finally:
        container.remove(force=True, v=True)
    if check and exit_code != 0:
        failed = RunFailed(
            f"`{shown}` in {_short(image)} exited with code {exit_code}:\n{output.strip()[-800:]}",
            command=command,
            exit_code=exit_code,
            output=output,
        )
        failed.explain(limits.limit_note(counters))
        raise failed
    return output


@replay_calls.replayable("copy_out", folders_argument="folders")
def _copy_out(image: str, path: str, folders: dict[str, Path]) -> list[str]:
    container = _create(image, command=["none"])
    try:
        return container_folders.unpack(container, path, folders["destination"])
    except lazy.docker.errors.NotFound:
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
    engine_access: bool | None = None,
) -> tuple[int, str]:
    """Run a command in a container from an image; return (exit code, output), never raising
    for a non-zero exit code; `command`, `entrypoint`, `folders` and `engine_access` are run()'s."""
    options = {"entrypoint": entrypoint, "folders": folders, "engine_access": engine_access}
    try:
        return 0, run(image, command, **options)
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
    large = _inspect(image, engine.client().api.inspect_image)["Size"] > EXPORT_AT_MOST_BYTES
    names = _listed_by_find(image, under) if large and under.startswith("/") else None
    if names is None:
        names = _listed_by_export(image, under)
    return image_paths(names, under)


def image_paths(names: list[str], under: str) -> list[str]:
    """Keep the paths a listing of a container found under `under` that the image holds (not
    what every container gets), sorted: a path to a file lists that file, a folder what is
    under it."""
    wanted = under.rstrip("/")
    return sorted(
        n for n in names if (n == wanted or n.startswith(wanted + "/")) and not _added_by_engine(n)
    )


def _listed_by_export(image: str, under: str) -> list[str]:
    """The paths in an export of a container of the image (all of it, or `under`), not folders."""
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
                return [
                    posixpath.normpath(posixpath.join(root, m.name))
                    for m in tar.getmembers()
                    if not m.isdir()
                ]
    except lazy.docker.errors.NotFound:
        return []
    finally:
        container.remove(force=True, v=True)


def _listed_by_find(image: str, under: str) -> list[str] | None:
    """The paths `find` sees in a container of the image, not folders: what an export holds,
    without streaming every byte of it. Busybox's static binary comes in by an image mount
    (Docker Engine 28, API 1.48); None where that cannot run, and the export answers."""
    tools = _busybox_image()
    api = engine.client().api
    if tools is None or not lazy.docker.utils.version_gte(api.api_version, IMAGE_MOUNTS_API):
        return None
    skipped = ["-path", "/proc", "-o", "-path", "/sys", "-o", "-path", "/dev", "-o"]
    command = ["find", under, "(", *skipped, "-path", TOOLS_AT, ")", "-prune", "-o"]
    try:
        container = _create(
            image,
            entrypoint=[f"{TOOLS_AT}/bin/busybox"],
            command=command + ["!", "-type", "d", "-print0"],
            user="0:0",
            network_disabled=True,
            mounts=[{"Type": "image", "Source": tools, "Target": TOOLS_AT, "ReadOnly": True}],
        )
    except lazy.docker.errors.APIError:
        return None  # this engine cannot mount one image into another's container
    try:
        container.start()
        status = container.wait(timeout=RUN_TIMEOUT_S)["StatusCode"]
        found = container.logs(stdout=True, stderr=False)
        complaints = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
    except (lazy.docker.errors.APIError, lazy.requests.exceptions.RequestException):
        return None  # the runtime could not run it: the export answers instead
    finally:
        container.remove(force=True, v=True)
    lines = complaints.splitlines()
    if status == 1 and lines and all("No such file or directory" in line for line in lines):
        return []
    if status != 0:
        return None
    return [name for name in found.decode("utf-8", "surrogateescape").split("\0") if name]


def _busybox_image() -> str | None:
    """Name the busybox image this engine has, official or stand-in (static), or None."""
    image = images.BY_OFFICIAL[images.BUSYBOX]
    if images.present(image.official):
        return image.official
    return image.standin if images.standin_present(image) else None


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
        container.remove(force=True, v=True)


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


def search_image(image: str, text: str) -> list[str]:
    """Return where `text` appears in an image: "file PATH" for each file of its layers that
    holds it (found with `find` and `grep` in a container of it, so the image needs them),
    "history" when a history entry shows it, "config" when its configuration does; [] when
    nowhere. Raises ImageUnavailable for an image the engine does not have."""
    search = 'find / -xdev -type f -exec grep -l -F -e "$0" {} + 2>/dev/null; true'
    found = [f"file {path}" for path in run(image, ["sh", "-c", search, text]).split()]
    if any(text in row["instruction"] for row in history(image)):
        found.append("history")
    if text in json.dumps(image_config(image)):
        found.append("config")
    return found


@replay_calls.replayable("exists")
def image_exists(image: str) -> bool:
    """Return True when the engine has an image with this id or name, else False."""
    return images.present(image)


def _short(image: str) -> str:
    return image[7:19] if image.startswith("sha256:") else image


def _create(image: str, **options):
    """Create a container of stagelab's from an image (remove it with v=True: each VOLUME
    gives it an anonymous volume); ImageUnavailable when there is none."""
    # The pid label tells `stagelab clean` that this process still uses the container.
    labels = images.labels("container", **{images.PID_LABEL: str(os.getpid())})
    try:
        return engine.client().containers.create(image, labels=labels, **options)
    except lazy.docker.errors.ImageNotFound:
        raise _no_such_image(image) from None
    except lazy.docker.errors.APIError as error:
        if options.get("mounts"):
            raise engine.access_refused(error.explanation or error) from None
        raise


def _inspect(image: str, ask):
    try:
        return ask(image)
    except lazy.docker.errors.ImageNotFound:
        raise _no_such_image(image) from None


def _no_such_image(image: str) -> ImageUnavailable:
    return ImageUnavailable(
        f"No image {_short(image)!r} on this engine. Use the image_id (or tag=) of a build "
        "that made one (`result = sl.build(...)`, then `result.image_id`), or build, pull or "
        "`docker load` it first."
    )
