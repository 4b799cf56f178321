"""Explain a build: for every step, what the builder's cache rules predict from the inputs
(why/inputs.py) and stagelab's record of earlier builds (why/ledger.py), then what the engine
did, and the reason in a learner's words. Pure: the engine's evidence comes in as a function.

A step's key is what it builds on plus what its cache compares, so a key seen before is a
cache hit, as in both builders. A COPY from a rebuilt stage whose files came out the same hits
last time's record by its inputs' content (moby/buildkit docs/dev/solver.md, solver/edge.go
`computeCacheKeyFromDep`), and later steps chain on that record: its key is recorded as an
alias, and later steps, now and in later builds, build on the key it stands for. The rules:
1. `--no-cache`: every step is built.
2. The step it builds on was rebuilt: it is rebuilt (a new parent image for the classic
   builder, whose prober then misses every later step of the stage, moby/moby
   builder/dockerfile/imageprobe.go; a new input key for BuildKit). BuildKit's COPY --link
   does not build on the step before it.
3. The key is in the record: cached, unless the engine's evidence says that cache is gone.
4. A step recorded on the same parent differs only in the stage it copies from, which was
   rebuilt: the cache compares the copied files' content, which stagelab cannot see, so
   either can happen; the engine's status says which.
5. Otherwise built, for the first difference from the closest recorded step on the same
   parent; with none, for a base image that changed, else because it never was built here.
Each prediction uses the statuses of the steps a step depends on, never its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from .document import Document, same_document
from .inputs import StageInput, StepInput
from .ledger import Entry
from .reasons import RECORD, RULES, STATUS, because, date, differences, pruned, short, surprise
from .view import Reason, StageWhy, StepWhy, Why


def step_key(value) -> str:
    """Return a short stable digest of a JSON value."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class Explained:
    """An explanation, and what to add to the record: steps, image names' IDs, aliases."""

    why: Why
    entries: list[Entry] = field(default_factory=list)
    images: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


@dataclass
class _Final:
    """What a stage ended on: the key its children build on, whether it was rebuilt, and the
    step whose reason started that rebuild."""

    key: str
    built: bool
    origin: tuple[str, int] | None


def explain(
    builder: str,
    target: str | None,
    inputs: list[StageInput],
    stage_text: dict[str, tuple[str, str]],
    statuses: dict[str, str],
    steps: list,
    record,
    images: dict[str, str],
    image_keys: dict[str, dict] | None = None,
    no_cache: bool = False,
    gone: Callable[[Entry], bool | None] = lambda entry: None,
    shared_with: dict[str, str] | None = None,
    document: Document | None = None,
) -> Explained:
    """Explain a finished (or failed) build.

    `inputs` come from why.inputs.stage_inputs, `stage_text` from why.stages.stage_reasons;
    `statuses` and `steps` are the build's (Step: stage, line, instruction, status, image);
    `record` answers get(key), children(parent) and images(name) for this engine and builder;
    `images` maps external image names to IDs, `image_keys` to what BuildKit keys a base image
    by (its layers and starting settings; without them, its ID); `gone(entry)` says whether the
    engine's cache of a recorded step is gone (None: cannot tell); `document` names the
    Dockerfile (why.document; None: any step recorded at the same place counts as this one).
    Returns the Why and what to record.
    """
    walk = _Walk(builder, record, images, no_cache, gone, steps)
    # The Dockerfile's mark, computed once: every step records it and every lookup compares it.
    walk.image_keys, walk.mark = image_keys or {}, (document or Document(None, ())).mark()
    stages: dict[str, StageWhy] = {}
    for stage in inputs:
        role, text = stage_text[stage.ref]
        status = statuses.get(stage.ref, "skipped")
        twin = (shared_with or {}).get(stage.ref)
        if twin is not None:
            text += f"; BuildKit ran its work once, under the identical stage {twin}"
            walk.finals[stage.ref] = walk.finals.get(twin) or _Final(twin, False, None)
        ran = status != "skipped"
        if ran and stage.base != "scratch" and not stage.parent and stage.base in images:
            text += walk.base_note(stage.base)
        stages[stage.ref] = StageWhy(stage.ref, status, role, text)
        if twin is None and status != "skipped":
            stages[stage.ref].steps = walk.stage(stage)
    walk.link_invalidations()
    notes = [
        f"Predicted from {RULES}, the Dockerfile, the build args, the build context's files, "
        f"the base images' IDs and {RECORD}; then compared with what the engine did."
    ]
    notes += walk.notes
    agreed, judged = Why(builder, target, stages).agreement()
    if agreed < judged:
        notes.append(
            f"{judged - agreed} of {judged} steps did not do what stagelab predicted: their "
            "reasons say what stagelab could not know."
        )
    explained = Explained(Why(builder, target, stages, notes), walk.entries, walk.images_seen)
    explained.aliases = walk.aliases
    return explained


class _Walk:
    """Walks the stages in Dockerfile order (every stage comes after those it uses)."""

    image_keys: dict[str, dict]
    mark: dict

    def __init__(self, builder, record, images, no_cache, gone, steps):
        self.builder, self.record, self.images = builder, record, images
        self.no_cache, self.gone = no_cache, gone
        self.reported = {(s.stage, s.line): s for s in steps if s.line is not None}
        self.failed = any(s.status == "failed" for s in steps)
        self.notes: list[str] = []
        self.by_text = {(s.stage, " ".join(s.instruction.split())): s for s in steps}
        self.anywhere = {" ".join(s.instruction.split()): s for s in reversed(steps)}
        self.finals: dict[str, _Final] = {}
        self.entries: list[Entry] = []
        self.images_seen: dict[str, str] = {}
        self.aliases: dict[str, str] = {}
        self.explained: dict[tuple[str, int], StepWhy] = {}
        self.origins: dict[tuple[str, int], tuple[str, int] | None] = {}

    def base_note(self, name: str) -> str:
        """Say which image a stage starts from, and whether it is the one of last time."""
        image = self.images[name]
        note = f"; it starts from {name} (image {short(image)})"
        earlier = [seen for seen, _ in self.record.images(name) if seen != image]
        if earlier and self.builder == "buildkit":
            note += (
                f", not the image of last time ({short(earlier[0])}); BuildKit's cache keys a "
                "base image by its layers and the settings a stage starts with (environment, "
                "folder, user, shell), so only a change there rebuilds its steps"
            )
        elif earlier:
            note += f", not the image of last time ({short(earlier[0])})"
        return note

    def _reported(self, step: StepInput):
        """Return the engine's step for this input: by line, else by its text (BuildKit names
        an ONBUILD trigger's step by its text only), else, for BuildKit, the same step of
        another stage: the solver runs identical operations once and reports them under one
        stage's name (moby/buildkit solver/jobs.go merges vertices by digest)."""
        found = self.reported.get((step.stage, step.line))
        if found is not None and found.instruction.split(" ", 1)[0].upper() == step.keyword:
            return found
        text = " ".join(step.instruction.split())
        found = self.by_text.get((step.stage, text))
        if found is None and self.builder == "buildkit":
            return self.anywhere.get(text)
        return found

    def _start(self, stage: StageInput) -> tuple[str, bool, tuple | None, str]:
        if stage.parent is not None:
            final = self.finals.get(stage.parent) or _Final(stage.parent, False, None)
            return final.key, final.built, final.origin, "parent-stage"
        if stage.base == "scratch":
            return "scratch", False, None, "parent-stage"
        image = self.images.get(stage.base)
        if image:
            self.images_seen[stage.base] = image
        keys = self.image_keys.get(stage.base)
        if self.builder == "buildkit" and keys:
            # BuildKit keys a base by its layers and the settings its stage starts with: an
            # image that differs in nothing else (a label) leaves the cache as it was.
            return f"image:{keys['layers']}:{keys['settings']}", False, None, "parent-stage"
        return f"image:{image or stage.base}", False, None, "parent-stage"

    def stage(self, stage: StageInput) -> list[StepWhy]:
        chain, built, origin, inherited = self._start(stage)
        found: list[StepWhy] = []
        first = True
        for step in stage.steps:
            reported = self._reported(step)
            if step.keyword == "FROM":
                if reported is not None and reported.image:
                    chain = f"image:{reported.image}"
                found.append(self._base_row(stage, step, reported))
                continue
            if reported is None:
                if not self.failed:
                    self.notes.append(
                        f"The engine reported no step for line {step.line} ({step.instruction}) "
                        f"of stage {stage.ref}, so stagelab explains that stage only up to it."
                    )
                break
            if reported.status == "failed":
                found.append(
                    StepWhy(
                        step.stage, step.line, step.instruction, "failed", None, because("failed")
                    )
                )
                break
            why, key, origin_here = self._judge(
                stage, step, reported, chain, built, origin, inherited, first
            )
            found.append(why)
            place = (step.stage, step.line or 0)
            self.explained[place] = why
            self.origins[place] = origin_here
            parent = "link" if step.link else chain
            if step.link:
                key = step_key(["merge", chain, key])
                built = built or why.status == "built"
            else:
                built = why.status == "built"
            origin = origin_here if built else None
            if self.builder == "classic" and reported.image:
                key = f"image:{reported.image}"
            self.entries.append(self._entry(step, why, parent, reported))
            chain, first, inherited = key, False, "previous-step"
        self.finals[stage.ref] = _Final(chain, built, origin if built else None)
        return found

    def _entry(self, step: StepInput, why: StepWhy, parent: str, reported) -> Entry:
        detail = {
            "stage": step.stage,
            "line": step.line,
            "instruction": step.instruction,
            "written": step.written,
            "own": step.own,
            "seen": step.seen,
            "sources": self._sources(step),
            "document": dict(self.mark),
        }
        evidence = {"image": reported.image} if self.builder == "classic" and reported.image else {}
        return Entry(self._key(step, parent), parent, detail, evidence)

    def _sources(self, step: StepInput) -> list[str]:
        return [self.finals[ref].key if ref in self.finals else ref for ref in step.stage_sources]

    def _key(self, step: StepInput, parent: str) -> str:
        return step_key([parent, step.own, self._sources(step)])

    def _base_row(self, stage: StageInput, step: StepInput, reported) -> StepWhy:
        status = reported.status if reported is not None else "cached"
        if stage.parent is not None:
            text = f"starts from the stage {stage.parent}, as it ended"
        elif stage.base == "scratch":
            text = "starts from scratch: an empty file system"
        else:
            image = self.images.get(stage.base, "")
            text = f"starts from the image {stage.base} ({short(image) or 'ID unknown'})"
            earlier = [seen for seen, _ in self.record.images(stage.base) if seen != image]
            if image and earlier:
                text += f", a different image than last time ({short(earlier[0])})"
        return StepWhy(step.stage, step.line, step.instruction, status, None, because("base", text))

    def _judge(self, stage, step, reported, chain, built, origin, inherited, first):
        """Return (the step's explanation, its key, the step whose reason started its rebuild)."""
        place = (step.stage, step.line or 0)
        parent = "link" if step.link else chain
        key = self._key(step, parent)
        status = reported.status
        if self.no_cache:
            expected, reason, cause = (
                "built",
                because("no-cache", source="the build's options"),
                None,
            )
        elif built and not step.link:
            expected, cause = "built", origin
            reason = self._passed_on(inherited, stage, chain, origin)
        else:
            expected, reason, entry = self._lookup(stage, step, parent, key, first)
            cause = None
            key = entry.key if entry is not None else key  # an alias: the step it stands for
            if expected == "cached" and status == "built" and self.gone(entry):
                # The engine's evidence of a prune is read only when the record's prediction
                # and the engine differ: reading it costs a query of the build cache.
                cleaned = self.record.events("clean", entry.last_seen)
                expected, reason = "built", pruned(entry, self.builder, cleaned)
        others: list[Reason] = []
        if expected == "either":
            reason, key = self._content(step, status, parent, key)
            cause = self._source_origin(step)
        elif expected != status:
            others, reason = [reason], surprise(reason, status)
        why = StepWhy(step.stage, step.line, step.instruction, status, expected, reason, cause)
        why.others = others
        root = status == "built" and (cause is None or reason.code in ("source-stage",))
        return why, key, place if root else cause

    def _passed_on(self, inherited, stage, chain, origin) -> Reason:
        where = f" (the rebuild began at {origin[0]} line {origin[1]})" if origin else ""
        if inherited == "parent-stage":
            return Reason(
                "parent-stage",
                f"built: the stage {stage.parent} it starts from was rebuilt{where}",
                RULES,
                {"stage": stage.parent},
            )
        return Reason("previous-step", f"built: the step before it was rebuilt{where}", RULES)

    def _lookup(self, stage, step, parent, key, first) -> tuple[str, Reason, Entry | None]:
        """Predict from the record: (expected status, reason, the recorded step it matched)."""
        entry = self.record.get(key)
        if entry is not None:
            when = date(entry.last_seen)
            text = (
                f"cached: built before on this engine ({when}) with the same instruction and inputs"
            )
            return "cached", because("cached", text, RECORD, {"since": when}), entry
        # "This step, last time": a step of this Dockerfile recorded on the same parent at the
        # same place (a step another Dockerfile built there is not this one: why/document.py).
        siblings = [
            entry
            for entry in self.record.children(parent)
            if (entry.detail.get("stage"), entry.detail.get("line")) == (step.stage, step.line)
            and same_document(entry.detail, self.mark)
        ]
        if siblings:
            closest = min(
                (differences(entry, step, self._sources(step)) for entry in siblings), key=len
            )
            if not closest:
                return "either", because("source-stage"), None
            return "built", closest[0], None
        if first and stage.parent is None and stage.base in self.images:
            earlier = [i for i, _ in self.record.images(stage.base) if i != self.images[stage.base]]
            if earlier:
                return (
                    "built",
                    Reason(
                        "base-image",
                        f"built: the base image {stage.base} is a different image than last time "
                        f"(was {short(earlier[0])}, now {short(self.images[stage.base])})",
                        "the base images' IDs and " + RECORD,
                        {"image": stage.base, "old": earlier[0], "new": self.images[stage.base]},
                    ),
                    None,
                )
        return "built", because("first-build", source=RECORD), None

    def _content(self, step: StepInput, status: str, parent: str, key: str) -> tuple[Reason, str]:
        names = ", ".join(step.stage_sources)
        if status == "cached":
            twin = next(
                (e for e in self.record.children(parent) if not differences(e, step, None)),
                None,
            )
            if twin is not None:
                self.aliases[key] = twin.key
                key = twin.key
            return Reason(
                "copied-files-same",
                f"cached: the stage {names} it copies from was rebuilt, but the files it "
                "copies came out the same, and the cache compares their content",
                RULES + " and " + STATUS,
                {"stages": step.stage_sources},
            ), key
        return Reason(
            "source-stage",
            f"built: the stage {names} it copies from was rebuilt, and the files it copies "
            "changed (the cache compares their content)",
            RULES + " and " + STATUS,
            {"stages": step.stage_sources},
        ), key

    def _source_origin(self, step: StepInput):
        for ref in step.stage_sources:
            final = self.finals.get(ref)
            if final is not None and final.origin is not None:
                return final.origin
        return None

    def link_invalidations(self) -> None:
        """Fill each root step's lists of the steps its rebuild reached."""
        for place, why in self.explained.items():
            root = self.origins.get(place)
            if root is None or root == place or root not in self.explained:
                if why.expected == "either" and why.cause in self.explained:
                    self.explained[why.cause].may_invalidate.append(place)
                continue
            if why.expected == "either":
                self.explained[root].may_invalidate.append(place)
            elif why.status == "built":
                self.explained[root].invalidates.append(place)
