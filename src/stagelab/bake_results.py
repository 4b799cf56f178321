"""What `sl.bake` returns, and its recordings: a bake is recorded on a real engine and
replayed with no engine, as a build is (replay.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import engine, images, recording, replay
from .context import read_dockerfile
from .errors import BuildFailed, EngineUnavailable
from .render.html import Table
from .results import BuildResult, Step


@dataclass(frozen=True)
class SharedStep:
    """A step the engine ran once for several targets: its stage (as the first target's
    Dockerfile names it), instruction, the targets that share it, and its status."""

    stage: str | None
    instruction: str
    targets: tuple[str, ...]
    status: str


@dataclass(repr=False)
class BakeResult:
    """What one `docker buildx bake` did: a BuildResult per target (`results`, in the bake
    file's order), the steps the engine ran once for several targets (`shared_steps`), and
    the wall time of the whole bake in seconds. `replayed` when no engine answered."""

    results: dict[str, BuildResult]
    shared_steps: list[SharedStep]
    duration_s: float
    replayed: bool = False
    recorded_engine: str | None = None
    recorded_on: str | None = None

    def shared_stages(self) -> dict[str, list[str]]:
        """Return {stage ref: the targets it ran once for}: the stages every step of which
        (as the first target that ran it reports them) ran once for several targets."""
        found: dict[str, list[str]] = {}
        for step in self.shared_steps:
            first = self.results[step.targets[0]]
            own = [s.instruction for s in first.steps if s.stage == step.stage]
            shared = {s.instruction for s in self.shared_steps if s.stage == step.stage}
            if step.stage is not None and own and set(own) <= shared:
                found[step.stage] = sorted(set(found.get(step.stage, [])) | set(step.targets))
        return found

    def table(self) -> Table:
        """Return one row per stage, one column per target: what the bake did with it."""
        refs: list[str] = []
        for result in self.results.values():
            refs += [ref for ref in result.stage_status if ref not in refs]
        shared = self.shared_stages()
        rows = [
            [ref]
            + [result.stage_status.get(ref) for result in self.results.values()]
            + [", ".join(shared.get(ref, [])) or "-"]
            for ref in refs
        ]
        return Table(
            ["stage", *self.results, "ran once for"],
            rows,
            "stagelab-bake",
            badges=set(range(1, len(self.results) + 1)),
            footer=[["seconds", f"{self.duration_s:.1f}"] + [""] * len(self.results)],
        )

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()

    def __repr__(self) -> str:
        replay_note = " replayed" if self.replayed else ""
        return (
            f"<BakeResult{replay_note} targets={', '.join(self.results)} "
            f"shared steps={len(self.shared_steps)} {self.duration_s:.1f}s>"
        )


def target_dockerfile(folder: Path, target: dict):
    """Return a bake target's Dockerfile (its `context` and `dockerfile` under `folder`)."""
    path = folder / target.get("context", ".") / target.get("dockerfile", "Dockerfile")
    return images.parse_dockerfile(read_dockerfile(path))


def record_bake(identity: dict, outcome: BakeResult, failed) -> None:
    """Save a recording of a real bake (its results, or its failure) when recording is on."""
    if not recording.recording_on():
        return
    take = {
        "results": {
            name: {
                "stage_status": r.stage_status,
                "steps": [
                    [s.stage, s.instruction, s.line, s.status, s.seconds, s.start] for s in r.steps
                ],
                "image_id": r.image_id,
                "size_bytes": r.size_bytes,
                "duration_s": round(r.duration_s, 2),
                "log_tail": recording.tail(r.log),
            }
            for name, r in outcome.results.items()
        },
        "shared_steps": [
            [s.stage, s.instruction, list(s.targets), s.status] for s in outcome.shared_steps
        ],
        "duration_s": round(outcome.duration_s, 2),
        "failure": replay.failure_fields(failed[1]) if failed else None,
        "failed_target": failed[0] if failed else None,
    }
    recording.add_take(
        recording.digest(identity),
        {"kind": "bake", "identity": identity},
        take,
        replay.engine_version(),
    )


def replay_bake(identity: dict, resolved: dict, folder: Path) -> BakeResult:
    """Replay the recording of this bake; raise its recorded failure, or EngineUnavailable
    when there is none."""
    key = recording.digest(identity)
    found = recording.load(key)
    if found is None:
        raise EngineUnavailable(
            engine.advice_no_engine() + "\nThere is no recording of this bake to replay "
            f"(recording {key}).\n" + replay.RE_RECORD
        )
    take = recording.next_take(key, found)
    replay.show_banner(replay.banner_text(found["recorded_engine"], found["recorded_on"]))
    results = {}
    for name, fields in take["results"].items():
        spec = resolved["target"][name]
        parsed = target_dockerfile(folder, spec)
        target = spec.get("target")
        results[name] = BuildResult(
            builder="buildkit",
            target=parsed.target_stage(target).ref if target else None,
            dockerfile=parsed,
            stage_status=dict(fields["stage_status"]),
            steps=[Step(*step) for step in fields["steps"]],
            image_id=fields["image_id"],
            size_bytes=fields["size_bytes"],
            duration_s=fields["duration_s"],
            log=fields["log_tail"],
            build_args=dict(spec.get("args") or {}),
            replayed=True,
            recorded_engine=found["recorded_engine"],
            recorded_on=found["recorded_on"],
        )
    if take.get("failure"):
        name = take["failed_target"]
        raise BuildFailed(**take["failure"], result=results.get(name))
    return BakeResult(
        results,
        [SharedStep(s[0], s[1], tuple(s[2]), s[3]) for s in take["shared_steps"]],
        take["duration_s"],
        replayed=True,
        recorded_engine=found["recorded_engine"],
        recorded_on=found["recorded_on"],
    )
