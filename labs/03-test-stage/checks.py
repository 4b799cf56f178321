"""Checks for lab 03: a test stage that runs on demand and never ships."""

import re
from pathlib import PurePosixPath

import stagelab as sl
from stagelab import labs
from stagelab.labs import answer_hint, criterion, expect, fail, pointer_hint, question_hint

TITLE = "Add a test stage"
GOAL = (
    "Add a stage named `test` that runs the tests, so `--target test` fails on broken "
    "code, while the default build skips it and ships no test files."
)
EXPECTED_OUTPUT = "Hello, stagelab!"
# The check builds a copy of your files with this greet.py: the tests must catch it.
BROKEN_GREET = '''"""A greet.py broken on purpose by the lab's check."""

import sys


def greet(name: str) -> str:
    return "Goodbye"


if __name__ == "__main__":
    print(greet(sys.argv[1] if len(sys.argv) > 1 else "stagelab"))
'''
# The Python in the image brings test modules of its own; they are not yours.
SYSTEM_FOLDERS = ("/usr/lib/python3", "/usr/local/lib/python3")
AFTER_LESSON = "04"
HINTS = [
    question_hint(
        "Which stages does BuildKit run for a target: all of them, or only those the target "
        "needs? And what does the stage that ships need of the tests?"
    ),
    pointer_hint(
        "04",
        "Do not rely on build order to run tests",
        "a test stage that the shipped stage does not need runs only when it is the target.",
    ),
    answer_hint(
        "Three stages: `FROM python:3.11-slim-bookworm AS base` with `COPY greet.py .`; "
        "`FROM base AS test` with `COPY tests/ tests/` and "
        "`RUN python -m unittest discover -s tests -v`; and `FROM base AS release`, last, "
        "with the CMD."
    ),
]


builds = labs.builds(title="The default build succeeds")
greets = labs.prints(
    EXPECTED_OUTPUT,
    title="The default image greets",
    hint='Keep `CMD ["python", "greet.py"]` in the last stage, with greet.py next to it.',
)


@criterion(
    "`--target test` builds and the tests pass",
    hint="Is there a stage named `test`? It needs the tests, and must run them.",
)
def test_target_passes(work):
    result = work.build(target="test")
    ran = re.search(r"^\s*Ran (\d+) tests? ", result.log, re.MULTILINE)
    if ran:
        return f"{ran.group(1)} test(s) ran and passed"
    return f"stage test {result.stage_status['test']} (its tests passed when it was built)"


@criterion(
    "`--target test` fails when the code is broken",
    hint="The test stage must RUN the tests against the greet.py it copies.",
)
def test_target_catches_bugs(work):
    work.build(target="test")  # a test stage that fails on good code proves nothing
    broken = work.variant({"greet.py": BROKEN_GREET})
    try:
        broken.build(target="test")
    except sl.BuildFailed as error:
        expect(
            error.exit_code not in (None, 0),
            f"it failed, but not in a step that ran the tests:\n{error}",
        )
        return f"with a broken greet.py, line {error.line} failed with exit code {error.exit_code}"
    fail(
        "with greet.py broken on purpose, `--target test` still succeeded: "
        "do the tests run, on the greet.py the stage copied?"
    )


@criterion(
    "The default build skips the test stage (BuildKit)",
    hint="BuildKit skips the stages the target does not need. Does the last stage need `test`?",
)
def default_skips_tests(work):
    work.dockerfile.stage("test")
    status = work.build().stage_status["test"]
    expect(status == "skipped", f"the default build ran the test stage: it was {status}")
    return "stage test: skipped"


@criterion(
    "The shipped image holds no test files",
    hint="What does `COPY . .` bring into the stage that ships?",
)
def ships_no_tests(work):
    mine = {path.name for path in work.path.rglob("test_*.py")}
    expect(bool(mine), "no test_*.py files in your folder to look for")
    shipped = [
        path
        for path in sl.files(work.build().image_id)
        if PurePosixPath(path).name in mine and not path.startswith(SYSTEM_FOLDERS)
    ]
    expect(not shipped, f"the image holds {', '.join(shipped)}")
    return f"none of {', '.join(sorted(mine))} in the image"
