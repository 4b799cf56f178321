"""No-engine mode for engine calls other than builds (runs, file lists, history, BuildKit's
`--call` answers): recorded on a real engine when recording is on, replayed with none."""

from __future__ import annotations

import functools
import inspect
import shlex

from . import engine, lazy, recording
from .errors import EngineUnavailable, StagelabError
from .progress import current_cell
from .replay import RE_RECORD, banner_shown_in, engine_version, replayed_tags, show_banner

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
):
    """Ask the engine (recording its answer when recording is on), or replay with no engine.

    `subject` names what is asked about by content (an image, a Dockerfile and its context),
    `arguments` the rest of the question; both must be JSON. `errors` are the exceptions that
    are answers too: they are recorded and raised again on replay. Raises EngineUnavailable
    with no engine and no recording of this question.
    """
    if not engine.answers():
        return _replay_call(kind, subject, arguments, {error.__name__: error for error in errors})
    if not recording.recording_on():
        return ask_engine()
    try:
        value = ask_engine()
    except errors as error:
        _record_call(
            kind,
            subject,
            arguments,
            {
                "error": {
                    "type": type(error).__name__,
                    "message": str(error),
                    "command": error.command,
                    "exit_code": error.exit_code,
                    "output": recording.tail(error.output),
                }
            },
        )
        raise
    _record_call(kind, subject, arguments, {"value": value})
    return value


def replayable(kind: str, errors: tuple[type[StagelabError], ...] = ()):
    """Make a function of an image record on a real engine and replay when there is none.

    Calls are keyed by the image's id and the call's arguments; an image id of a replayed
    build is the recorded one, so lessons find the outputs recorded for it.
    """

    def decorate(function):
        signature = inspect.signature(function)

        @functools.wraps(function)
        def recorded_or_replayed(image, *args, **kwargs):
            arguments = _call_arguments(signature, image, args, kwargs)
            return recorded_call(
                kind, image, arguments, lambda: function(image, *args, **kwargs), errors
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
            key, {"kind": kind, "image": name, "arguments": arguments}, outcome, engine_version()
        )


def _image_id_on_engine(subject: str) -> str:
    """Name an image by its id, which a replayed build also reports; other subjects stay."""
    try:
        return engine.client().images.get(subject).id
    except (lazy.docker.errors.DockerException, ValueError):
        return subject


def _replay_call(kind: str, subject: str, arguments: dict, error_types: dict):
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
    if "error" in take:
        error = take["error"]
        raise error_types.get(error["type"], StagelabError)(
            error["message"],
            command=error["command"],
            exit_code=error["exit_code"],
            output=error["output"],
        )
    return take["value"]
