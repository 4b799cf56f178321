"""`stagelab classroom image [--smoke]`: the Kubernetes classroom's images, built and tried."""

from __future__ import annotations

import argparse

from .image_build import build_images
from .smoke import smoke


def add_image_command(classroom_actions: argparse._SubParsersAction) -> None:
    """Add `image` to the actions of `stagelab classroom`."""
    image = classroom_actions.add_parser(
        "image",
        help="build the Kubernetes classroom's learner and engine images "
        "(classroom/kubernetes/); --smoke runs them as a learner's pod would",
    )
    image.add_argument(
        "--smoke",
        action="store_true",
        help="then run both, sharing a socket volume, and lessons 01 and 02 "
        "in the learner's container against the engine's",
    )
    image.add_argument("--no-cache", action="store_true", help="build every step again")
    image.set_defaults(func=_image)


def _image(args) -> int:
    built = build_images(no_cache=args.no_cache)
    print("\n".join(image.line() for image in built))
    if args.smoke:
        print("\n".join(smoke().lines()))
    return 0
