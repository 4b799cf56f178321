"""Checks for lab 01: the release stage must get its tool from the stage that installs it."""

import posixpath

import stagelab as sl
from stagelab import labs
from stagelab.labs import (
    answer_hint,
    criterion,
    expect,
    fail,
    last_stage,
    pointer_hint,
    question_hint,
    takes_from,
)

TITLE = "Fix the pipeline"
GOAL = (
    "The release stage runs `summarize`, a tool only the `tools` stage installs: make the "
    "build work without installing the tool a second time."
)
EXPECTED_OUTPUT = "orders: 4\nitems: 14\ntotal: 44.90 EUR"
TOOL = "summarize"
AFTER_LESSON = "03"
HINTS = [
    question_hint(
        "Read the failing step: which stage runs `summarize`, which stage installed it, and "
        "what does the release stage start from?"
    ),
    pointer_hint(
        "03",
        "The fix: `FROM <stage>`",
        "a stage begins with what its FROM gives it; starting from another stage gives it "
        "everything that stage made.",
    ),
    answer_hint(
        "Start the release stage with `FROM tools AS release`, or copy the installed file in: "
        "`COPY --from=tools /usr/local/bin/summarize /usr/local/bin/summarize` before the RUN."
    ),
]


def search_path(work) -> list[str]:
    """Return the folders a shell searches for commands in the `tools` stage's image."""
    env = sl.image_config(work.build(target="tools").image_id).get("Env") or []
    path = next((item[5:] for item in env if item.startswith("PATH=")), "")
    return [folder for folder in path.split(":") if folder]


def where_copied(release) -> tuple[object, str] | None:
    """Return the first COPY --from=tools of the tool in the release stage, and the path the
    tool lands at (WORKDIR-relative destinations resolved)."""
    workdir = "/"
    for ins in release.steps:
        if ins.keyword == "WORKDIR":
            workdir = posixpath.join(workdir, ins.value[0])
        if ins.keyword != "COPY" or ins.flag("from") != ["tools"]:
            continue
        *sources, destination = ins.value
        if not any(TOOL in source or source.endswith("/") for source in sources):
            continue
        destination = posixpath.join(workdir, destination)
        if destination.endswith("/") or len(sources) > 1 or sources[0].endswith("/"):
            return ins, posixpath.join(destination, TOOL)
        return ins, destination
    return None


def why_not_found(work, failure) -> str:
    """Say what the learner's release stage did with the tool, when the build cannot find it."""
    release = last_stage(work.dockerfile)
    copied = where_copied(release)
    if copied is None:
        return (
            f"stage {release.label} runs `{TOOL}`, and nothing in it comes from `tools`: "
            "it starts from its own FROM image, which has no such tool"
        )
    ins, landed = copied
    folders = search_path(work)
    if posixpath.basename(landed) != TOOL:
        return (
            f"line {ins.line} copies the tool in as {landed}: the shell looks for a file "
            f"named `{TOOL}`"
        )
    if posixpath.dirname(landed) not in folders:
        return (
            f"line {ins.line} copies the tool to {landed}, a folder the shell does not "
            f"search (its PATH is {':'.join(folders)}): `RUN {TOOL}` finds nothing there"
        )
    return str(failure)


@criterion(
    "The image builds",
    hint="Exit code 127 means *not found*: read which step failed, and ask where that "
    "stage would find `summarize`.",
)
def builds(work):
    try:
        result = work.build()
    except sl.BuildFailed as failure:
        if failure.exit_code == 127:
            fail(f"{failure.headline}: {why_not_found(work, failure)}")
        raise
    return f"built in {result.duration_s:.1f} s"


@criterion(
    "The release stage gets `summarize` from the `tools` stage",
    hint="A stage has only what its FROM image gives it and what it copies in: how could "
    "`release` get what `tools` installed?",
)
def tool_from_tools(work):
    release = last_stage(work.dockerfile)
    expect(
        takes_from(release, "tools"),
        f"stage {release.label} neither starts FROM tools nor copies anything from it",
    )
    how = "starts FROM tools" if release.parent else "copies from tools"
    return f"stage {release.label} {how}"


@criterion(
    "The release stage uses the tool `tools` installed, not a second copy",
    hint="`summarize.sh` is the tool's source: the `tools` stage already installed it.",
)
def not_reinstalled(work):
    release = last_stage(work.dockerfile)
    for ins in release.steps:
        words = " ".join(ins.value)
        from_context = ins.keyword in ("COPY", "ADD") and not ins.flag("from")
        if (from_context and TOOL in words) or (ins.keyword == "RUN" and "summarize.sh" in words):
            fail(f"line {ins.line} installs it again: {ins}")
    try:
        work.build()
    except sl.BuildFailed as failure:
        fail(
            f"stage {release.label} has no working `{TOOL}` yet: the build fails at line "
            f"{failure.line}"
        )
    return f"stage {release.label} installs nothing of its own, and its `{TOOL}` runs"


prints_summary = labs.prints(
    EXPECTED_OUTPUT,
    title="The image prints the right summary",
    hint='Keep `CMD ["cat", "/report/summary.txt"]` and the orders.csv you were given.',
)
