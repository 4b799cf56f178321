"""The BuildKit rawjson reader and the classic `Step N/M` reader, on streams captured from real
builds (tests/unit/streams/, made by capture.py there): no engine needed."""

import json
from pathlib import Path

import pytest

from stagelab.classic import ClassicReader
from stagelab.context import BuildRequest
from stagelab.dockerfile import Dockerfile
from stagelab.progress import Progress
from stagelab.rawjson import VERTEX_NAME, RawJsonReader, read_rawjson
from stagelab.vertex_names import instruction_for

STREAMS = Path(__file__).resolve().parent / "streams"


def dockerfile(name):
    return Dockerfile((STREAMS / f"{name}.Dockerfile").read_text())


def buildkit(name, **options):
    lines = (STREAMS / f"{name}.rawjson").read_text().splitlines(keepends=True)
    return read_rawjson(lines, dockerfile(name), **options)


def classic(name, watcher=None):
    request = BuildRequest(
        dockerfile(name),
        Path("/context"),
        Path("/context/Dockerfile"),
        None,
        None,
        "classic",
        {},
        None,
        False,
        None,
    )
    reader = ClassicReader(request, watcher)
    messages = [
        json.loads(line) for line in (STREAMS / f"{name}.classic.jsonl").read_text().splitlines()
    ]
    for message in messages:
        reader.feed(message["chunk"], message["at"])
    return reader, reader.outcome(messages[-1]["at"])


def line_of(name, text):
    lines = (STREAMS / f"{name}.Dockerfile").read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


class Events(Progress):
    def __init__(self):
        self.events = []

    def stage(self, ref, state, step=""):
        self.events.append((ref, state))


def test_vertex_names_with_and_without_a_stage_and_padded_step_numbers():
    assert VERTEX_NAME.match("[build 2/3] RUN make").group("stage", "step") == ("build", "2")
    assert VERTEX_NAME.match("[ten  1/10] RUN x").group("stage", "step", "total") == (
        "ten",
        "1",
        "10",
    )
    assert VERTEX_NAME.match("[12/12] COPY a b").group("stage", "step") == (None, "12")
    assert VERTEX_NAME.match("[ 1/10] RUN x").group("stage", "step") == (None, "1")
    assert VERTEX_NAME.match("[internal] load build definition") is None


def test_buildkit_first_build_runs_what_the_target_needs():
    outcome = buildkit("built")
    assert outcome.stage_status == {
        "base": "built",
        "app": "built",
        "unused": "skipped",
        "3": "built",
    }
    assert outcome.failure is None
    lines = {step.stage: step.line for step in outcome.steps}
    assert lines == {"base": 2, "app": 4, "3": 8}
    assert all(step.seconds >= 0 and step.start >= 0 for step in outcome.steps)


def test_buildkit_cached_steps():
    outcome = buildkit("cached")
    assert outcome.stage_status == {
        "base": "cached",
        "app": "cached",
        "unused": "skipped",
        "3": "cached",
    }
    assert {step.status for step in outcome.steps} == {"cached"}
    assert "CACHED" in outcome.log


def test_buildkit_failure_names_stage_line_exit_code_and_output():
    outcome = buildkit("failure")
    failure = outcome.failure
    assert (failure["stage"], failure["line"], failure["exit_code"]) == ("broken", 4, 3)
    assert failure["instruction"].startswith("RUN echo about to fail")
    assert "about to fail" in failure["log_tail"]
    assert outcome.stage_status["broken"] == "failed"
    assert outcome.stage_status["ok"] == "built"
    # The last stage copies from `broken`: BuildKit cancelled its steps when `broken` failed.
    assert outcome.stage_status["2"] == "skipped"


def test_buildkit_cancelled_build_fails_the_stage_it_stopped():
    outcome = buildkit("cancelled")
    assert outcome.stage_status == {"slow": "failed"}
    assert outcome.failure["stage"] == "slow" and outcome.failure["line"] == 2
    assert "canceled" in outcome.failure["reason"]


def test_buildkit_stage_of_ten_steps_is_read_step_by_step():
    outcome = buildkit("ten_steps")
    assert outcome.stage_status == {"ten": "built", "after": "built"}
    ten = sorted(step.line for step in outcome.steps if step.stage == "ten")
    assert ten == list(range(2, 11)), "every RUN of the stage, each at its own line"


def test_buildkit_names_work_shared_by_two_stages_after_one_of_them():
    outcome = buildkit("shared")
    runs = [step for step in outcome.steps if step.instruction.startswith("RUN echo same")]
    assert len(runs) == 1, "BuildKit ran the identical work once"
    assert runs[0].stage in ("one", "two")
    assert runs[0].line == line_of("shared", "RUN echo same") + (2 if runs[0].stage == "two" else 0)
    assert outcome.stage_status["final"] == "built"
    # The other stage did not run on its own, yet final needs it: its work was shared.
    other = "two" if runs[0].stage == "one" else "one"
    assert outcome.stage_status[other] == outcome.stage_status[runs[0].stage] == "built"
    assert outcome.shared_with == {other: runs[0].stage}


def test_buildkit_steps_start_when_this_build_began_even_when_joining_another_build():
    """A build that joins a step another build started earlier: BuildKit reports the other
    build's start time, but the step ran for this build only from when this build began."""
    outcome = buildkit("joined")
    slow, after = (next(s for s in outcome.steps if s.stage == ref) for ref in ("slow", "after"))
    assert slow.start == 0.0
    # The shared step started about 2 s before this build (capture.py's JOIN_AFTER_S): this
    # build waited for its last ~2 s of 4, then ran the next step.
    assert 1.0 < slow.seconds < 3.5, slow
    assert after.start >= slow.end - 0.01, (slow, after)
    assert after.end < 4.0, after


def test_buildkit_reader_tells_the_watcher_each_transition():
    events = Events()
    reader = RawJsonReader(dockerfile("built"), events)
    for line in (STREAMS / "built.rawjson").read_text().splitlines():
        reader.feed(line)
    assert ("base", "running") in events.events and ("base", "done") in events.events
    assert not [ref for ref, _ in events.events if ref == "unused"]


def test_buildkit_non_json_lines_are_kept_for_the_log():
    reader = RawJsonReader(dockerfile("built"))
    reader.feed("ERROR: failed to solve: something\n")
    reader.feed("\n")
    assert reader.other_lines == ["ERROR: failed to solve: something"]
    failure = reader.outcome(failed=True).failure
    assert failure["stage"] is None and "failed to solve" in failure["reason"]


def test_classic_first_build_runs_every_stage_up_to_the_target():
    reader, outcome = classic("built")
    assert outcome.failure is None and reader.image_id.startswith("sha256:")
    assert outcome.stage_status["base"] == outcome.stage_status["app"] == "built"
    assert outcome.stage_status["3"] == "built"
    assert outcome.stage_status["unused"] in ("built", "cached"), "the classic builder runs it"
    assert [step.line for step in outcome.steps if step.stage == "base"] == [1, 2]


def test_classic_cached_steps():
    _, outcome = classic("cached")
    assert set(outcome.stage_status.values()) == {"cached"}
    assert all(step.status == "cached" for step in outcome.steps)


def test_classic_failure_names_stage_line_exit_code_and_output():
    events = Events()
    _, outcome = classic("failure", events)
    failure = outcome.failure
    assert (failure["stage"], failure["line"], failure["exit_code"]) == ("broken", 4, 3)
    assert "about to fail" in failure["log_tail"]
    assert outcome.stage_status == {"ok": "built", "broken": "failed", "2": "skipped"}
    assert ("broken", "failed") in events.events


def test_classic_cancelled_build_fails_the_stage_it_stopped():
    _reader, outcome = classic("cancelled")
    assert outcome.stage_status == {"slow": "failed"}
    assert outcome.failure["line"] == 2 and "interrupted" in outcome.failure["reason"]
    assert outcome.failure["exit_code"] is None


def test_classic_stage_of_ten_steps():
    _, outcome = classic("ten_steps")
    assert outcome.stage_status == {"ten": "built", "after": "built"}
    assert [step.line for step in outcome.steps if step.stage == "ten"] == list(range(1, 11))


@pytest.mark.parametrize("name", ["built", "cached", "failure", "ten_steps"])
def test_both_builders_agree_on_the_needed_stages(name):
    """Where the target needs a stage, both builders ran it (or failed it)."""
    needed = set(dockerfile(name).plan())
    bk = buildkit(name).stage_status
    _, cl = classic(name)
    for ref in needed:
        assert (bk[ref] == "skipped") == (cl.stage_status[ref] == "skipped"), ref


def test_classic_reader_records_the_images_the_build_made():
    """What `stagelab clean` may remove: images of steps that ran, never cached ones or bases."""
    reader, _ = classic("built")
    made = reader.made
    assert len(made) == len(set(made)) and all(len(image) == 12 for image in made)
    ran = [
        step
        for step in classic("built")[1].steps
        if step.status == "built" and not step.instruction.startswith("FROM")
    ]
    labels_added = 3  # the engine's LABEL steps for stagelab's labels
    assert len(made) == len(ran) + labels_added
    assert classic("cached")[0].made == [], "a fully cached build made nothing new"


def test_classic_steps_name_their_image_and_no_platform():
    """Each classic step keeps the image the engine made or reused for it (`---> ID`)."""
    steps = [s for s in classic("built")[1].steps if not s.instruction.startswith("FROM")]
    assert steps and all(step.image and len(step.image) == 12 for step in steps), steps
    assert {(step.platform, step.runs_on) for step in steps} == {(None, None)}


def steps_of(outcome, ref):
    return [(step.line, step.status) for step in outcome.steps if step.stage == ref]


@pytest.mark.parametrize("reader", ["buildkit", "classic"])
def test_onbuild_triggers_are_steps_of_the_stage_they_run_in_on_their_own_lines(reader):
    """BuildKit runs the triggers as the child's first steps, the classic builder inside its
    FROM; either way each is a step of the child on the line its ONBUILD is written on, and
    the edited build (only the stage the second trigger copies from changed) reran only it."""
    first, edited = (
        buildkit(name) if reader == "buildkit" else classic(name)[1]
        for name in ("triggers", "triggers_edited")
    )
    onbuild_run, onbuild_copy = (
        line_of("triggers", "ONBUILD RUN"),
        line_of("triggers", "ONBUILD COPY"),
    )
    app_from, app_run = line_of("triggers", "AS app"), line_of("triggers", "RUN cat")
    from_step = [(app_from, "cached")] if reader == "classic" else []
    assert sorted(steps_of(first, "app")) == sorted(
        from_step + [(onbuild_run, "built"), (onbuild_copy, "built"), (app_run, "built")]
    )
    assert sorted(steps_of(edited, "app")) == sorted(
        from_step + [(onbuild_run, "cached"), (onbuild_copy, "built"), (app_run, "built")]
    )
    assert edited.stage_status == {"parts": "built", "base": "cached", "app": "built"}


def test_classic_reader_counts_an_image_made_after_a_cached_trigger():
    """The edited build's first trigger came from the cache and its second ran: the image after
    the triggers is new, so it is one `stagelab clean` may remove."""
    reader, outcome = classic("triggers_edited")
    app_image = next(step.image for step in outcome.steps if step.stage == "app" and step.image)
    assert app_image in reader.made


def test_buildkit_counts_the_parents_triggers_before_a_stages_own_steps():
    """BuildKit numbers a stage's steps from its parent's ONBUILD triggers on ("[app 1/3]
    ONBUILD RUN ..." in triggers.rawjson): the same line twice is told apart counting them."""
    text = (
        "FROM busybox:1.36 AS base\nONBUILD RUN echo trigger\n"
        "FROM base AS app\nRUN echo same\nRUN echo same\n"
    )
    app = Dockerfile(text).stages[1]
    assert instruction_for(app, "RUN echo same", 2, first=1).line == 4
    assert instruction_for(app, "RUN echo same", 3, first=1).line == 5
    assert instruction_for(app, "ONBUILD RUN echo trigger", 1, first=1).line == 2
