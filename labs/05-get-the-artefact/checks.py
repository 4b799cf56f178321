"""Checks for lab 05: build a binary straight into a folder with --output, no image."""

import subprocess

from stagelab.labs import answer_hint, criterion, expect, fail, pointer_hint, question_hint

TITLE = "Get the artefact out"
GOAL = (
    "Make `--output` (sl.build(..., output=folder)) write just the `tool` binary into the "
    "folder: no image, no whole filesystem around it."
)
ARGUMENTS = ["one", "two"]
EXPECTED_OUTPUT = "tool 1.0: 2 argument(s)\n  one\n  two"
AFTER_LESSON = "08"
HINTS = [
    question_hint(
        "`--output` writes the whole filesystem of the target stage into the folder: what does "
        "your last stage hold besides the tool, and where does that come from?"
    ),
    pointer_hint(
        "08",
        "Artefacts out, no image",
        "the folder gets the exported stage's files: only what that stage holds.",
    ),
    answer_hint(
        "End the Dockerfile with `FROM scratch AS artefact` and "
        "`COPY --from=build /out/tool /tool`."
    ),
]


@criterion("The build exports into a folder", hint="Read the failing step in the message above.")
def exports(work):
    folder = work.export()
    count = sum(1 for path in folder.rglob("*") if not path.is_dir())
    return f"{count} file(s) written"


@criterion(
    "The folder holds only the file `tool`",
    hint="`--output` writes the whole file system of the last stage. What is in it?",
)
def only_the_tool(work):
    folder = work.export()
    written = sorted(
        str(path.relative_to(folder)) for path in folder.rglob("*") if not path.is_dir()
    )
    shown = ", ".join(written[:5]) + (f" and {len(written) - 5} more" if len(written) > 5 else "")
    expect(written == ["tool"], f"the folder holds {len(written)} file(s): {shown or 'none'}")
    return "just tool"


@criterion(
    "`tool` runs on this machine and prints the right thing",
    hint="Where in the folder did the binary land, and under what name?",
)
def tool_runs(work):
    folder = work.export()
    tool = folder / "tool"
    elsewhere = sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("tool")
        if path.is_file() and path != tool
    )
    if not tool.is_file() and elsewhere:
        fail(
            f"the binary is in the folder, but at {elsewhere[0]}: it belongs at the top, as `tool`"
        )
    expect(tool.is_file(), "there is no file `tool` at the top of the folder")
    expect(tool.read_bytes()[:4] == b"\x7fELF", "`tool` is not a Linux program")
    done = subprocess.run(
        [str(tool), *ARGUMENTS], capture_output=True, text=True, timeout=30, check=False
    )
    output = done.stdout.strip()
    expect(
        done.returncode == 0 and output == EXPECTED_OUTPUT,
        f"exit code {done.returncode}, printed {output!r}{done.stderr.strip()[-200:]}",
    )
    return f"`tool {' '.join(ARGUMENTS)}` printed the arguments back"


@criterion(
    "No base image's files come out with the tool",
    hint="With --output the last stage is written out whole, base image included: "
    "which base image has no files at all?",
)
def from_scratch(work):
    work.export()
    stage = work.dockerfile.stages[-1]
    chain = [stage]
    while chain[-1].parent is not None:
        chain.append(chain[-1].parent)
    base = chain[-1].base
    expect(
        base == "scratch",
        f"the exported stage ({stage.label}) starts from {base}: all of "
        f"{base}'s files are exported with the tool",
    )
    return f"the exported stage ({stage.label}) starts FROM scratch"
