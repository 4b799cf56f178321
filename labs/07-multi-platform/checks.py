"""Checks for lab 07: one build for two platforms, compiled on the build platform."""

import stagelab as sl
from stagelab.labs import (
    COMPILER_PATHS,
    answer_hint,
    criterion,
    expect,
    pointer_hint,
    question_hint,
)

TITLE = "One build, two CPUs"
GOAL = (
    "Make one build for linux/amd64 and linux/arm64 write, per platform, a `hello` program "
    "for that CPU, compiled on this machine without an emulator."
)
PLATFORMS = ("linux/amd64", "linux/arm64")
# The CPU names an ELF header gives for each platform's programs (sl.elf_machine).
MACHINES = {"linux/amd64": "x86-64", "linux/arm64": "aarch64"}
AFTER_LESSON = "12"
HINTS = [
    question_hint(
        "A RUN in a stage of another CPU needs an emulator, and this machine has none. On which "
        "machine could the stage that compiles run for both targets, and how does it learn "
        "which CPU the program is for?"
    ),
    pointer_hint(
        "12",
        "One program, two CPUs, one build",
        "the build stage runs on the build platform and picks its compiler by the target's "
        "architecture; the last stage takes only the program.",
    ),
    answer_hint(
        "Start the compiling stage `FROM --platform=$BUILDPLATFORM ...`, declare `ARG "
        "TARGETARCH` in it and pick the compiler by it (x86_64-linux-gnu-gcc for amd64, "
        "aarch64-linux-gnu-gcc for arm64); end with `FROM scratch AS release` and "
        "`COPY --from=build /out/hello /hello`."
    ),
]


def folders(work):
    """Return {platform: its exported folder} of the build for both platforms."""
    root = work.export(platforms=PLATFORMS)
    return {platform: root / platform.replace("/", "_") for platform in PLATFORMS}


@criterion(
    "One build for linux/amd64 and linux/arm64 exports a folder per platform",
    hint="Read the failing step in the message above: which platform was it for?",
)
def builds_for_both(work):
    found = folders(work)
    missing = [folder.name for folder in found.values() if not folder.is_dir()]
    expect(not missing, f"no folder {', '.join(missing)}")
    return ", ".join(folder.name + "/" for folder in found.values())


@criterion(
    "Each platform's `hello` is a program for that platform's CPU",
    hint="The compiler must make programs for $TARGETARCH, not for the machine it runs on.",
)
def right_machine(work):
    seen = {}
    for platform, folder in folders(work).items():
        programs = [folder / "hello"] + sorted(folder.rglob("hello"))
        program = next((path for path in programs if path.is_file()), None)
        expect(program is not None, f"there is no file `hello` in {folder.name}/")
        try:
            seen[platform] = sl.elf_machine(program)
        except ValueError:
            seen[platform] = "not a program"
    wrong = {p: m for p, m in seen.items() if m != MACHINES[p]}
    expect(
        not wrong,
        "; ".join(f"{p}'s hello is {m}, not {MACHINES[p]}" for p, m in wrong.items()),
    )
    return "; ".join(f"{p}: {m}" for p, m in seen.items())


@criterion(
    "Every RUN step ran on this machine, for both platforms",
    hint="Which platform does a stage run on when its FROM names none? And with "
    "--platform=$BUILDPLATFORM?",
)
def runs_on_build_platform(work):
    work.export(platforms=PLATFORMS)
    result = work.exported(platforms=PLATFORMS)
    here = sl.machine_platform()
    runs = [step for step in result.steps if step.instruction.upper().startswith("RUN")]
    expect(runs, "the build ran no RUN step: where was hello.c compiled?")
    elsewhere = [
        f"{step.instruction[:40]} ({step.runs_on or step.platform})"
        for step in runs
        if (step.runs_on or step.platform) not in (None, here)
    ]
    expect(
        not elsewhere,
        f"these ran in a stage of another platform than this machine's ({here}): "
        + "; ".join(elsewhere),
    )
    targets = sorted({step.platform for step in runs if step.platform})
    return f"{len(runs)} RUN step(s) on {here}, for {', '.join(targets) or 'one platform'}"


@criterion(
    "The exported stage holds the program only: no compiler, no base image",
    hint="Everything in the exported stage lands in each folder. Which base image has no files?",
)
def program_only(work):
    found = folders(work)
    compilers = []
    others = set()
    for folder in found.values():
        written = sorted(
            "/" + str(path.relative_to(folder)) for path in folder.rglob("*") if not path.is_dir()
        )
        compilers += [
            path
            for path in written
            if any(path == c or path.startswith(c + "/") for c in COMPILER_PATHS)
        ]
        others |= {path for path in written if path != "/hello"}
    expect(not compilers, f"a compiler was exported: {', '.join(compilers[:3])}")
    shown = ", ".join(sorted(others)[:3])
    expect(not others, f"{len(others)} other file(s) were exported: {shown} ...")
    return "each folder holds only hello"
