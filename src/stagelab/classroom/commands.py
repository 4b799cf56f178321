"""`stagelab classroom ...`: up, status, credentials, reset, preflight, down."""

from __future__ import annotations

import argparse
import json
import sys

from ..provisioning import run_command
from . import accounts, hub, lifecycle, preflight, rootless
from .board import server_state
from .layout import (
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_PORT,
    Account,
    ClassRecord,
    ClassroomError,
    ClassroomLayout,
)


def add_commands(commands: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Add the `classroom` command and its actions to stagelab's command line; return the
    actions, for the commands other parts add (`image`, stagelab.classroom.kubernetes)."""
    room = commands.add_parser(
        "classroom",
        help="serve a workshop: a hub, a rootless engine per learner, an instructor dashboard",
    )
    actions = room.add_subparsers(metavar="ACTION")
    start = actions.add_parser("up", help="install, create accounts, start the hub (idempotent)")
    start.add_argument("--learners", type=int, required=True, metavar="N")
    start.add_argument("--port", type=int, default=DEFAULT_PORT)
    start.add_argument("--ip", default="", help="address to listen on (default: all)")
    start.add_argument(
        "--idle-timeout",
        type=int,
        default=DEFAULT_IDLE_TIMEOUT_S,
        metavar="SECONDS",
        help="stop servers idle this long (default: 3600)",
    )
    start.set_defaults(func=_up)
    state = actions.add_parser("status", help="the hub's URL and each learner's server and engine")
    state.add_argument("--json", action="store_true")
    state.set_defaults(func=_status)
    actions.add_parser(
        "credentials", help="print NAME PASSWORD lines and write the sheet"
    ).set_defaults(func=_credentials)
    reset = actions.add_parser("reset", help="restore a learner's lab from starter/ (backed up)")
    reset.add_argument("learner")
    reset.add_argument("lab", nargs="?", help="the lab's number (default: every lab started)")
    reset.set_defaults(func=_reset)
    actions.add_parser(
        "preflight", help="what this server lacks for rootless engines"
    ).set_defaults(func=_preflight)
    stop = actions.add_parser("down", help="stop the hub, servers and engines")
    stop.add_argument(
        "--purge",
        action="store_true",
        help="also remove the accounts, homes and engine data `up` created",
    )
    stop.set_defaults(func=_down)
    return actions


def _up(args) -> int:
    layout = ClassroomLayout.from_environment()
    record = lifecycle.up(layout, args.learners, args.port, args.ip, args.idle_timeout)
    print(f"Hub: {record.hub_url}")
    print(
        "Hand out the sheet from `stagelab classroom credentials`; the instructor's "
        f"dashboard is {record.hub_url}services/dashboard/"
    )
    return 0


def status_document(layout: ClassroomLayout, record: ClassRecord) -> dict:
    """Return the class's status: hub_url and, per learner, name, uid, server, docker_host,
    engine_pid and images (None while the engine is down)."""
    users = hub.users(record)
    by_name = {user["name"]: user for user in users or []}
    learners = []
    for name in record.learners:
        try:
            account = layout.account(name)
        except ClassroomError:
            continue
        learners.append(
            {
                "name": name,
                "uid": account.uid,
                "server": server_state(by_name.get(name)) if users is not None else "hub down",
                "docker_host": account.docker_host,
                "engine_pid": rootless.engine_pid(account),
                "images": rootless.engine_images(layout, account),
            }
        )
    return {"hub_url": record.hub_url if hub.hub_alive(record) else None, "learners": learners}


def _status(args) -> int:
    layout = ClassroomLayout.from_environment()
    record = ClassRecord.load(layout.record)
    if not record.learners:
        raise ClassroomError("No class here: `stagelab classroom up --learners N` makes one.")
    document = status_document(layout, record)
    if args.json:
        print(json.dumps(document, indent=1))
        return 0
    print(f"hub: {document['hub_url'] or 'not running'}")
    print(f"{'learner':<10} {'uid':>6}  {'server':<9} {'engine':>7}  images  DOCKER_HOST")
    for row in document["learners"]:
        images = "-" if row["images"] is None else str(len(row["images"]))
        print(
            f"{row['name']:<10} {row['uid']:>6}  {row['server']:<9} "
            f"{row['engine_pid'] or '-':>7}  {images:>6}  {row['docker_host']}"
        )
    return 0


def _credentials(args) -> int:
    lifecycle.require_root("credentials")
    layout = ClassroomLayout.from_environment()
    record = ClassRecord.load(layout.record)
    if not record.passwords:
        raise ClassroomError("No class here: `stagelab classroom up --learners N` makes one.")
    print("\n".join(accounts.credential_lines(record)))
    print(f"(printable sheet: {accounts.write_sheet(layout, record)})", file=sys.stderr)
    return 0


def reset_command(
    layout: ClassroomLayout, account: Account, lab: str | None
) -> tuple[list[str], dict[str, str]]:
    """Return the command line `stagelab classroom reset` runs as the learner, and its
    environment: the hub environment's stagelab resets `lab` (every lab started, for None) in
    the learner's copy of the course, which it finds from the working folder, their home."""
    command = [
        str(layout.venv / "bin" / "python"),
        "-m",
        "stagelab.classroom.as_learner",
        "reset",
        lab or "all",
    ]
    return command, rootless.engine_environment(layout, account)


def _reset(args) -> int:
    lifecycle.require_root("reset")
    layout = ClassroomLayout.from_environment()
    record = ClassRecord.load(layout.record)
    if args.learner not in record.accounts:
        raise ClassroomError(
            f"{args.learner!r} is not in this class: "
            f"{', '.join(record.accounts) or 'no class is up'}."
        )
    account = layout.account(args.learner)
    command, environment = reset_command(layout, account, args.lab)
    # As the learner: root never moves files inside a home the learner controls.
    done = run_command(
        command,
        f"reset {args.learner}'s labs",
        env=environment,
        cwd=account.home,
        user=account.uid,
        group=account.gid,
        extra_groups=account.groups,
    )
    print(done.stdout.strip())
    return 0


def _preflight(args) -> int:
    layout = ClassroomLayout.from_environment()
    record = ClassRecord.load(layout.record)
    present = [layout.account(name) for name in record.accounts if name in record.accounts_created]
    items = preflight.preflight(layout, present)
    for item in items:
        print(item.line())
    return 1 if preflight.failed(items) else 0


def _down(args) -> int:
    lifecycle.down(ClassroomLayout.from_environment(), args.purge)
    return 0
