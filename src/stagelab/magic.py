"""The %%dockerfile cell magic: build the cell's Dockerfile text with live progress."""

from __future__ import annotations

import argparse
import shlex
import sys

from . import builds
from .context import parse_build_args
from .errors import StagelabError
from .progress import WidgetProgress, auto_progress

USAGE = (
    "%%dockerfile [--target STAGE] [--builder buildkit|classic] [--tag TAG] "
    "[--build-arg KEY=VALUE ...] [--no-cache] [--name VAR]"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise StagelabError(f"%%dockerfile: {message}\nusage: {USAGE}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%%dockerfile", add_help=False)
    parser.add_argument("--target")
    parser.add_argument("--builder", choices=["buildkit", "classic"], default="buildkit")
    parser.add_argument("--tag", "-t")
    parser.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument(
        "--name", metavar="VAR", help="store the BuildResult in this notebook variable"
    )
    return parser


def parse_options(line: str) -> argparse.Namespace:
    """Parse the magic's line into options; raise StagelabError on a mistake."""
    options = _parser().parse_args(shlex.split(line))
    if options.name is not None and not options.name.isidentifier():
        raise StagelabError(f"%%dockerfile: --name {options.name!r} is not a Python name")
    return options


def dockerfile_magic(line: str, cell: str, shell=None):
    """Build the cell's Dockerfile text with `line`'s options; store the result under --name.

    Errors show as their short message on stderr (the notebook's progress board already shows
    a failed build); nothing is raised and nothing is returned.
    """
    progress = auto_progress()
    options = None
    try:
        options = parse_options(line)
        result = builds.build(
            cell,
            target=options.target,
            builder=options.builder,
            build_args=parse_build_args(options.build_arg),
            tag=options.tag,
            no_cache=options.no_cache,
            progress=progress,
        )
    except StagelabError as error:
        # The short message is the advice; a traceback would bury it. The notebook's
        # progress display has already shown it where the build was drawn.
        if not (isinstance(progress, WidgetProgress) and progress.error is error):
            print(f"{type(error).__name__}: {error}", file=sys.stderr)
        result = getattr(error, "result", None)
    if result is not None and options is not None and options.name and shell is not None:
        shell.user_ns[options.name] = result
    return None


def register(ipython) -> None:
    """Register %%dockerfile with this IPython shell."""

    def magic(line, cell):
        return dockerfile_magic(line, cell, ipython)

    magic.__doc__ = f"Build this cell's Dockerfile.\n\nUsage: {USAGE}"
    ipython.register_magic_function(magic, magic_kind="cell", magic_name="dockerfile")
