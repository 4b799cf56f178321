"""Checks for lab 01: the release stage must get its tool from the stage that installs it."""

from stagelab import labs
from stagelab.labs import criterion, expect, fail, last_stage, takes_from

TITLE = "Fix the pipeline"
GOAL = ("The release stage runs `summarize`, a tool only the `tools` stage installs: make the "
        "build work without installing the tool a second time.")
EXPECTED_OUTPUT = "orders: 4\nitems: 14\ntotal: 44.90 EUR"
HINTS = [
    "Run the check and read the failing step: which stage runs `summarize`, and which stage "
    "installed it?",
    "Every stage starts from its own FROM image: nothing from `tools` is in `release` unless "
    "you bring it there.",
    "Either start the release stage with `FROM tools AS release`, or add "
    "`COPY --from=tools /usr/local/bin/summarize /usr/local/bin/summarize` before the RUN.",
]


builds = labs.builds(hint="Exit code 127 means `not found`: the stage that runs `summarize` "
                          "lacks it.")


@criterion("The release stage gets `summarize` from `tools` (FROM tools or COPY --from=tools)",
           hint="Start the last stage `FROM tools`, or `COPY --from=tools` the installed tool.")
def tool_from_tools(work):
    release = last_stage(work.dockerfile)
    expect(takes_from(release, "tools"),
           f"stage {release.label} neither starts FROM tools nor copies anything from it")
    how = "starts FROM tools" if release.parent else "copies from tools"
    return f"stage {release.label} {how}"


@criterion("The release stage does not install `summarize` again",
           hint="Take the installed tool from `tools`; do not copy summarize.sh in a second time.")
def not_reinstalled(work):
    release = last_stage(work.dockerfile)
    for ins in release.steps:
        words = " ".join(ins.value)
        from_context = ins.keyword in ("COPY", "ADD") and not ins.flag("from")
        if (from_context and "summarize" in words) or (
                ins.keyword == "RUN" and "summarize.sh" in words):
            fail(f"line {ins.line} installs it again: {ins}")
    return f"stage {release.label} installs nothing of its own"


prints_summary = labs.prints(EXPECTED_OUTPUT, title="The image prints the right summary",
                             hint="Keep `CMD [\"cat\", \"/report/summary.txt\"]` and the "
                                  "orders.csv you were given.")
