"""No-engine mode for engine calls other than builds (runs, file lists, history, BuildKit's
`--call` answers): recorded on a real engine when recording is on, replayed with none."""

from __future__ import annotations

import functools
import inspect
import shlex
from pathlib import Path

from . import engine, lazy, recording
from .errors import EngineUnavailable, StagelabError
from .progress import current_cell
from .replay import (
    RE_RECORD,
    banner_shown_in,
    recording_engine,
    replayed_tags,
    show_banner,
    show_missing,
)

REPLAYED_DOC = (
    "\n\nWith no engine, the answer recorded on a real engine is replayed; "
    "EngineUnavailable is raised when there is none."
)


def _show_call_banner(kind: str, found: dict) -> None:
    """Show the banner once per notebook cell (or once per process outside a notebook)."""
    if current_cell() in banner_shown_in:
        return
    show_banner(
        f"Replayed the recorded output of `{kind}` on Docker Engine "
        f"{found['recorded_engine']}, recorded on {found['recorded_on']}: "
        "no Docker engine is reachable here.",
        kind="call",
    )


def recorded_call(
    kind: str,
    subject: str,
    arguments: dict,
    ask_engine,
    errors: tuple[type[StagelabError], ...] = (),
    folders: dict[str, Path] | None = None,
):
    """Ask the engine (recording its answer when recording is on), or replay with no engine.

    `subject` names what is asked about by content (an image, a Dockerfile and its context),
    `arguments` the rest of the question; both must be JSON. `errors` are the exceptions that
    are answers too: they are recorded and raised again on replay. `folders` names the host
    folders the call writes into: the key holds what each held before the call, the recording
    what each holds after it (success or error), and a replay writes that back. Raises
    EngineUnavailable with no engine and no recording of this question.
    """
    folders = folders or {}
    if folders:
        arguments = dict(
            arguments,
            folders={name: recording.folder_digest(path) for name, path in folders.items()},
        )
    if not engine.answers():
        return _replay_call(
            kind, subject, arguments, {error.__name__: error for error in errors}, folders
        )
    if not recording.recording_on():
        return ask_engine()
    try:
        value = ask_engine()
    except errors as error:
        outcome = {
            "error": {
                "type": type(error).__name__,
                "message": str(error),
                "command": error.command,
                "exit_code": error.exit_code,
                "output": recording.tail(error.output),
            }
        }
        _record_call(kind, subject, arguments, _with_folders(outcome, folders))
        raise
    _record_call(kind, subject, arguments, _with_folders({"value": value}, folders))
    return value


def _with_folders(outcome: dict, folders: dict[str, Path]) -> dict:
    if folders:
        outcome["folders"] = {
            name: recording.folder_snapshot(path) for name, path in folders.items()
        }
    return outcome


def replayable(
    kind: str,
    errors: tuple[type[StagelabError], ...] = (),
    unset_not_keyed: tuple[str, ...] = (),
    folders_argument: str | None = None,
):
    """Make a function of an image record on a real engine and replay when there is none.

    Calls are keyed by the image's id and the call's arguments; an image id of a replayed
    build is the recorded one, so lessons find the outputs recorded for it. Parameters named
    in `unset_not_keyed` are left out of the key while they are None (so a parameter added
    later keeps older recordings valid). `folders_argument` names a parameter holding
    {name: host folder} that the call writes into (see `recorded_call`): the key holds the
    folders' contents, not their paths.
    """

    def decorate(function):
        signature = inspect.signature(function)

        @functools.wraps(function)
        def recorded_or_replayed(image, *args, **kwargs):
            arguments = _call_arguments(signature, image, args, kwargs)
            for name in unset_not_keyed:
                if arguments.get(name) is None:
                    arguments.pop(name, None)
            folders = {}
            if folders_argument is not None:
                given = arguments.pop(folders_argument, None) or {}
                folders = {str(name): Path(path) for name, path in given.items()}
            return recorded_call(
                kind,
                image,
                arguments,
                lambda: function(image, *args, **kwargs),
                errors,
                folders,
            )

        recorded_or_replayed.__doc__ = (inspect.getdoc(function) or "") + REPLAYED_DOC
        return recorded_or_replayed

    return decorate


def _call_arguments(signature, image, args, kwargs) -> dict:
    bound = signature.bind(image, *args, **kwargs)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    arguments.pop(next(iter(signature.parameters)))
    if isinstance(arguments.get("command"), str):
        arguments["command"] = shlex.split(arguments["command"])
    return arguments


def _record_call(kind: str, subject: str, arguments: dict, outcome: dict) -> None:
    # Under the image's id, which a replayed build reports; and under the name asked for
    # (a base image's, say), which a replay asks for again.
    for name in dict.fromkeys([_image_id_on_engine(subject), subject]):
        key = recording.call_key(kind, name, arguments)
        recording.add_take(
            key, {"kind": kind, "image": name, "arguments": arguments}, outcome, recording_engine()
        )


def _image_id_on_engine(subject: str) -> str:
    """Name an image by its id, which a replayed build also reports; other subjects stay."""
    try:
        return engine.client().images.get(subject).id
    except (lazy.docker.errors.DockerException, ValueError):
        return subject


def _replay_call(
    kind: str, subject: str, arguments: dict, error_types: dict, folders: dict[str, Path]
):
    subject = replayed_tags.get(subject, subject)
    key = recording.call_key(kind, subject, arguments)
    found = recording.load(key)
    if found is None:
        shown = " ".join(arguments.get("command") or []) or kind
        raise EngineUnavailable(
            engine.advice_no_engine() + "\n"
            f"There is no recording of `{shown}` on {subject[:40]} to replay "
            f"(recording {key}).\nTo run it for real, start a Docker engine (`stagelab engine "
            "ensure`), or run `make lab` on a machine with Docker.\n" + RE_RECORD
        )
    take = recording.next_take(key, found)
    _show_call_banner(kind, found)
    for name, entries in (take.get("folders") or {}).items():
        show_missing(recording.restore_folder(entries, folders[name]))
    if "error" in take:
        error = take["error"]
        raise error_types.get(error["type"], StagelabError)(
            error["message"],
            command=error["command"],
            exit_code=error["exit_code"],
            output=error["output"],
        )
    return take["value"]
