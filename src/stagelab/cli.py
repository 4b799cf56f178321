"""The `stagelab` command line."""

from __future__ import annotations

import argparse
import sys

from . import engine, images
from .errors import StagelabError


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
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
    except KeyboardInterrupt:
        print("stagelab: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stagelab", description=__doc__)
    commands = parser.add_subparsers(metavar="COMMAND")

    eng = commands.add_parser("engine", help="find or provision the Docker engine")
    eng_commands = eng.add_subparsers(metavar="ACTION")
    eng_commands.add_parser("ensure", help="make sure an engine with buildx answers"
                            ).set_defaults(func=_engine_ensure)

    commands.add_parser("doctor", help="check the engine, buildx, features and base images"
                        ).set_defaults(func=_doctor)
    setup = commands.add_parser("setup", help="engine ensure, images ensure, system tools")
    setup.add_argument("--browser", action="store_true",
                       help="also install Chromium for the browser tests")
    setup.set_defaults(func=_setup)

    img = commands.add_parser("images", help="base images and offline stand-ins")
    img_commands = img.add_subparsers(metavar="ACTION")
    img_commands.add_parser("ensure", help="make every base image usable"
                            ).set_defaults(func=lambda a: images.ensure())
    img_commands.add_parser("list", help="show each base image and its stand-in"
                            ).set_defaults(func=_images_list)
    export = img_commands.add_parser("export", help="save the base images into one archive")
    export.add_argument("file")
    export.set_defaults(func=lambda a: images.export(a.file) and 0)
    load = img_commands.add_parser("import", help="load an archive made by export")
    load.add_argument("file")
    load.set_defaults(func=lambda a: images.import_(a.file))

    clean = commands.add_parser("clean", help="remove only what stagelab created")
    clean.add_argument("--all", action="store_true", help="also remove the offline stand-ins")
    clean.set_defaults(func=lambda a: images.clean(include_base=a.all) and 0)

    plan = commands.add_parser("plan", help="show which stages each builder runs")
    plan.add_argument("dockerfile", help="path to a Dockerfile")
    plan.add_argument("--target")
    plan.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    plan.set_defaults(func=_plan)

    build = commands.add_parser("build", help="build a context and report every stage")
    build.add_argument("context", help="the build context directory")
    build.add_argument("-f", "--file", dest="dockerfile")
    build.add_argument("--target")
    build.add_argument("--builder", choices=["buildkit", "classic"], default="buildkit")
    build.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    build.add_argument("-t", "--tag")
    build.add_argument("--no-cache", action="store_true")
    build.add_argument("--output", help="export the result to a folder instead of an image")
    build.set_defaults(func=_build)

    lab = commands.add_parser("lab", help="hands-on labs: list them, check your work")
    lab_commands = lab.add_subparsers(metavar="ACTION")
    lab_commands.add_parser("list", help="show every lab").set_defaults(func=_lab_list)
    lab_check = lab_commands.add_parser("check", help="build your files and judge each criterion")
    lab_check.add_argument("lab", help="the lab's number, e.g. 02")
    lab_check.add_argument("--dir", help="the folder to check (default: the lab's own folder)")
    lab_check.set_defaults(func=_lab_check)
    commands.add_parser("progress", help="show each lab: not started, attempted or passed"
                        ).set_defaults(func=_progress)
    return parser


def _engine_ensure(args) -> int:
    engine.ensure()
    return 0


def _setup(args) -> int:
    engine.ensure()
    images.ensure()
    engine.ensure_tools(["dot"] + (["chromium"] if args.browser else []))
    return 0


def _doctor(args) -> int:
    findings = engine.doctor()
    for finding in findings:
        mark = "ok  " if finding.ok else "FAIL"
        print(f"{mark} {finding.what:<28} {finding.detail}")
        if finding.advice:
            print(f"     -> {finding.advice}")
    return 0 if all(f.ok for f in findings) else 1


def _images_list(args) -> int:
    for row in images.status():
        where = ("official" if row["official"] else
                 f"stand-in {row['standin']}" if row["standin_present"] else "missing")
        print(f"{row['image']:<28} {where}")
    return 0


def _pairs(items: list[str]) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise StagelabError(f"--build-arg {item!r}: write it as KEY=VALUE")
        pairs[key] = value
    return pairs


def _plan(args) -> int:
    from pathlib import Path

    from .dockerfile import parse_dockerfile

    parsed = parse_dockerfile(Path(args.dockerfile).read_text())
    for builder in ("buildkit", "classic"):
        refs = parsed.plan(args.target, builder, _pairs(args.build_arg))
        print(f"{builder:<9} runs: {', '.join(refs)}")
    return 0


def _build(args) -> int:
    from .build import build

    result = build(args.context, dockerfile=args.dockerfile, target=args.target,
                   builder=args.builder, build_args=_pairs(args.build_arg), tag=args.tag,
                   no_cache=args.no_cache, output=args.output)
    print(repr(result))
    for official, standin in result.substitutions.items():
        print(f"substituted {official} -> {standin}")
    return 0



def _lab_list(args) -> int:
    from . import labs

    for each in labs.all_labs():
        print(f"{each.number}  {each.slug:<24} {each.title}")
    return 0


def _lab_check(args) -> int:
    from . import labs

    chosen = labs.lab(args.lab)
    print(f"Checking lab {chosen.slug} in {args.dir or chosen.path} ...", flush=True)
    report = chosen.check(args.dir, on_result=lambda outcome: print(outcome.text(), flush=True))
    if isinstance(report, labs.NoEngineReport):
        print(repr(report), file=sys.stderr)
        return 1
    print(report.headline())
    return 0 if report.passed else 1


def _progress(args) -> int:
    from . import labs

    print(labs.progress_table())
    print(f"(attempts are recorded in {labs.progress_file()})")
    return 0

if __name__ == "__main__":
    sys.exit(main())
