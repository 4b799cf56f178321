"""The `stagelab` command line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import cleanup, engine, images, labs, machine, provisioning, standins, why_record
from .builds import build
from .classroom.commands import add_commands as add_classroom_commands
from .classroom.kubernetes.commands import add_image_command
from .context import parse_build_args, read_dockerfile
from .doctor import doctor
from .errors import StagelabError
from .render.html import summary_text


def main(argv: list[str] | None = None) -> int:
    """Run the command line with `argv` (default: sys.argv[1:]); return the exit code.

    A StagelabError prints its short message and returns 1; Ctrl-C returns 130; a reader that
    stops early (`stagelab doctor | head`) ends the command quietly, as other commands do.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except StagelabError as error:
        print(f"stagelab: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit: point it at /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command killed by it
    except KeyboardInterrupt:
        print("stagelab: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stagelab", description=__doc__)
    commands = parser.add_subparsers(metavar="COMMAND")

    eng = commands.add_parser("engine", help="find or provision the Docker engine")
    eng_commands = eng.add_subparsers(metavar="ACTION")
    eng_commands.add_parser("ensure", help="make sure an engine with buildx answers").set_defaults(
        func=lambda a: provisioning.ensure_engine() and 0
    )

    doctor_command = commands.add_parser(
        "doctor", help="check the engine, buildx, features and base images"
    )
    doctor_command.add_argument(
        "--fresh",
        action="store_true",
        help="probe the BuildKit features again (kept per engine and buildx otherwise)",
    )
    doctor_command.set_defaults(func=_doctor)
    setup = commands.add_parser("setup", help="engine ensure, images ensure, system tools")
    setup.add_argument(
        "--browser", action="store_true", help="also install Chromium for the browser tests"
    )
    setup.set_defaults(func=_setup)

    img = commands.add_parser("images", help="base images and offline stand-ins")
    img_commands = img.add_subparsers(metavar="ACTION")
    ensure = img_commands.add_parser(
        "ensure",
        help="make every base image usable, and the extra ones the lessons need (or those named)",
    )
    ensure.add_argument(
        "names", nargs="*", metavar="IMAGE", help="an extra image, as golang:1.19-bookworm"
    )
    ensure.set_defaults(
        func=lambda a: standins.ensure_images(extras=a.names or standins.course_images())
    )
    img_commands.add_parser("list", help="show each base image and its stand-in").set_defaults(
        func=_images_list
    )
    export = img_commands.add_parser("export", help="save the base images into one archive")
    export.add_argument("file")
    export.set_defaults(func=lambda a: standins.export(a.file) and 0)
    load = img_commands.add_parser("import", help="load an archive made by export")
    load.add_argument("file")
    load.set_defaults(func=lambda a: standins.import_(a.file))

    clean = commands.add_parser("clean", help="remove only what stagelab created")
    clean.add_argument("--all", action="store_true", help="also remove the offline stand-ins")
    clean.set_defaults(func=lambda a: cleanup.clean(include_base=a.all) and 0)

    plan = commands.add_parser("plan", help="show which stages each builder runs")
    plan.add_argument("dockerfile", help="path to a Dockerfile")
    plan.add_argument("--target")
    plan.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    plan.add_argument(
        "--platform",
        help="target platform, as os/arch (default: the engine's, else this machine's)",
    )
    plan.set_defaults(func=_plan)

    builder = commands.add_parser("build", help="build a context and report every stage")
    builder.add_argument("context", help="the build context directory")
    builder.add_argument("-f", "--file", dest="dockerfile")
    builder.add_argument("--target")
    builder.add_argument("--builder", choices=["buildkit", "classic"], default="buildkit")
    builder.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    builder.add_argument("-t", "--tag")
    builder.add_argument("--no-cache", action="store_true")
    builder.add_argument("--output", help="export the result to a folder instead of an image")
    builder.add_argument(
        "--why", action="store_true", help="say why each stage ran and each step was cached"
    )
    builder.set_defaults(func=_build)

    why = commands.add_parser(
        "why", help="why the last build of a folder ran, skipped or cached each stage and step"
    )
    why.add_argument("folder", nargs="?", default=".", help="the build context (default: here)")
    why.add_argument("--stage", help="only this stage (its name, or index for an unnamed one)")
    why.set_defaults(func=_why)

    lab = commands.add_parser("lab", help="hands-on labs: list them, check your work")
    lab_commands = lab.add_subparsers(metavar="ACTION")
    lab_commands.add_parser("list", help="show every lab").set_defaults(func=_lab_list)
    lab_check = lab_commands.add_parser("check", help="build your files and judge each criterion")
    lab_check.add_argument("lab", help="the lab's number, e.g. 02")
    lab_check.add_argument("--dir", help="the folder to check (default: the lab's own folder)")
    lab_check.set_defaults(func=_lab_check)
    lab_commands.add_parser(
        "tasks", help="write each lab's task.ipynb from the template"
    ).set_defaults(func=_lab_tasks)
    commands.add_parser(
        "progress", help="show each lab: not started, attempted or passed"
    ).set_defaults(func=_progress)
    add_image_command(add_classroom_commands(commands))
    return parser


def _setup(args) -> int:
    machine.setup(browser=args.browser)
    return 0


def _doctor(args) -> int:
    checkup = doctor(fresh=args.fresh)
    print(repr(checkup))
    return 0 if checkup.ok else 1


def _images_list(args) -> int:
    for row in images.status():
        where = (
            "official"
            if row["official"]
            else f"stand-in {row['standin']}"
            if row["standin_present"]
            else "missing"
        )
        print(f"{row['image']:<28} {where}")
    return 0


def _plan(args) -> int:
    parsed = images.parse_dockerfile(read_dockerfile(args.dockerfile))
    platform = args.platform or engine.platform()
    refused = 0
    for builder in ("buildkit", "classic"):
        refs, refusal = parsed.attempt(
            args.target, builder, parse_build_args(args.build_arg), platform
        )
        if refusal is None:
            print(f"{builder:<9} runs: {', '.join(refs)}")
        else:
            refused += 1
            ran = f" (after running {', '.join(refs)})" if refs else ""
            print(f"{builder:<9} refuses{ran}: {refusal}")
    return 1 if refused == 2 else 0


def _build(args) -> int:
    context = Path(args.context)
    if not context.is_dir():
        is_file = (
            f" {context} is a file: give its folder, and -f its name." if context.is_file() else ""
        )
        raise StagelabError(
            f"No folder {context}: give the build context folder (the one holding the "
            f"Dockerfile).{is_file}"
        )
    result = build(
        context,
        # As `docker build -f`: relative to the current folder, not to the context
        # (docker/cli#886 moved it; docker/cli#1549).
        dockerfile=str(Path(args.dockerfile).absolute()) if args.dockerfile else None,
        target=args.target,
        builder=args.builder,
        build_args=parse_build_args(args.build_arg),
        tag=args.tag,
        no_cache=args.no_cache,
        output=args.output,
    )
    if not (sys.stderr is not None and sys.stderr.isatty()):
        # The live board on a terminal ends with this summary; elsewhere it is all there is.
        print(summary_text(result))
    if args.why:
        print(result.why())
    for official, standin in result.substitutions.items():
        print(f"substituted {official} -> {standin}")
    return 0


def _why(args) -> int:
    print(why_record.last_why(args.folder, args.stage))
    return 0


def _lab_list(args) -> int:
    for each in labs.all_labs():
        print(f"{each.number}  {each.slug:<24} {each.title}")
    return 0


def _lab_check(args) -> int:
    chosen = labs.find_lab(args.lab)
    folder = chosen.folder_to_check(args.dir)  # a wrong folder: one line, no attempt
    print(f"Checking lab {chosen.slug} in {folder} ...", flush=True)
    report = chosen.check(args.dir, on_result=lambda outcome: print(outcome.text(), flush=True))
    if isinstance(report, labs.NoEngineReport):
        print(repr(report), file=sys.stderr)
        return 1
    print(report.headline())
    return 0 if report.passed else 1


def _lab_tasks(args) -> int:
    for path in labs.write_task_notebooks():
        print(f"wrote {path}")
    return 0


def _progress(args) -> int:
    print(labs.progress_table())
    print(f"(attempts are recorded in {labs.progress_file()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
