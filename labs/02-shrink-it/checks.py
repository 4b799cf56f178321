"""Checks for lab 02: a multi-stage build ships the program without the toolchain."""

from stagelab import labs
from stagelab.labs import (
    COMPILER_PATHS,
    answer_hint,
    criterion,
    expect,
    last_stage,
    pointer_hint,
    question_hint,
)

TITLE = "Shrink it"
GOAL = (
    "The image that runs `hello` carries all of gcc: keep the program working and make the "
    "final image smaller than 50 MB, with no compiler in it."
)
SIZE_LIMIT_MB = 50
EXPECTED_OUTPUT = "\n".join(
    ["Hello from a small image!"] + [f"{n} squared is {n * n}" for n in range(1, 6)]
)
AFTER_LESSON = "05"
HINTS = [
    question_hint(
        "The image is everything its last stage holds. Does running `hello` need the compiler, "
        "or only the binary the compiler made?"
    ),
    pointer_hint(
        "05",
        "Only the copied files land",
        "a stage can take one file from another stage, and nothing else of that stage comes "
        "with it.",
    ),
    answer_hint(
        "Name the compiling stage (`FROM gcc:12-bookworm AS build`) and compile with "
        "`gcc -static` (busybox:1.36, 2 MB, has no C library); then start the last stage "
        "`FROM busybox:1.36` (or scratch) and "
        "`COPY --from=build /usr/local/bin/hello /usr/local/bin/hello` into it."
    ),
]


builds = labs.builds()
prints_output = labs.prints(
    EXPECTED_OUTPUT,
    title="The image prints the right output",
    hint="Does the final image have what the program needs to start? "
    "A binary linked the usual way loads the C library.",
    detail="the greeting and five squares",
)


@criterion(
    f"The final image is smaller than {SIZE_LIMIT_MB} MB",
    hint="Only the last stage ships. What does it start FROM, and how big is that image?",
)
def small(work):
    size_mb = work.build().size_mb
    expect(size_mb < SIZE_LIMIT_MB, f"the final image is {size_mb:.1f} MB")
    return f"the final image is {size_mb:.1f} MB"


no_compiler = labs.holds_none_of(
    COMPILER_PATHS,
    title="The final image holds no compiler",
    hint="The compiler comes with the image the last stage "
    "starts FROM. Could another stage do the compiling?",
)


@criterion(
    "The final stage takes the program from the stage that compiled it",
    hint="How does a file get from one stage into another? (lesson 05)",
)
def copies_program(work):
    parsed = work.dockerfile
    final = last_stage(parsed)
    stages = {stage.ref for stage in parsed.stages}
    copied = [source for source in final.sources if source in stages]
    expect(bool(copied), f"stage {final.label}, the last one, copies from no other stage")
    return f"the last stage copies from {', '.join(copied)}"
