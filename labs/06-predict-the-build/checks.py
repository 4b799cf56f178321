"""Checks for lab 06: predictions of what each builder runs, judged on real builds."""

from pathlib import Path

from stagelab import labs
from stagelab.labs import answer_hint, criterion, expect, pointer_hint, question_hint

TITLE = "Predict the build"
GOAL = (
    "Without changing the Dockerfile, predict for five builds which stages each builder runs "
    "and whether, and where, the build fails; the check runs each build and compares."
)
AFTER_LESSON = "04"
EDIT = labs.PREDICTIONS
GIVEN = Path(__file__).parent / "starter" / "Dockerfile"
HINTS = [
    question_hint(
        "For each build: which stage is the target, which stages does it start FROM or copy "
        "from, and which stages come before it in the file? Does each builder care about the "
        "same ones?"
    ),
    pointer_hint(
        "04",
        "The two builders side by side",
        "the same Dockerfile and target, built by each builder: what each one ran and skipped.",
    ),
    answer_hint(
        "BuildKit runs the target and the stages it needs through FROM and COPY --from, nothing "
        "else: `build` needs `base`, the last stage needs `build`, `test` needs `build`, and "
        "`docs` needs nothing. The classic builder runs every stage in file order up to the "
        "target. A build stops in the first stage whose RUN fails: `docs` lists a folder that "
        "does not exist, and `test` looks for lint's file, which it does not inherit."
    ),
]


@criterion(
    "The Dockerfile is the one the lab gives",
    hint="Predict, do not edit: the questions are about the given Dockerfile.",
)
def given_dockerfile(work):
    expect(
        work.read("Dockerfile") == GIVEN.read_text(),
        "your Dockerfile differs from starter/Dockerfile: the predictions are judged on the "
        "given one (copy it back to see what you are predicting)",
    )
    return "unchanged"


question_1 = labs.predicted_build(
    1, target=None, builder="buildkit", title="Question 1: BuildKit, no target", given=GIVEN
)
question_2 = labs.predicted_build(
    2,
    target=None,
    builder="classic",
    title="Question 2: the classic builder, no target",
    given=GIVEN,
)
question_3 = labs.predicted_build(
    3, target="test", builder="buildkit", title="Question 3: BuildKit, `--target test`", given=GIVEN
)
question_4 = labs.predicted_build(
    4,
    target="lint",
    builder="classic",
    title="Question 4: the classic builder, `--target lint`",
    given=GIVEN,
)
question_5 = labs.predicted_build(
    5, target="docs", builder="buildkit", title="Question 5: BuildKit, `--target docs`", given=GIVEN
)
