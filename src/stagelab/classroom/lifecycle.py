"""Bring a class up: installs, host settings, cgroups, accounts and their disks, engines and
images, the hub; and check it is the class that holds the class's ports.

`up` is idempotent: what exists is kept (accounts, disks, homes and the learners' work, loaded
images, a running hub), and what is not given again (ports, address, domain, TLS, limits) stays
as the class had it. Everything it makes is written to the class record (class_record.ClassRecord)
as it goes, and the files it makes are the layout's list (ClassroomLayout.made_by_class), so
`down --purge` (teardown.py) removes exactly those, even after an `up` that failed half-way.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .. import class_images, images, provisioning, standins
from ..recipes import RECIPES
from . import accounts, hardening, hub, installs, preflight, rootless, sizing, tls
from .cgroups import CgroupFs
from .class_record import ALL_INTERFACES, HTTP_PORT, HTTPS_PORT, LOOPBACK, ClassRecord
from .layout import INSTRUCTOR, Account, ClassroomError, ClassroomLayout, learner_names
from .layout import source_checkout as find_checkout
from .sizing import Limits, Machine


def require_root(action: str) -> None:
    """Raise ClassroomError unless running as root."""
    if os.geteuid() != 0:
        raise ClassroomError(
            f"`stagelab classroom {action}` manages accounts and engines: run it as root (sudo)."
        )


@dataclass(frozen=True)
class UpOptions:
    """What the instructor asks of `up`. None (and "" for the TLS files) keeps what the class
    has, else takes the default: `port` 443 with TLS and 80 without, `ip` every interface with
    TLS and 127.0.0.1 without, limits by the sizing rule (sizing.py). `domain` "" means none
    (one origin for everything); `no_tls` drops a class's certificate."""

    learners: int
    port: int | None = None
    internal_port: int | None = None
    ip: str | None = None
    idle_timeout_s: int | None = None
    stuck_checks: int | None = None
    stuck_minutes: int | None = None
    domain: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    no_tls: bool = False
    memory_bytes: int | None = None
    cpus: float | None = None
    tasks: int | None = None
    disk_bytes: int | None = None


def up(
    layout: ClassroomLayout, options: UpOptions, checkout: Path | None = None, say=print
) -> ClassRecord:
    """Bring up a class as `options` say; return its record.

    Installs what is missing (stagelab and the course from `checkout`, default: the checkout
    stagelab runs from), sets the host settings a shared server needs (hardening.py), makes a
    cgroup per account with its limits (cgroups.py), creates accounts learner01.. and
    `instructor` (each with a password, a subordinate id range and a 0700 home on a disk of its
    own holding its own copy of the course), keeps an archive per base image in a folder every
    account may read (class_images.py) and loads the first lessons' one into each account's
    rootless engine, starts JupyterHub, and checks that each of the class's
    ports is held by the hub or a process it started.
    Raises ClassroomError (with what to fix) or ProvisionError when a step fails.
    """
    require_root("up")
    # The hub installs stagelab from this source, every home gets this course, and root runs
    # its code: nobody else may be able to change it.
    checkout = checkout or find_checkout("`stagelab classroom up`")
    writable = hardening.writable_by_others(checkout)
    if writable:
        raise ClassroomError(
            "Root runs this checkout's code (the hub's config, the dashboard, the labs' "
            "checks), and others can change it:\n  " + "\n  ".join(writable) + "\n"
            "Make it root's alone (chown -R root: and chmod go-w), then retry."
        )
    record = ClassRecord.load(layout.record)
    names = learner_names(options.learners)
    if len(record.learners) > len(names):
        say(f"class: keeping the {len(record.learners)} learners already set up")
        names = record.learners
    record.learners = names
    choose_network(layout, record, options, say)
    # The class's image archives go on the server's disk first: the disks share what is left.
    needs = image_needs(layout, _ensure_engine_and_library(layout, say))
    machine = Machine.this(layout.disks)
    limits = _choose_limits(record, options, machine, say)
    note = sizing.disk_note(limits.disk_bytes, needs)
    if note:
        say(note)
    record.save()
    installs.ensure_rootless_parts(layout, say)
    reinstalled = installs.ensure_hub_environment(layout, checkout, say)
    proxy = installs.ensure_proxy(layout, checkout, say)
    accounts.ensure_group(record)
    record.save()
    needed = sizing.pid_max_needed(limits, len(record.accounts), machine)
    try:
        hardening.set_all(hardening.wanted_settings(needed), record.host_previous, say)
    finally:
        record.save()
    cgroups = CgroupFs()
    if cgroups.version is None:
        raise ClassroomError(preflight.cgroups_item().line())
    cgroups.prepare_class(
        machine.memory_bytes - sizing.SYSTEM_RESERVE_BYTES,
        max(needed or machine.pid_max, machine.pid_max) - sizing.PID_RESERVE,
    )
    class_accounts = []
    for name in record.accounts:
        cgroups.account(name).create(limits)
        try:
            class_accounts.append(accounts.ensure_account(layout, name, record, limits, say))
        finally:
            record.save()
        if name not in record.homes_ready:
            # Only into a home made by this class, before its learner ever logged in: root
            # writes nothing in a home a learner uses (a planted symlink could redirect it).
            accounts.copy_skeleton(class_accounts[-1])
            accounts.copy_course(checkout, class_accounts[-1])
            rootless.link_buildx(layout, class_accounts[-1])
            record.homes_ready.append(name)
            record.save()
    record.tun_acl_added, record.tun_had_acl = (
        (True, record.tun_had_acl) if record.tun_acl_added else rootless.grant_tun(say)
    )
    record.save()
    preflight.require(preflight.preflight(layout, class_accounts, record))
    for account in class_accounts:
        _load_images(layout, account, record, say)
    changed = hub.hub_settings(layout, record, checkout, str(proxy)).write()
    record.save()
    if (reinstalled or changed) and hub.hub_alive(record):
        say("hub: restarting JupyterHub with the new " + ("install" if reinstalled else "settings"))
        hub.stop(record, say)
    hub.start(layout, record, say)
    record.save()
    taken = hub.check_ports(layout, record)
    if taken:
        hub.stop(record, say)
        record.save()
        raise ClassroomError(
            "The hub started, but not every port of the class is the hub's; it was stopped:\n  "
            + "\n  ".join(taken)
        )
    accounts.write_sheet(layout, record)
    say(
        f"class: {len(record.learners)} learners and {INSTRUCTOR}, each with "
        + ", ".join(limits.lines())
    )
    say("class: credentials: `stagelab classroom credentials`")
    return record


def choose_network(layout: ClassroomLayout, record: ClassRecord, options: UpOptions, say) -> None:
    """Set the record's TLS, domain, address and ports from `options`; check they hold."""
    if options.tls_cert or options.tls_key:
        if not (options.tls_cert and options.tls_key):
            raise ClassroomError("Give both --tls-cert and --tls-key (or neither).")
        domain = options.domain if options.domain is not None else record.domain
        tls.install_certificate(layout, options.tls_cert, options.tls_key, domain)
        record.tls = True
    elif options.no_tls:
        record.tls = False
    else:
        record.tls = record.tls and tls.has_certificate(layout)
    if options.domain is not None:
        record.domain = options.domain.strip().lower().rstrip(".")
    if record.domain and not record.tls:
        raise ClassroomError(
            f"A class on its own domain ({record.domain}) needs TLS: give --tls-cert and "
            f"--tls-key a certificate for {record.domain} and *.{record.domain}."
        )
    # A class on a default port follows TLS (443 or 80); one on a port of its choice keeps it.
    default_port = HTTPS_PORT if record.tls else HTTP_PORT
    if options.port is not None:
        record.port = options.port
    elif record.port in (HTTP_PORT, HTTPS_PORT):
        record.port = default_port
    record.internal_port = options.internal_port or record.internal_port
    if options.ip is not None:
        record.ip = options.ip
    elif not record.path.exists():  # a new class
        record.ip = "" if record.tls else LOOPBACK
    if options.idle_timeout_s is not None:
        record.idle_timeout_s = options.idle_timeout_s
    record.stuck_checks = options.stuck_checks or record.stuck_checks
    record.stuck_minutes = options.stuck_minutes or record.stuck_minutes
    lowest = hardening.unprivileged_port_start()
    ports = [record.port, record.internal_port, record.internal_port + 1]
    if max(ports) >= lowest or min(ports) < 1:
        raise ClassroomError(
            f"The class listens on ports {', '.join(map(str, ports))}; every one must be "
            f"below {lowest} (net.ipv4.ip_unprivileged_port_start), where only root may bind, "
            "so that no learner can take one. Pass --port and --internal-port below it."
        )
    if not record.tls and record.ip in ALL_INTERFACES:
        say(
            "WARNING: without TLS, passwords and session cookies cross the network in clear "
            "text. Give --tls-cert and --tls-key, or keep --ip 127.0.0.1 behind a TLS proxy."
        )


def _choose_limits(record: ClassRecord, options: UpOptions, machine: Machine, say) -> Limits:
    """Return each account's limits: those given, else the class's, else the sizing rule's."""
    accounts_count = len(record.accounts)
    limits = record.account_limits or sizing.default_limits(accounts_count, machine)
    given = {
        "memory_bytes": options.memory_bytes,
        "cpus": options.cpus,
        "tasks": options.tasks,
        "disk_bytes": options.disk_bytes,
    }
    limits = replace(limits, **{key: value for key, value in given.items() if value is not None})
    new_disks = len([name for name in record.accounts if name not in record.disks_made])
    problems = sizing.check_fits(limits, new_disks, machine)
    if problems:
        raise ClassroomError("The limits do not fit this server:\n  " + "\n  ".join(problems))
    if limits.memory_bytes * accounts_count > machine.memory_bytes - sizing.SYSTEM_RESERVE_BYTES:
        say(
            f"note: {accounts_count} accounts x {sizing.size_text(limits.memory_bytes)} is more "
            f"than this server's {sizing.size_text(machine.memory_bytes)}: fine while few build "
            "at once (an idle learner takes about 0.25 GiB)"
        )
    record.limits = limits.to_json()
    return limits


def _ensure_engine_and_library(layout: ClassroomLayout, say) -> list[images.BaseImage]:
    """Make the class's image library (class_images.py) unless it is complete: an archive per
    base image the course uses (cross-gcc too), in a folder root owns, every account may read
    and none may write. Return the images it holds."""
    if not layout.engine.rootless_script.exists():
        provisioning.Provisioner(say, layout.engine).install_engine()
    layout.state.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(layout.state, 0o700)
    library = layout.image_library
    # With the images stagelab makes on first use elsewhere (cross-gcc, lessons 12 and lab
    # 07): a learner's engine cannot make them offline, so the class keeps them too.
    on_demand = [image.official for image in images.EXTRA_IMAGES if image.on_demand]
    chosen = standins.wanted(standins.course_images() + on_demand)
    if all((library / class_images.archive_name(image)).is_file() for image in chosen):
        return chosen
    provisioning.ensure_engine(say)
    standins.ensure_images(say, extras=[image.official for image in chosen])
    library.mkdir(mode=0o755, parents=True, exist_ok=True)
    os.chown(library, 0, 0)
    os.chmod(library, 0o755)
    for image in chosen:
        path = library / class_images.archive_name(image)
        if path.is_file():
            continue
        partial = path.with_suffix(".partial")
        names = [name for name in (image.official, image.standin) if images.present(name)]
        provisioning.run_command(
            ["docker", "image", "save", "-o", str(partial), *names],
            f"save {image.official} for the class",
        )
        os.chmod(partial, 0o644)
        partial.replace(path)
    say(f"images: the class's base images are in {library}, one archive each")
    return chosen


def image_needs(layout: ClassroomLayout, chosen: list[images.BaseImage]) -> list[sizing.ImageNeed]:
    """Return what each of the class's base images takes on an account's disk (sizing.py): its
    size on the server's engine less that of the images it is built on, and its archive's."""
    sizes = {}
    for image in chosen:
        found = images.inspect_image(image.official) or images.inspect_image(image.standin)
        sizes[image.official] = found["Size"] if found else 0
    needs = []
    for image in chosen:
        below = max((sizes.get(name, 0) for name in RECIPES[image.recipe].after), default=0)
        archive = layout.image_library / class_images.archive_name(image)
        needs.append(
            sizing.ImageNeed(
                image.official,
                max(0, sizes[image.official] - below),
                archive.stat().st_size,
                tuple(standins.used_in(image)),
                RECIPES[image.recipe].after,
            )
        )
    return needs


# What `up` loads into every engine: the first lessons' one image (busybox, 2 MB; lessons
# 01-04 use nothing else). Every other base image is loaded by the first build that names it
# (class_images.py): loading all nine took 5 GiB of disk per account.
LOADED_AT_UP = (images.BUSYBOX,)


def _load_images(layout: ClassroomLayout, account: Account, record: ClassRecord, say) -> None:
    if account.name in record.images_loaded:
        return
    started = time.monotonic()
    running = rootless.engine_pid(account) is not None
    rootless.start_engine(layout, account)
    loaded = []
    try:
        for name in LOADED_AT_UP:
            path = layout.image_library / class_images.archive_name(images.BY_OFFICIAL[name])
            loaded += rootless.load_images(layout, account, path)
    finally:
        if not running:
            rootless.stop_engine(account)
    record.images_loaded.append(account.name)
    record.save()
    say(
        f"engines: {account.name}: loaded {', '.join(loaded)} in "
        f"{time.monotonic() - started:.1f} s; other base images load on first use"
    )
