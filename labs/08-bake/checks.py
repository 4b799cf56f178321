"""Checks for lab 08: two targets of one Dockerfile in one bake, their shared stage run once."""

import stagelab as sl
from stagelab.labs import answer_hint, criterion, expect, pointer_hint, question_hint

TITLE = "Two targets, one bake"
GOAL = (
    "Make one `docker buildx bake` build the targets app and tests, and run the stage they "
    "share once for both."
)
TARGETS = ("app", "tests")
EXPECTED = {"app": "app: 6 words", "tests": "tests: passed"}
AFTER_LESSON = "13"
HINTS = [
    question_hint(
        'A bake builds the targets its group "default" names: how many does it name now? '
        "And where could the sorting live so that both targets take it from one place?"
    ),
    pointer_hint(
        "13",
        "Two targets, one bake",
        "a group names both targets, and the stage both copy from runs once for both.",
    ),
    answer_hint(
        'Add `target "tests" { target = "tests" }` and `targets = ["app", "tests"]` '
        "in the group; move the sorting into `FROM busybox:1.36 AS dictionary` and make "
        "both `app` and `tests` `COPY --from=dictionary /dictionary /dictionary`."
    ),
]


@criterion("The bake file bakes", hint="Read the message above: buildx says what it cannot read.")
def bakes(work):
    baked = work.bake()
    return f"baked {', '.join(baked.results)} in {baked.duration_s:.1f} s"


@criterion(
    "One bake builds both targets, app and tests",
    hint='Which targets does the group "default" name?',
)
def both_targets(work):
    baked = work.bake()
    missing = [name for name in TARGETS if name not in baked.results]
    expect(not missing, f"the bake built {', '.join(baked.results)}: not {', '.join(missing)}")
    return f"the bake built {', '.join(baked.results)}"


@criterion(
    "Each target's image prints what it should",
    hint="Run each target's image: what does its default command print?",
)
def targets_right(work):
    baked = work.bake()
    printed = {
        name: sl.run(baked.results[name].image_id).strip()
        for name in TARGETS
        if name in baked.results
    }
    wrong = {name: text for name, text in printed.items() if text != EXPECTED[name]}
    expect(len(printed) == len(TARGETS), f"only {', '.join(printed) or 'no'} target(s) were baked")
    expect(
        not wrong,
        "; ".join(
            f"{name} printed {text!r}, expected {EXPECTED[name]!r}" for name, text in wrong.items()
        ),
    )
    return "; ".join(printed.values())


@criterion(
    "The stage both targets need ran once for both",
    hint="Two stages that each sort the list are two pieces of work. Where could the sorting "
    "live so that both targets take it from the same place?",
)
def shared_once(work):
    shared = work.bake().shared_stages()
    both = [stage for stage, names in shared.items() if set(TARGETS) <= set(names)]
    expect(
        both,
        "no stage ran once for both targets"
        + (f" (shared: {shared})" if shared else ": each target ran all of its own stages"),
    )
    return f"{', '.join(both)} ran once for {' and '.join(TARGETS)}"
