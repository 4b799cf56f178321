"""`result.why()` on the engine, both builders: build, make one change of each kind, build again.
The steps the engine rebuilt must be exactly those why() said the change invalidated, and the
reason it names must be the change made. Expected values come from the engine's statuses."""

from __future__ import annotations

import subprocess
import time

import pytest
from why_cases import disagreement, prune_last_step
from why_cases import rebuilt as rebuilt_steps

import stagelab as sl

pytestmark = pytest.mark.engine
BUILDERS = ["buildkit", "classic"]


def salted(text: str) -> tuple[str, str]:
    salt = str(time.time_ns())
    return text.replace("SALT", salt), salt


def causes(why) -> list[tuple[str, int, str]]:
    return [(step.stage, step.line, step.reason.code) for step in why.causes]


def assert_explained(result) -> None:
    problem = disagreement(result)
    assert not problem, problem


PIPELINE = """\
FROM busybox:1.36 AS build
ARG GREETING=hello
RUN echo "SALT $GREETING" > /out
RUN cat /out > /copy
FROM build AS test
RUN test -s /copy
FROM busybox:1.36 AS release
COPY --from=build /out /app
COPY notes.txt /notes.txt
RUN echo SALT release
"""


@pytest.fixture(params=BUILDERS)
def builder(request, docker_engine):
    return request.param


def twice(builder, first: dict, second: dict, text: str = PIPELINE, **shared):
    """Build, then build again with what `second` changes; return both results."""
    shared.setdefault("progress", False)
    one = sl.build(text, builder=builder, **{**shared, **first})
    two = sl.build(second.pop("text", text), builder=builder, **{**shared, **second})
    return one, two


def test_an_edited_instruction_rebuilds_it_and_what_follows(builder):
    text, _salt = salted(PIPELINE)
    files = {"notes.txt": "n"}
    _, edited = twice(
        builder,
        {"files": files},
        {"files": files, "text": text.replace("cat /out > /copy", "cat /out /out > /copy")},
        text=text,
        target="test",
    )
    assert causes(edited.why()) == [("build", 4, "instruction")]
    assert edited.why().step(4).reason.details["old"] == "RUN cat /out > /copy"
    assert edited.why().step(4).invalidates == [("test", 6)]
    assert_explained(edited)


def test_a_changed_build_arg_is_named_and_reaches_the_stages_that_use_its_stage(builder):
    text, _ = salted(PIPELINE)
    files = {"notes.txt": "n"}
    _, changed = twice(
        builder,
        {"files": files},
        {"files": files, "build_args": {"GREETING": "hi"}},
        text=text,
        target="release",
    )
    why = changed.why()
    assert why.step(3).reason.code == "build-arg"
    assert why.step(3).reason.details == {
        "name": "GREETING",
        "old": "hello",
        "new": "hi",
        "where": "ARG on line 2",
    }
    # The release copies /out by content: its text changed, so the copy was rebuilt.
    assert (
        why.step(8).reason.code == "source-stage" and ("release", 8) in why.step(3).may_invalidate
    )
    assert_explained(changed)


def test_a_rebuilt_stage_whose_files_come_out_the_same_leaves_its_copy_cached(builder):
    text, _ = salted(PIPELINE.replace('"SALT $GREETING"', "SALT"))
    files = {"notes.txt": "n"}
    _, changed = twice(
        builder,
        {"files": files},
        {"files": files, "build_args": {"GREETING": "hi"}},
        text=text,
        target="release",
    )
    why = changed.why()
    assert why.step(3).reason.code == "build-arg"
    assert why.step(8).status == "cached" and why.step(8).reason.code == "copied-files-same"
    assert_explained(changed)


def test_a_changed_context_file_is_named(builder):
    text, _ = salted(PIPELINE)
    _, changed = twice(
        builder, {"files": {"notes.txt": "one"}}, {"files": {"notes.txt": "two"}}, text=text
    )
    assert causes(changed.why()) == [("release", 9, "context-files")]
    assert changed.why().step(9).reason.details == {"files": ["notes.txt"]}
    assert_explained(changed)


def test_a_new_step_was_never_built_here(builder):
    text, _ = salted(PIPELINE)
    files = {"notes.txt": "n"}
    added = text + "RUN echo SALT added\n"
    _, grown = twice(builder, {"files": files}, {"files": files, "text": added}, text=text)
    assert causes(grown.why()) == [("release", 11, "first-build")]
    assert_explained(grown)


def test_no_cache_rebuilds_every_step(builder):
    text, _ = salted(PIPELINE)
    files = {"notes.txt": "n"}
    _, forced = twice(builder, {"files": files}, {"files": files, "no_cache": True}, text=text)
    assert {code for _, _, code in causes(forced.why())} == {"no-cache"}
    assert_explained(forced)


@pytest.mark.parametrize("change", ["RUN echo {} > /version", "LABEL version={}"])
def test_a_base_image_retagged_to_another_image(builder, change):
    # The classic builder looks a step up by its parent image's ID; BuildKit keys a base image
    # by its layers and starting settings, so a new label alone leaves its cache as it was.
    _, salt = salted("")
    base = f"stagelab-why-base-{salt}:1"
    made = []
    try:
        for version in ("1", "2"):
            text = f"FROM busybox:1.36\n{change.format(version)}\n"
            made.append(sl.build(text, tag=base, progress=False))
            result = sl.build(
                f"FROM {base}\nRUN echo {salt} on the base\n", builder=builder, progress=False
            )
        why = result.why()
        if builder == "buildkit" and change.startswith("LABEL"):
            assert causes(why) == [] and "only a change there rebuilds" in why.stage("0").text
        else:
            assert causes(why) == [("0", 2, "base-image")]
            assert why.step(2).reason.details["old"] == made[0].image_id
            assert why.step(2).reason.details["new"] == made[1].image_id
        assert_explained(result)
    finally:
        subprocess.run(["docker", "rmi", base], capture_output=True, check=False)


def test_a_pruned_cache_is_named_from_the_engine(builder):
    text, _salt = salted("FROM busybox:1.36\nRUN echo SALT one > /one\nRUN echo SALT two > /two\n")
    first = sl.build(text, builder=builder, progress=False)
    prune_last_step(first, builder)
    again = sl.build(text, builder=builder, progress=False)
    assert causes(again.why()) == [("0", 3, "pruned")]
    assert again.why().step(2).status == "cached"
    assert_explained(again)


def test_identical_steps_of_two_stages_that_buildkit_ran_once_are_each_explained(builder):
    # BuildKit runs identical operations once and reports them under one stage's name.
    text, _ = salted(
        "FROM busybox:1.36 AS one\nWORKDIR /out\nRUN echo SALT one > one\n"
        "FROM busybox:1.36 AS two\nWORKDIR /out\nCOPY --from=one /out/one /\nRUN echo SALT two\n"
    )
    sl.build(text, builder=builder, progress=False)
    again = sl.build(text, builder=builder, progress=False)
    why = again.why()
    own = [step.line for step in why.steps if not step.instruction.startswith("FROM")]
    assert own == [2, 3, 5, 6, 7], str(why)
    assert {step.status for step in why.steps} == {"cached"} and not why.causes
    assert not [note for note in why.notes if "reported no step" in note], why.notes
    assert_explained(again)


def test_the_same_line_twice_in_a_stage_is_told_apart(builder):
    text, _ = salted(
        "FROM busybox:1.36\nRUN echo SALT > /f\nARG V=a\nRUN echo $V >> /f\nARG V=a\n"
        "RUN echo $V >> /f\n"
    )
    sl.build(text, builder=builder, progress=False)
    changed = sl.build(text, builder=builder, build_args={"V": "b"}, progress=False)
    why = changed.why()
    # Each of the two identical RUN lines is its own step, reported at its own line.
    assert {4, 6} <= {line for _, line in rebuilt_steps(changed)}, changed.steps
    assert causes(why) == [("0", 4, "build-arg")], str(why)
    # The classic builder makes a step of the ARG too; BuildKit only of the RUN.
    after = [("0", 6)] if builder == "buildkit" else [("0", 5), ("0", 6)]
    assert why.step(4).invalidates == after
    assert_explained(changed)


def test_steps_after_a_copy_whose_files_came_out_the_same_stay_known(builder):
    # The base is retagged to another image, so stage one is rebuilt; the file it makes is the
    # same, so stage two's COPY --from=one stays cached, and so does stage three FROM two. A
    # third, unchanged build must find stage three's steps in the record: they build on the
    # COPY's recorded step, whichever key led the engine to it.
    _, salt = salted("")
    base = f"stagelab-why-same-{salt}:1"
    text = (
        f"FROM {base} AS one\nRUN echo {salt} > /made\n"
        f"FROM busybox:1.36 AS two\nRUN echo {salt} two > /two\nCOPY --from=one /made /made\n"
        f"FROM two AS three\nRUN echo {salt} three > /three\nRUN cat /made >> /three\n"
    )
    try:
        results = []
        for version in ("1", "2", "2"):
            if len(results) < 2:
                sl.build(f"FROM busybox:1.36\nRUN echo {version} > /v\n", tag=base, progress=False)
            results.append(sl.build(text, builder=builder, progress=False))
        retagged, again = results[1].why(), results[2].why()
        assert causes(retagged) == [("one", 2, "base-image")], str(retagged)
        assert retagged.step(5).reason.code == "copied-files-same", str(retagged)
        assert rebuilt_steps(results[2]) == set(), results[2].steps
        own = [step for step in again.stage("three").steps if step.reason.code != "base"]
        assert [step.reason.code for step in own] == ["cached", "cached"], str(again)
        for result in results:
            assert_explained(result)
    finally:
        subprocess.run(["docker", "rmi", base], capture_output=True, check=False)


def test_a_step_of_another_dockerfile_at_the_same_line_is_not_this_one_last_time(builder):
    # Both start FROM busybox:1.36, so their line 2 steps share a parent: the first is
    # another Dockerfile (another shape), not this one before an edit.
    other, salt = salted("FROM busybox:1.36\nRUN echo SALT one > /one\nRUN echo SALT two\n")
    sl.build(other, builder=builder, progress=False)
    mine = f"FROM busybox:1.36\nRUN echo {salt} > /f\nARG V=a\nRUN echo $V >> /f\n"
    result = sl.build(mine, builder=builder, progress=False)
    assert ("0", 2) in rebuilt_steps(result), result.steps
    assert result.why().step(2).reason.code == "first-build", str(result.why())
    assert_explained(result)
