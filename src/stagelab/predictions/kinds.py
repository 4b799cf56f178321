"""The predictions a lesson asks before a build, each checked on the build's own record: which
stages run, whether a step comes from the cache, how big the image is, whether and where the
build fails. Each `check()` takes the build's outcome (a BuildResult, or the BuildFailed it
raised) and finds the right answer and the reasons there (reasons.py)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import ClassVar

from ..dockerfile import Dockerfile
from ..errors import StagelabError
from ..render.html import human_size
from . import reasons
from .question import Prediction, as_dockerfile, replayed_note, result_of, sentences


def stage_names(parsed: Dockerfile) -> tuple[list[str], dict[str, str]]:
    """Return the stages' labels, and every other way to write each: its name, its index as
    `COPY --from=1` writes it, and `stage-1` as BuildKit's progress names an unnamed stage."""
    aliases = {}
    for stage in parsed.stages:
        aliases[str(stage.index)] = aliases[f"stage-{stage.index}"] = stage.label
        aliases[stage.ref] = stage.label
        if stage.name and not stage.shadowed:
            aliases[stage.name] = stage.label
    return [stage.label for stage in parsed.stages], aliases


class StagePrediction(Prediction):
    """Which stages a build runs: built, or taken whole from the cache (many answers)."""

    def __init__(self, question: str, dockerfile, *, answer=None):
        self.dockerfile = as_dockerfile(dockerfile)
        labels, aliases = stage_names(self.dockerfile)
        super().__init__(question, labels, answer=answer, many=True, aliases=aliases)

    def check(self, outcome, *, why: str | Sequence[str] = ()) -> None:
        """Compare with the stages the build ran (`outcome`: a BuildResult or the BuildFailed
        it raised) and show why each stage the prediction got wrong ran or did not (each
        stage, when no prediction was made). Returns None; the verdict stays in `verdict`."""
        result = result_of(outcome)
        if result is None:
            self._settle([], "ran no stage", [reasons.failure_reason(outcome), *sentences(why)])
            return
        labels = {stage.ref: stage.label for stage in result.dockerfile.stages}
        ran = [labels[ref] for ref, status in result.stage_status.items() if status != "skipped"]
        skipped = [
            labels[ref] for ref, status in result.stage_status.items() if status == "skipped"
        ]
        builder = "BuildKit" if result.builder == "buildkit" else "the classic builder"
        did = (
            f"{builder} ran "
            + (
                ", ".join(
                    f"{labels[ref]} ({status})"
                    for ref, status in result.stage_status.items()
                    if status != "skipped"
                )
                or "no stage"
            )
            + (f"; it did not run {', '.join(skipped)}" if skipped else "")
        )
        said = self.said()[0]
        wrong = None if said is None else set(said) ^ set(ran)
        explained = [ref for ref in result.stage_status if not wrong or labels[ref] in wrong]
        why_list = [reasons.stage_reason(result, ref) for ref in explained] + sentences(why)
        self._settle(ran, did, why_list, replayed_note(result))


class CachePrediction(Prediction):
    """Whether one step comes from the build cache ("cached"), runs ("built"), or does not run
    at all ("skipped": its stage did not run)."""

    CHOICES = ("cached", "built", "skipped")
    ALIASES: ClassVar[dict[str, str]] = {
        "true": "cached",
        "yes": "cached",
        "cache": "cached",
        "false": "built",
        "no": "built",
        "runs": "built",
        "run": "built",
        "ran": "built",
        "not run": "skipped",
        "does not run": "skipped",
    }

    def __init__(self, question: str, step: int | str, *, stage: str | None = None, answer=None):
        if not isinstance(step, (int, str)) or isinstance(step, bool) or not str(step).strip():
            raise StagelabError(
                f"predict_cached: step {step!r}: give its line number or its instruction, "
                'as "RUN make"'
            )
        self.step, self.stage = step, stage
        super().__init__(question, self.CHOICES, answer=answer, aliases=self.ALIASES)

    @property
    def hint(self) -> str:
        """Return how to answer, with what each choice means."""
        return (
            "cached: taken from the build cache; built: the step runs; skipped: it does not run "
            "at all. " + super().hint
        )

    def _line(self, dockerfile: Dockerfile) -> int | None:
        if isinstance(self.step, int):
            return self.step
        wanted = _squash(self.step)
        for stage in dockerfile.stages:
            if self.stage is not None and str(self.stage).lower() not in (stage.ref, stage.label):
                continue
            for ins in stage.instructions:
                if _squash(str(ins)).startswith(wanted):
                    return ins.line
        return None

    def check(self, outcome, *, why: str | Sequence[str] = ()) -> None:
        """Compare with what the build did with the step (`outcome`: a BuildResult or the
        BuildFailed it raised) and show why. Returns None; the verdict stays in `verdict`.
        Raises StagelabError when the Dockerfile has no such step (a lesson's mistake)."""
        result = result_of(outcome)
        if result is None:
            self._settle(["skipped"], "no step ran", [reasons.failure_reason(outcome)])
            return
        line = self._line(result.dockerfile)
        stage = next(
            (s for s in result.dockerfile.stages if line and s.lines[0] <= line <= s.lines[1]), None
        )
        if stage is None:
            raise StagelabError(f"predict_cached: the Dockerfile has no step {self.step!r}")
        ins = next((i for i in stage.instructions if i.line == line), None)
        shown = f"line {line}, `{ins}`" if ins else f"line {line}"
        step = next((s for s in result.steps if s.line == line and s.stage == stage.ref), None)
        if step is None:
            truth, did = "skipped", f"{shown} did not run"
            why_list = [reasons.stage_reason(result, stage.ref)]
        else:
            truth = "cached" if step.status == "cached" else "built"
            did = {
                "cached": f"{shown} came from the cache",
                "failed": f"{shown} ran and failed",
            }.get(step.status, f"{shown} ran")
            why_list = [reasons.step_reason(result, step)]
        self._settle([truth], did, why_list + sentences(why), replayed_note(result))


class SizePrediction(Prediction):
    """How big the image is: one of the size ranges `bins_mb` makes (in MB, 10^6 bytes, as
    `docker images` counts). An answer may also be a number of MB: its range counts."""

    def __init__(self, question: str, *, bins_mb: Sequence[float] = (10, 100), answer=None):
        bounds = sorted(float(b) for b in bins_mb)
        if not bounds or bounds[0] <= 0:
            raise StagelabError("predict_size: bins_mb are sizes in MB above 0, as (10, 100)")
        self.bounds = bounds
        names = [f"under {_mb(bounds[0])}"]
        names += [f"{_mb(low)} to {_mb(high)}" for low, high in itertools.pairwise(bounds)]
        names.append(f"{_mb(bounds[-1])} or more")
        super().__init__(question, names, answer=answer)

    def range_of(self, megabytes: float) -> str:
        """Return the choice a size in MB falls in."""
        index = sum(megabytes >= bound for bound in self.bounds)
        return self.choices[index]

    def _choice(self, item) -> str | None:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            return self.range_of(float(item))
        number = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*(?:mb)?\s*", str(item).lower())
        return self.range_of(float(number[1])) if number else super()._choice(item)

    def check(self, outcome, *, why: str | Sequence[str] = ()) -> None:
        """Compare with the size of the image the build made (`outcome`: a BuildResult, or
        the BuildFailed it raised) and show what the image is made of. Returns None."""
        result = result_of(outcome)
        if result is None or result.size_bytes is None or isinstance(outcome, StagelabError):
            self._settle(
                [],
                "made no image",
                [*sentences(why)]
                or ["The build failed or exported files, so there is no image to measure."],
            )
            return
        size = result.size_bytes / 1e6
        did = f"the image is {human_size(result.size_bytes)} ({self.range_of(size)})"
        self._settle(
            [self.range_of(size)],
            did,
            [reasons.size_reason(result), *sentences(why)],
            replayed_note(result),
        )


class FailurePrediction(Prediction):
    """Whether a build succeeds ("succeeds"), or in which stage it fails (that stage)."""

    SUCCEEDS = "succeeds"

    def __init__(self, question: str, dockerfile, *, answer=None):
        self.dockerfile = as_dockerfile(dockerfile)
        labels, aliases = stage_names(self.dockerfile)
        for word in ("success", "succeed", "passes", "no", "none", "false", "it succeeds"):
            aliases[word] = self.SUCCEEDS
        super().__init__(question, [self.SUCCEEDS, *labels], answer=answer, aliases=aliases)

    def check(self, outcome, *, why: str | Sequence[str] = ()) -> None:
        """Compare with how the build ended (`outcome`: its BuildResult, or the BuildFailed, or
        other StagelabError, it raised) and show where and why. Returns None."""
        result = result_of(outcome)
        labels = {stage.ref: stage.label for stage in self.dockerfile.stages}
        said = self.said()[0]
        if isinstance(outcome, StagelabError):
            stage = getattr(outcome, "stage", None)
            truth = [labels.get(stage, stage)] if stage is not None else []
            line = f", line {outcome.line}" if getattr(outcome, "line", None) else ""
            did = (
                f"it failed in stage {truth[0]}{line}"
                if truth
                else "it failed before any stage ran"
            )
            why_list = [reasons.failure_reason(outcome)]
        else:
            truth, did = [self.SUCCEEDS], "it succeeded: every stage it ran finished"
            why_list = []
        guessed = [
            ref for ref, label in labels.items() if said and label in said and label not in truth
        ]
        if result is not None:
            why_list += [reasons.stage_reason(result, ref) for ref in guessed]
        self._settle(truth, did, why_list + sentences(why), replayed_note(result))


def _squash(text: str) -> str:
    return " ".join(str(text).split()).lower()


def _mb(value: float) -> str:
    return f"{value:g} MB"


def predict(
    question: str, choices: Sequence[str], *, answer=None, many: bool = False
) -> Prediction:
    """Ask a question before a build, with these `choices`; show it with buttons to answer.

    `answer` is the learner's prediction given in the cell (a choice; with `many`, a list of
    choices or one string with commas), None for none yet. Returns a Prediction: after the
    build, `prediction.check(actual, why="...")` compares it with `actual` (the right choice,
    or list of them) and shows the verdict with the reason; a wrong or missing prediction is
    explained, never raised. Raises StagelabError for an empty list of choices.
    """
    return Prediction(question, choices, answer=answer, many=many)


def predict_stages(question: str, dockerfile, *, answer=None) -> StagePrediction:
    """Ask which stages a build of `dockerfile` (its text, a Dockerfile or a path) will run.

    Choices are the stages, by the names tables use (an unnamed stage by its index, `1`;
    `stage-1`, BuildKit's name for it, is understood too). `answer` is a list of them, or one
    string with commas. Returns a StagePrediction; `check(result)` after the build (or
    `check(failure)` with the BuildFailed it raised) shows which stages ran, and why each
    stage the prediction got wrong ran or did not. Raises DockerfileError for a Dockerfile
    that does not parse.
    """
    return StagePrediction(question, dockerfile, answer=answer)


def predict_cached(
    question: str, step: int | str, *, stage: str | None = None, answer=None
) -> CachePrediction:
    """Ask whether a step will come from the build cache: "cached", "built" (it runs) or
    "skipped" (it does not run; True and False mean cached and built).

    `step` is its line number, or the start of its instruction as written ("RUN make");
    `stage` picks the stage when several have that instruction. Returns a CachePrediction;
    `check(result)` shows what the build did with the step and why (an earlier step that ran
    again, a changed input, no cache). Raises StagelabError for a step that is not a line or
    an instruction.
    """
    return CachePrediction(question, step, stage=stage, answer=answer)


def predict_size(
    question: str, *, bins_mb: Sequence[float] = (10, 100), answer=None
) -> SizePrediction:
    """Ask how big the image will be, as a range of sizes cut at `bins_mb` (MB, 10^6 bytes):
    by default "under 10 MB", "10 MB to 100 MB", "100 MB or more".

    `answer` is a range, or a number of MB (its range counts). Returns a SizePrediction;
    `check(result)` shows the image's size and what it is made of (its base image, what its
    stage copies in). Raises StagelabError for bins that are not sizes above 0.
    """
    return SizePrediction(question, bins_mb=bins_mb, answer=answer)


def predict_failure(question: str, dockerfile, *, answer=None) -> FailurePrediction:
    """Ask whether a build of `dockerfile` will succeed ("succeeds") or fail, and in which
    stage (that stage's name, or index for an unnamed one).

    Returns a FailurePrediction; `check(outcome)` takes the BuildResult, or the BuildFailed
    the build raised, and shows where it failed, the instruction, its exit code, and why a
    stage the learner expected to fail did not. Raises DockerfileError for a Dockerfile that
    does not parse.
    """
    return FailurePrediction(question, dockerfile, answer=answer)
