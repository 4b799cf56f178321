"""Look inside built images: run a command, list files, read the layer history."""

from __future__ import annotations

import shlex
import tarfile
import tempfile

from . import engine, images, replay
from .errors import StagelabError


class RunFailed(StagelabError):
    """A command run in a container exited non-zero."""


@replay.replayable("run", errors=(RunFailed,))
def run(image: str, command: str | list[str] | None = None, *, check: bool = True,
        entrypoint: str | list[str] | None = None) -> str:
    """Run a command in a new container from an image, remove it, and return its output."""
    client = engine.client()
    if isinstance(command, str):
        command = shlex.split(command)
    container = client.containers.create(image, command=command, entrypoint=entrypoint,
                                         labels=images.labels("container"))
    try:
        container.start()
        exit_code = container.wait()["StatusCode"]
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
    finally:
        container.remove(force=True)
    if check and exit_code != 0:
        shown = " ".join(command or []) or "the image's default command"
        raise RunFailed(f"`{shown}` in {_short(image)} exited with code {exit_code}:\n"
                        f"{output.strip()[-800:]}", command=command, exit_code=exit_code,
                        output=output)
    return output


def run_status(image: str, command: str | list[str]) -> tuple[int, str]:
    """Run a command in a container and return its exit code and output."""
    try:
        return 0, run(image, command)
    except RunFailed as failed:
        return failed.exit_code, failed.output


@replay.replayable("files")
def files(image: str, under: str = "/") -> list[str]:
    """List the regular files and links in an image (works for FROM scratch images too)."""
    client = engine.client()
    container = client.containers.create(image, command=["none"],
                                         labels=images.labels("container"))
    try:
        with tempfile.TemporaryFile() as tar_file:
            for chunk in container.export():
                tar_file.write(chunk)
            tar_file.seek(0)
            with tarfile.open(fileobj=tar_file) as tar:
                names = ["/" + m.name.lstrip("./") for m in tar.getmembers() if not m.isdir()]
    finally:
        container.remove(force=True)
    prefix = under.rstrip("/") + "/"
    # The engine adds these to every container; they are not part of the image.
    runtime = {"/.dockerenv", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"}
    return sorted(n for n in names if n.startswith(prefix) and n not in runtime)


@replay.replayable("history")
def history(image: str) -> list[dict]:
    """Return the image's layers, oldest first: size in bytes and the instruction."""
    layers = engine.client().api.history(image)
    rows = []
    for layer in reversed(layers):
        created_by = layer.get("CreatedBy", "")
        for prefix in ("/bin/sh -c #(nop) ", "|1 /bin/sh -c ", "/bin/sh -c "):
            if created_by.startswith(prefix):
                created_by = ("RUN " if prefix != "/bin/sh -c #(nop) " else "") + \
                    created_by[len(prefix):]
                break
        rows.append({"size": layer.get("Size", 0), "instruction": created_by.strip(),
                     "comment": layer.get("Comment", "")})
    return rows


@replay.replayable("size")
def size(image: str) -> int:
    """Return the image's size in bytes."""
    return engine.client().api.inspect_image(image)["Size"]


def _short(image: str) -> str:
    return image[7:19] if image.startswith("sha256:") else image
