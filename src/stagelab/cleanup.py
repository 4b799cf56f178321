"""`stagelab clean`: remove what stagelab itself made on this engine, and nothing else.

Labels are inherited (an image built FROM a stagelab image carries stagelab's labels), so they
cannot tell what stagelab made. Instead every build records the ids of the images it made, in
$STAGELAB_HOME/made-images.jsonl (course.py); `clean` removes those, children before parents,
without force: an image a container uses, or that another image is built on, stays.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from . import engine, lazy
from .course import Course
from .images import (
    BASE_IMAGES,
    EXTRA_IMAGES,
    KIND_LABEL,
    LABEL,
    PID_LABEL,
    USER_LABEL,
    current_user,
    forget_standins,
    present,
    require_engine,
)
from .why.ledger import Ledger

RECORD_NAME = "made-images.jsonl"


def remember(image_ids: list[str], tag: str | None = None) -> None:
    """Record that stagelab made these images on the current engine (`tag`: the one it gave)."""
    if not image_ids:
        return
    path = Course.find().state / RECORD_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    host = engine.docker_host()
    with path.open("a") as out:
        for image_id in image_ids:
            out.write(json.dumps({"id": image_id, "engine": host, "tag": tag}) + "\n")


def _recorded() -> list[dict]:
    path = Course.find().state / RECORD_NAME
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            entries.append(entry)
    return entries


@dataclass
class _Candidate:
    image: lazy.docker.models.images.Image
    names: list[str]  # what to remove it by: its tags stagelab gave, else its id


def clean(include_base: bool = False, say=print) -> dict[str, int]:
    """Remove the containers and images stagelab made for this user on this engine.

    Images are those recorded as made by stagelab's builds (remember()); with `include_base`
    the offline stand-ins go too. Nothing is forced: an image a container uses, that another
    image is built on, or that someone tagged with another name, stays. Returns
    {"containers": n, "images": n, "kept": n}; `say` gets a line of what was done. Raises
    EngineUnavailable, saying how to get one, when no engine answers.
    """
    require_engine()
    client = engine.client()
    containers = [
        container
        for container in client.containers.list(
            all=True,
            filters={
                "label": [
                    f"{LABEL}=stagelab",
                    f"{USER_LABEL}={current_user()}",
                    f"{KIND_LABEL}=container",
                ]
            },
        )
        if not _owner_alive(container)
    ]
    for container in containers:
        container.remove(force=True)
    host = engine.docker_host()
    entries = [entry for entry in _recorded() if entry.get("engine") == host]
    others = [entry for entry in _recorded() if entry.get("engine") != host]
    candidates = _candidates(client, entries)
    if include_base:
        candidates += [
            _Candidate(client.images.get(image.standin), [image.standin])
            for image in BASE_IMAGES + EXTRA_IMAGES
            if present(image.standin)
        ]
    removed, kept = _remove_children_first(client, candidates)
    if removed:
        # why() tells a step rebuilt because its cached image went from one rebuilt for a
        # reason it cannot see.
        Ledger(Course.find().state, engine.identity(host), "classic").remember_event(
            "clean", f"{removed} images"
        )
    forget_standins()
    _rewrite([entry for entry in entries if _still_there(client, entry["id"])] + others)
    say(
        f"clean: removed {len(containers)} containers and {removed} images made by stagelab"
        + (
            f"; {kept} stay (a container uses them, an image of yours is built on them, or you "
            "tagged them)"
            if kept
            else ""
        )
    )
    return {"containers": len(containers), "images": removed, "kept": kept}


def remove_tags(*tags: str) -> list[str]:
    """Remove these tags where stagelab's builds gave them on this engine (a lesson's own
    `tag=`), and the image when it was its last name and nothing uses it; never by force.

    A tag stagelab did not give, or that no longer exists, stays as it is. Returns the tags
    removed; [] with no engine (a replayed lesson made none).
    """
    if not engine.answers():
        return []
    client = engine.client()
    host = engine.docker_host()
    given: dict[str, set] = {}
    for entry in _recorded():
        if entry.get("engine") == host and entry.get("tag"):
            given.setdefault(_with_tag(entry["tag"]), set()).add(_full(entry["id"]))
    removed = []
    for tag in map(_with_tag, tags):
        try:
            image_id = client.images.get(tag).id
            if any(image_id.startswith(made) for made in given.get(tag, ())):
                client.api.remove_image(tag, noprune=True)
                removed.append(tag)
        except lazy.docker.errors.APIError:  # gone already, or a container uses it
            continue
    return removed


def _with_tag(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _full(image_id: str) -> str:
    return image_id if image_id.startswith("sha256:") else f"sha256:{image_id}"


def _candidates(client, entries: list[dict]) -> list[_Candidate]:
    tags_given: dict[str, set] = {}
    for entry in entries:
        tags_given.setdefault(entry["id"], set()).update({entry.get("tag")} - {None})
    found: dict[str, _Candidate] = {}
    for short_id, given in tags_given.items():
        try:
            image = client.images.get(short_id)
        except lazy.docker.errors.ImageNotFound:
            continue
        names = {_with_tag(tag) for tag in given}
        if set(image.tags) - names:
            continue  # someone gave it a name of their own: it is theirs now
        known = found.setdefault(image.id, _Candidate(image, []))
        known.names = sorted(set(known.names) | set(image.tags))
    for candidate in found.values():
        candidate.names = candidate.names or [candidate.image.id]
    return list(found.values())


def _remove_children_first(client, candidates: list[_Candidate]) -> tuple[int, int]:
    pending = list(candidates)
    while pending:
        # An image with children cannot go first: each pass removes the newest ones. noprune
        # keeps parents stagelab did not make (a cache another build left) where they are.
        left = []
        for candidate in pending:
            try:
                for name in candidate.names:
                    client.api.remove_image(name, noprune=True)
            except lazy.docker.errors.ImageNotFound:
                continue
            except lazy.docker.errors.APIError:
                left.append(candidate)
        if len(left) == len(pending):
            break
        pending = left
    removed = sum(1 for candidate in candidates if not _still_there(client, candidate.image.id))
    return removed, len(candidates) - removed


def _owner_alive(container) -> bool:
    """Tell whether the process that made this container still runs (it removes it itself)."""
    pid = (container.labels or {}).get(PID_LABEL, "")
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: not ours to judge


def _still_there(client, image_id: str) -> bool:
    try:
        client.images.get(image_id)
        return True
    except lazy.docker.errors.ImageNotFound:
        return False


def _rewrite(entries: list[dict]) -> None:
    path = Course.find().state / RECORD_NAME
    if path.exists() or entries:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(entry) + "\n" for entry in entries))
