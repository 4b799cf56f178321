"""`stagelab classroom ...`: up, status, credentials, reset, grades, clean, preflight, down.

Everything these commands print goes through terminal.printable: learners shape much of it
(file names, a reset's output, their engine's log), and root's terminal must show it, never
obey it.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

from ..course import Course
from ..errors import StagelabError
from ..labs import all_labs
from . import accounts, hub, lifecycle, preflight, rootless, teardown
from .board import server_state
from .class_lock import holding_class
from .class_record import ClassRecord
from .grades import GRADE_LAYOUTS, grades_csv
from .heatmap import DEFAULT_STUCK_ATTEMPTS, DEFAULT_STUCK_MINUTES
from .layout import Account, ClassroomError, ClassroomLayout
from .learner_runs import as_learner_command, class_attempts, run_as_learner
from .lifecycle import UpOptions
from .settings import HubSettings
from .sizing import parse_size
from .terminal import printable_output
from .usage import prune_build_cache


def _printable(action):
    """Wrap a command so that all it prints, its error message included, is printable."""

    @functools.wraps(action)
    def run(args) -> int:
        with printable_output():
            try:
                return action(args)
            except StagelabError as error:
                print(f"stagelab: {error}", file=sys.stderr)
                return 1

    return run


def add_commands(commands: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Add the `classroom` command and its actions to stagelab's command line; return the
    actions, for the commands other parts add (`image`, stagelab.classroom.kubernetes)."""
    room = commands.add_parser(
        "classroom",
        help="serve a workshop: a hub, a rootless engine per learner, an instructor dashboard",
    )
    actions = room.add_subparsers(metavar="ACTION")
    start = actions.add_parser("up", help="install, create accounts, start the hub (idempotent)")
    _up_arguments(start)
    start.set_defaults(func=_printable(_up))
    state = actions.add_parser("status", help="the hub's URL and each learner's server and engine")
    state.add_argument("--json", action="store_true")
    state.set_defaults(func=_printable(_status))
    actions.add_parser(
        "credentials", help="print NAME PASSWORD lines and write the sheet"
    ).set_defaults(func=_printable(_credentials))
    reset = actions.add_parser("reset", help="restore a learner's lab from starter/ (backed up)")
    reset.add_argument("learner")
    reset.add_argument("lab", nargs="?", help="the lab's number (default: every lab started)")
    reset.set_defaults(func=_printable(_reset))
    grades = actions.add_parser(
        "grades", help="the class's grades as CSV: a row per learner, points per lab and criterion"
    )
    grades.add_argument("--format", choices=GRADE_LAYOUTS, default="csv", help="layout (csv)")
    grades.set_defaults(func=_printable(_grades))
    clean = actions.add_parser("clean", help="prune a learner's engine's build cache")
    clean.add_argument("learner")
    clean.set_defaults(func=_printable(_clean))
    actions.add_parser(
        "preflight", help="what this server lacks for a class, and the fix"
    ).set_defaults(func=_printable(_preflight))
    stop = actions.add_parser("down", help="stop the hub, servers, engines and every process")
    stop.add_argument(
        "--purge",
        action="store_true",
        help="also remove the accounts, disks, homes and engine data `up` created",
    )
    stop.set_defaults(func=_printable(_down))
    return actions


def _up_arguments(start: argparse.ArgumentParser) -> None:
    """What `up` takes; unless given again, each keeps what the class has (lifecycle.UpOptions)."""
    start.add_argument("--learners", type=int, required=True, metavar="N")
    start.add_argument("--port", type=int, help="public port, below 1024 (default: 443, or 80)")
    start.add_argument(
        "--internal-port",
        type=int,
        metavar="PORT",
        help="the hub's own API on 127.0.0.1 (the dashboard on PORT+1), below 1024 (default: 981)",
    )
    start.add_argument("--ip", help="address to listen on (default: all with TLS, else 127.0.0.1)")
    start.add_argument("--tls-cert", type=Path, metavar="FILE", help="TLS certificate (PEM)")
    start.add_argument("--tls-key", type=Path, metavar="FILE", help="its private key (PEM)")
    start.add_argument("--no-tls", action="store_true", help="drop the class's certificate")
    start.add_argument(
        "--domain",
        help="serve each learner on an origin of their own, NAME.DOMAIN (needs TLS for DOMAIN "
        "and *.DOMAIN, and wildcard DNS); '' for one origin",
    )
    start.add_argument(
        "--idle-timeout", type=int, metavar="SECONDS", help="stop servers idle this long (3600)"
    )
    start.add_argument(
        "--stuck-after-checks",
        type=int,
        metavar="N",
        help=f"flag a learner stuck after N failing checks in a row ({DEFAULT_STUCK_ATTEMPTS})",
    )
    start.add_argument(
        "--stuck-after-minutes",
        type=int,
        metavar="M",
        help=f"... or after M minutes failing it ({DEFAULT_STUCK_MINUTES})",
    )
    start.add_argument("--memory", type=parse_size, help="memory per account, e.g. 1.5G")
    start.add_argument("--cpus", type=float, help="CPUs per account, e.g. 1")
    start.add_argument("--tasks", type=int, help="processes and threads per account (2048)")
    start.add_argument("--disk", type=parse_size, help="disk per account, e.g. 10G")


def _up(args) -> int:
    layout = ClassroomLayout.from_environment()
    options = UpOptions(
        learners=args.learners,
        port=args.port,
        internal_port=args.internal_port,
        ip=args.ip,
        idle_timeout_s=args.idle_timeout,
        stuck_checks=args.stuck_after_checks,
        stuck_minutes=args.stuck_after_minutes,
        domain=args.domain,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        no_tls=args.no_tls,
        memory_bytes=args.memory,
        cpus=args.cpus,
        tasks=args.tasks,
        disk_bytes=args.disk,
    )
    lifecycle.require_root("up")  # before the lock, whose file only root may write
    with holding_class(layout, "up"):
        record = lifecycle.up(layout, options)
    print(f"Hub: {record.hub_url}")
    print(
        "Hand out the sheet from `stagelab classroom credentials`; the instructor's "
        f"dashboard is {record.dashboard_url}"
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
    layout, record = _class_here()
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


def _class_here() -> tuple[ClassroomLayout, ClassRecord]:
    """Return the layout and record of the class on this machine; ClassroomError when no
    class is up."""
    layout = ClassroomLayout.from_environment()
    record = ClassRecord.load(layout.record)
    if not record.learners:
        raise ClassroomError("No class here: `stagelab classroom up --learners N` makes one.")
    return layout, record


def _credentials(args) -> int:
    lifecycle.require_root("credentials")
    layout, record = _class_here()
    print("\n".join(accounts.credential_lines(record)))
    print(f"(printable sheet: {accounts.write_sheet(layout, record)})", file=sys.stderr)
    return 0


def _learner_of_class(action: str, name: str) -> tuple[ClassroomLayout, Account]:
    """Return the layout and the account of learner `name` for root's `action`; raise
    ClassroomError when not root, or when `name` is not an account of the class."""
    lifecycle.require_root(action)
    layout, record = _class_here()
    if name not in record.accounts:
        raise ClassroomError(f"{name!r} is not in this class: {', '.join(record.accounts)}.")
    return layout, layout.account(name)


def _reset(args) -> int:
    layout, account = _learner_of_class("reset", args.learner)
    # As the learner, isolated: root never moves files inside a home the learner controls,
    # and nothing in that home runs (learner_runs.py).
    command = as_learner_command(layout, "reset", args.lab or "all")
    done = run_as_learner(layout, account, command)
    output = (done.stdout + done.stderr).decode("utf-8", "replace").strip()
    if done.returncode != 0:
        raise ClassroomError(f"Could not reset {args.learner}'s labs:\n{output}")
    print(output)
    return 0


def _grades(args) -> int:
    lifecycle.require_root("grades")
    layout, record = _class_here()
    found, unread = class_attempts(layout, record.learners)
    for name in unread:
        print(f"{name}'s progress record could not be read: 0 points", file=sys.stderr)
    course = HubSettings.from_json(layout.settings.read_text()).course
    sys.stdout.write(grades_csv(all_labs(Course.find(course).labs), found, args.format))
    return 0


def _clean(args) -> int:
    layout, account = _learner_of_class("clean", args.learner)
    done, output = prune_build_cache(layout, account)
    if not done:
        raise ClassroomError(f"Could not prune {args.learner}'s build cache:\n{output}")
    print(output)
    return 0


def _preflight(args) -> int:
    layout = ClassroomLayout.from_environment()
    record = ClassRecord.load(layout.record)
    present = [layout.account(name) for name in record.accounts if name in record.accounts_created]
    items = preflight.preflight(layout, present, record)
    for item in items:
        print(item.line())
    return 1 if preflight.failed(items) else 0


def _down(args) -> int:
    layout = ClassroomLayout.from_environment()
    lifecycle.require_root("down")
    with holding_class(layout, "down --purge" if args.purge else "down"):
        teardown.down(layout, args.purge)
    return 0
