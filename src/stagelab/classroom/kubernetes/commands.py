"""`stagelab classroom image [--smoke]`: the Kubernetes classroom's images, built and tried;
`stagelab classroom passwords`: its logins, a generated password per name (passwords.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .image_build import build_images
from .passwords import write_passwords
from .smoke import smoke


def add_image_command(classroom_actions: argparse._SubParsersAction) -> None:
    """Add `image` and `passwords` to the actions of `stagelab classroom`."""
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
    passwords = classroom_actions.add_parser(
        "passwords",
        help="make the Kubernetes classroom's logins: a password per learner and for the "
        "instructor, their hashes for helm (passwords.yaml) and the sheet to hand out",
    )
    passwords.add_argument("--learners", type=int, required=True, help="how many learners")
    passwords.add_argument("--url", required=True, help="the class's address, for the sheet")
    passwords.add_argument(
        "--out", type=Path, default=Path("."), help="the folder to write both files into"
    )
    passwords.set_defaults(func=_passwords)


def _image(args) -> int:
    built = build_images(no_cache=args.no_cache)
    print("\n".join(image.line() for image in built))
    if args.smoke:
        print("\n".join(smoke().lines()))
    return 0


def _passwords(args) -> int:
    values, sheet = write_passwords(args.out, args.learners, args.url)
    print(f"{values}: the hashes; add `-f {values}` after `-f config.yaml` to helm upgrade")
    print(f"{sheet}: the names and passwords to hand out (only you may read it)")
    return 0
