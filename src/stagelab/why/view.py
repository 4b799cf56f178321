"""What `result.why()` returns: for every stage why it ran or not, for every step why it came
from the cache or was built, and what each reason invalidated; as text, HTML and JSON.

The values are made by why/explain.py (a real build) or read back from a recording (a replay,
`Why.from_json`). Nothing here asks the engine.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field

from ..render.html import LEFT, WRAP, badge

# Every reason's code, and what it says in a learner's words when nothing more is known.
REASONS = {
    "cached": "cached: built before with the same instruction and inputs",
    "copied-files-same": "cached: the stage it copies from was rebuilt, but the files it "
    "copies came out the same, and the cache compares their content",
    "no-cache": "built: --no-cache (no_cache=True) tells the builder to ignore its cache",
    "instruction": "built: the instruction's text changed",
    "build-arg": "built: a build arg it sees changed",
    "environment": "built: an ENV value it sees changed",
    "settings": "built: the working folder, user or shell it runs with changed",
    "context-files": "built: a file it copies from the build context changed",
    "previous-step": "built: the step before it was rebuilt",
    "parent-stage": "built: the stage it starts from was rebuilt",
    "source-stage": "built: the stage it copies from was rebuilt, and the files it copies changed",
    "source-image": "built: the image it copies from is a different image than last time",
    "base-image": "built: the base image is a different image than last time",
    "first-build": "built: no earlier build of this step on this engine",
    "pruned": "built: the builder's cache was pruned since the last build of this step",
    "unseen-cache": "cached: by a build stagelab did not see",
    "unexplained": "built, and stagelab cannot tell why",
    "base": "the base image this stage starts from",
    "shared": "BuildKit ran this work once, for an identical stage",
    "failed": "failed: this step's command did not succeed",
}
# The reasons that start a rebuild (not one passed on from an earlier step or stage).
ROOT_CAUSES = {
    "no-cache",
    "instruction",
    "build-arg",
    "environment",
    "settings",
    "context-files",
    "source-stage",
    "source-image",
    "base-image",
    "first-build",
    "pruned",
    "unexplained",
}


@dataclass(frozen=True)
class Reason:
    """One reason: `code` (a key of REASONS), `text` in the learner's words, `source` (what
    stagelab read to know it: the Dockerfile, the build args, the context files, the base
    images' IDs, its record of earlier builds on this engine, the engine's statuses) and
    `details` (names, old and new values, files)."""

    code: str
    text: str
    source: str
    details: dict = field(default_factory=dict)


@dataclass
class StepWhy:
    """Why one step was cached or built.

    `expected` is what the builder's cache rules predict from the inputs and stagelab's record
    before looking at this step's own status: "cached", "built", "either" (the cache compares
    the content of files a rebuilt stage made, which stagelab cannot see) or None (a FROM, or
    a step that failed). `cause` is the (stage, line) of the step whose rebuild passed on to
    this one; `invalidates` the steps this step's rebuild made the engine rebuild, and
    `may_invalidate` those it invalidates only if the files they copy changed.
    """

    stage: str
    line: int | None
    instruction: str
    status: str
    expected: str | None
    reason: Reason
    cause: tuple[str, int] | None = None
    invalidates: list[tuple[str, int]] = field(default_factory=list)
    may_invalidate: list[tuple[str, int]] = field(default_factory=list)
    others: list[Reason] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        """Tell whether what the rules predicted is what the engine did."""
        if self.expected is None or self.expected == "either":
            return True
        return self.expected == self.status

    @property
    def root(self) -> bool:
        """Tell whether this step's reason starts a rebuild (it is not passed on)."""
        return self.status == "built" and self.reason.code in ROOT_CAUSES

    def text(self) -> str:
        """Return one line: where, what, and why."""
        where = f"line {self.line}" if self.line else "step"
        line = f"{where:<8} {self.status:<7} {self.instruction[:60]}\n         {self.reason.text}"
        if self.invalidates:
            line += "\n         which made the engine rebuild " + _places(self.invalidates)
        if self.may_invalidate:
            line += "\n         and rebuild, if the files they copy changed, " + _places(
                self.may_invalidate
            )
        return line


@dataclass
class StageWhy:
    """Why a stage ran, or not: `role` is "target", "needed", "classic order" (the classic
    builder runs every stage above the target), "unneeded" (BuildKit skips it), "after target"
    (the classic builder stops at the target) or "replaced" (a named build context stands in);
    `text` says it with the edges and line numbers; `steps` say why each step ran."""

    ref: str
    status: str
    role: str
    text: str
    steps: list[StepWhy] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"stage {self.ref} ({self.status}): {self.text}"]
        lines += ["  " + step.text().replace("\n", "\n  ") for step in self.steps]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return why_html([self], "")


@dataclass
class Why:
    """Why a build's stages and steps did what they did (`result.why()`).

    `stages` maps each stage's ref, in Dockerfile order, to its StageWhy; `notes` say what
    stagelab could not know or where the reasons come from; `recorded` names the engine and
    date of the recording a replayed result's reasons come from (None for a build that ran
    here).
    """

    builder: str
    target: str | None
    stages: dict[str, StageWhy]
    notes: list[str] = field(default_factory=list)
    recorded: str | None = None

    def stage(self, ref: str) -> StageWhy:
        """Return one stage's explanation; KeyError naming the stages for an unknown ref."""
        try:
            return self.stages[ref]
        except KeyError:
            raise KeyError(
                f"no stage {ref!r} in this build; stages: {', '.join(self.stages)}"
            ) from None

    @property
    def steps(self) -> list[StepWhy]:
        """Return every step's explanation, stage by stage."""
        return [step for stage in self.stages.values() for step in stage.steps]

    def step(self, line: int) -> StepWhy:
        """Return the explanation of the step on this Dockerfile line; KeyError if none."""
        for step in self.steps:
            if step.line == line:
                return step
        raise KeyError(f"no step on line {line} in this build")

    @property
    def causes(self) -> list[StepWhy]:
        """Return the steps whose reason started a rebuild (the others passed it on)."""
        return [step for step in self.steps if step.root]

    def agreement(self) -> tuple[int, int]:
        """Return (steps whose status the rules predicted, steps with a prediction)."""
        judged = [step for step in self.steps if step.expected is not None]
        return sum(step.agrees for step in judged), len(judged)

    def heading(self) -> str:
        """Return the explanation's first line (a replay says its step reasons are recorded)."""
        who = "BuildKit" if self.builder == "buildkit" else "the classic builder"
        heading = f"Why {who} did what it did, target {self.target or 'last stage'}"
        return heading + (" (replayed: the step reasons are recorded)" if self.recorded else "")

    def __str__(self) -> str:
        parts = [self.heading()] + [str(stage) for stage in self.stages.values()]
        return "\n".join(parts + [f"note: {note}" for note in self.notes])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return why_html(list(self.stages.values()), self.heading(), self.notes)

    def to_json(self) -> dict:
        """Return the explanation as JSON-ready values (recordings keep it so)."""
        return {
            "builder": self.builder,
            "target": self.target,
            "notes": self.notes,
            "stages": [asdict(stage) for stage in self.stages.values()],
        }

    @classmethod
    def from_json(cls, data: dict, recorded: str | None = None) -> Why:
        """Read an explanation back from `to_json()`; `recorded` names the recording it is from."""
        stages = {}
        for stage in data["stages"]:
            steps = [_step_from_json(step) for step in stage["steps"]]
            stages[stage["ref"]] = StageWhy(
                stage["ref"], stage["status"], stage["role"], stage["text"], steps
            )
        return cls(data["builder"], data["target"], stages, list(data["notes"]), recorded)


def _step_from_json(data: dict) -> StepWhy:
    def places(items) -> list[tuple[str, int]]:
        return [tuple(item) for item in items]

    return StepWhy(
        stage=data["stage"],
        line=data["line"],
        instruction=data["instruction"],
        status=data["status"],
        expected=data["expected"],
        reason=Reason(**data["reason"]),
        cause=tuple(data["cause"]) if data["cause"] else None,
        invalidates=places(data["invalidates"]),
        may_invalidate=places(data["may_invalidate"]),
        others=[Reason(**other) for other in data["others"]],
    )


def _places(places: list[tuple[str, int]]) -> str:
    return ", ".join(f"{stage} line {line}" for stage, line in places)


def why_html(stages: list[StageWhy], heading: str, notes: list[str] = ()) -> str:
    """Return stages' explanations as an HTML table: a row per stage, then a row per step."""
    rows = []
    for stage in stages:
        rows.append(
            f"<tr class='stagelab-why-stage' data-stage='{html.escape(stage.ref)}'>"
            f"<td style='{LEFT}'><b>{html.escape(stage.ref)}</b></td>"
            f"<td style='{LEFT}'>{badge(stage.status)}</td>"
            f"<td colspan='2' style='{WRAP}'>{html.escape(stage.text)}</td></tr>"
        )
        for step in stage.steps:
            more = ""
            if step.invalidates:
                rebuilt = html.escape(_places(step.invalidates))
                more += f"<br>which made the engine rebuild {rebuilt}"
            if step.may_invalidate:
                more += (
                    "<br>and, if the files they copy changed, "
                    f"{html.escape(_places(step.may_invalidate))}"
                )
            mark = "" if step.agrees else " <b style='color:#b71c1c'>(not what was predicted)</b>"
            rows.append(
                f"<tr class='stagelab-why-step' data-line='{step.line or ''}' "
                f"data-reason='{html.escape(step.reason.code)}'>"
                f"<td style='{LEFT};color:#616161'>{step.line or ''}</td>"
                f"<td style='{LEFT}'>{badge(step.status)}</td>"
                f"<td style='{WRAP}'><code>{html.escape(step.instruction[:80])}</code></td>"
                f"<td style='{WRAP}'>{html.escape(step.reason.text)}{mark}{more}</td></tr>"
            )
    title = f"<div><b>{html.escape(heading)}</b></div>" if heading else ""
    notes_html = "".join(
        f"<div class='stagelab-note' style='color:#616161;font-size:90%'>{html.escape(note)}</div>"
        for note in notes
    )
    return f"<div class='stagelab-why'>{title}<table>{''.join(rows)}</table>{notes_html}</div>"
