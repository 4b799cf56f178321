"""Criteria for a lab where the learner predicts rather than edits: for a given Dockerfile,
target and builder, which stages the build runs and where, if anywhere, it fails.

The learner writes the predictions in an INI file (`predictions.ini`), one section a question:

    [question 1]
    runs = base, build, 5
    fails = nothing

`runs` lists the stages the build runs (built or taken from the cache), by name, index (`5`)
or BuildKit's `stage-5`; `fails` is `nothing` or the stage the build fails in. Each criterion
builds the lab's given Dockerfile for real and compares; a wrong prediction is told why, from
the build's own record and each builder's rule (predictions/reasons.py), never raised.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path

from ..dockerfile import Dockerfile
from ..errors import BuildFailed
from ..predictions import reasons
from ..predictions.kinds import stage_names
from ..results import BuildResult
from .criteria import Criterion, Workspace, expect, fail

PREDICTIONS = "predictions.ini"
SUCCEEDS = "nothing"
SUCCESS_WORDS = {"nothing", "none", "no", "succeeds", "success", "it succeeds"}
BUILDER_NAMES = {"buildkit": "BuildKit", "classic": "the classic builder"}


def read_predictions(work: Workspace) -> configparser.ConfigParser:
    """Return the learner's predictions file, parsed; fail the criterion, saying where, when
    it is missing or is not an INI file."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(work.read(PREDICTIONS), source=PREDICTIONS)
    except configparser.Error as error:
        first = str(error).splitlines()[0]
        fail(f"{PREDICTIONS} cannot be read: {first}. `lab.reset()` brings the blank one back.")
    return parser


def given_workspace(work: Workspace, given: Path) -> Workspace:
    """Return `work`, or a copy of it with the given Dockerfile when the learner changed it:
    predictions are judged on the Dockerfile the lab gives."""
    text = given.read_text()
    return work if work.read("Dockerfile") == text else work.variant({"Dockerfile": text})


def said_stages(text: str, aliases: dict[str, str]) -> tuple[set[str], list[str]]:
    """Return the stages a `runs =` value names (as labels), and the words that name none."""
    named, unknown = set(), []
    for word in re.split(r"[,\s]+", text.strip()):
        if not word:
            continue
        label = aliases.get(word.strip("`'\"").lower())
        if label is None:
            unknown.append(word)
        else:
            named.add(label)
    return named, unknown


def said_failure(text: str, aliases: dict[str, str]) -> str | None:
    """Return the stage a `fails =` value names, SUCCEEDS, or None when it names neither."""
    word = text.strip().strip("`'\"").lower()
    if word in SUCCESS_WORDS:
        return SUCCEEDS
    return aliases.get(word)


@dataclass
class Done:
    """What a build did: its result (the failure's, when it failed), the stages it ran
    (labels), where it failed (a label, or SUCCEEDS) and the BuildFailed (None: it succeeded)."""

    result: BuildResult
    ran: set[str]
    where: str
    failure: BuildFailed | None


def what_the_build_did(work: Workspace, target: str | None, builder: str) -> Done:
    """Build for real and return what the build did; fail the criterion when the build
    failed before any stage ran (the lab's Dockerfile does not do that)."""
    try:
        result, failure = work.build(target=target, builder=builder), None
    except BuildFailed as failed:
        result, failure = failed.result, failed
        expect(result is not None, f"the build failed before any stage ran: {failed}")
    labels = {stage.ref: stage.label for stage in result.dockerfile.stages}
    ran = {labels[ref] for ref, status in result.stage_status.items() if status != "skipped"}
    where = SUCCEEDS if failure is None else labels.get(failure.stage, failure.stage)
    return Done(result, ran, where, failure)


def predicted_build(
    number: int, *, target: str | None, builder: str, title: str, given: Path
) -> Criterion:
    """A criterion met when the learner's [question N] predicts which stages the build of the
    Dockerfile at `given` with this `target` (None: the default) and `builder` ("buildkit" or
    "classic") runs, and whether and where it fails. Its key is `question_N`."""
    section = f"question {number}"

    def test(work: Workspace) -> str:
        answers = read_predictions(work)
        expect(
            answers.has_section(section),
            f"{PREDICTIONS} has no [{section}]: `lab.reset()` brings the blank file back",
        )
        runs_text = answers.get(section, "runs", fallback="").strip()
        fails_text = answers.get(section, "fails", fallback="").strip()
        expect(
            bool(runs_text and fails_text),
            f"no prediction yet: fill in both `runs =` and `fails =` under [{section}]",
        )
        labels, aliases = stage_names(Dockerfile(Path(given).read_text()))
        runs_said, unknown = said_stages(runs_text, aliases)
        fails_said = said_failure(fails_text, aliases)
        problems = []
        if unknown:
            problems.append(
                f"{', '.join(unknown)}: not a stage of this Dockerfile (its stages: "
                f"{', '.join(labels)}; the unnamed one by its index)"
            )
        if fails_said is None:
            problems.append(f"fails = {fails_text}: write `{SUCCEEDS}` or one stage's name")
        expect(not problems, "; ".join(problems))
        return judge(
            what_the_build_did(given_workspace(work, given), target, builder),
            runs_said,
            fails_said,
        )

    hint = (
        "Which stages does the target need, following each FROM and COPY --from back?"
        if builder == "buildkit"
        else "Which stages come before the target in the file?"
    )
    return Criterion(f"question_{number}", title, hint, test)


def judge(done: Done, runs_said: set[str], fails_said: str) -> str:
    """Compare the predictions with what the build did; return what it did when they are
    right, else fail the criterion with the reasons for each wrong part."""
    result, ran, where = done.result, done.ran, done.where
    builder = BUILDER_NAMES[result.builder]
    order = [stage.label for stage in result.dockerfile.stages]
    refs = {stage.label: stage.ref for stage in result.dockerfile.stages}
    ended = "it succeeded" if where == SUCCEEDS else f"it failed in {where}"
    did = f"{builder} ran {', '.join(s for s in order if s in ran) or 'no stage'}; {ended}"
    wrong = []
    if runs_said != ran:
        wrong += [
            reasons.stage_reason(result, refs[label]) for label in order if label in runs_said ^ ran
        ]
    if fails_said != where:
        said = "it succeeds" if fails_said == SUCCEEDS else f"it fails in {fails_said}"
        wrong.append(
            f"You said {said}: "
            + (
                "every stage it ran finished."
                if where == SUCCEEDS
                else reasons.failure_reason(done.failure)
            )
        )
    expect(not wrong, "not this time: " + did + ".\n" + "\n".join(wrong))
    return f"right: {did}"
