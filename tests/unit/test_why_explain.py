"""The walk that predicts each step and names its reason (why/explain.py), the ledger it reads
(why/ledger.py) and the views (why/view.py), on builds whose statuses are given: pure logic.
What the engine really does is tests/integration/test_why.py's part."""

from __future__ import annotations

import json
import multiprocessing

import pytest

from stagelab.dockerfile import Dockerfile
from stagelab.results import Step
from stagelab.why import Why
from stagelab.why.contextfiles import BuildContext
from stagelab.why.document import Document, same_document
from stagelab.why.explain import explain
from stagelab.why.inputs import stage_inputs
from stagelab.why.ledger import Entry, Ledger
from stagelab.why.stages import stage_reasons

TEXT = """\
FROM busybox:1.36 AS build
ARG GREETING=hello
RUN echo "$GREETING" > /out
FROM build AS test
RUN test -s /out
FROM busybox:1.36 AS release
COPY --from=build /out /app
COPY f.txt /f
"""
IMAGES = {"busybox:1.36": "sha256:" + "a" * 64}


class Builds:
    """Explains builds of one Dockerfile in a context, remembering each in a ledger."""

    def __init__(self, tmp_path, builder="buildkit"):
        self.context = tmp_path / "context"
        self.context.mkdir()
        (self.context / "f.txt").write_text("a")
        self.ledger = Ledger(tmp_path / "home", "engine-1", builder)
        self.builder = builder

    def explain(self, statuses, text=TEXT, build_args=None, images=IMAGES, target="release", **kw):
        dockerfile = Dockerfile(text)
        inputs = stage_inputs(
            dockerfile, self.builder, build_args or {}, target, BuildContext(self.context), images
        )
        steps = [
            Step(stage.ref, step.instruction, step.line, statuses[step.line], 0.1)
            for stage in inputs
            for step in stage.steps
            if step.line in statuses
        ]
        stage_status = {
            stage.ref: next(
                (statuses[s.line] for s in stage.steps if s.line in statuses), "skipped"
            )
            for stage in inputs
        }
        texts = stage_reasons(dockerfile, self.builder, target, build_args or {})
        explained = explain(
            self.builder,
            target,
            inputs,
            texts,
            stage_status,
            steps,
            self.ledger,
            images,
            document=Document.of(dockerfile),
            **kw,
        )
        self.ledger.remember(explained.entries, explained.images, explained.aliases)
        return explained.why


def codes(why: Why) -> dict[int, tuple[str, str | None]]:
    return {step.line: (step.reason.code, step.expected) for step in why.steps}


def test_a_first_build_then_a_cached_one(tmp_path):
    builds = Builds(tmp_path)
    first = builds.explain({3: "built", 7: "built", 8: "built"})
    assert codes(first) == {
        3: ("first-build", "built"),
        7: ("first-build", "built"),
        8: ("previous-step", "built"),
    }
    assert first.step(7).invalidates == [("release", 8)]
    again = builds.explain({3: "cached", 7: "cached", 8: "cached"})
    assert {code for code, _ in codes(again).values()} == {"cached"}
    assert again.agreement() == (3, 3)


def test_a_changed_build_arg_is_named_with_its_old_and_new_value(tmp_path):
    builds = Builds(tmp_path)
    builds.explain({3: "built", 7: "built", 8: "built"})
    why = builds.explain({3: "built", 7: "built", 8: "built"}, build_args={"GREETING": "hi"})
    reason = why.step(3).reason
    assert reason.code == "build-arg"
    assert reason.details == {
        "name": "GREETING",
        "old": "hello",
        "new": "hi",
        "where": "ARG on line 2",
    }
    # The release copies from build by content: rebuilt or not, it depends on the files.
    assert why.step(7).expected == "either" and why.step(7).reason.code == "source-stage"
    assert why.step(3).may_invalidate == [("release", 7)]
    assert why.step(8).reason.code == "previous-step"


def test_a_copy_whose_source_came_out_the_same_is_cached_by_content(tmp_path):
    builds = Builds(tmp_path)
    builds.explain({3: "built", 7: "built", 8: "built"})
    why = builds.explain({3: "built", 7: "cached", 8: "cached"}, build_args={"GREETING": "hi"})
    assert codes(why)[7] == ("copied-files-same", "either")
    # The step after it builds on the cached copy: the record's key, so it is cached as predicted.
    assert codes(why)[8] == ("cached", "cached")


def test_a_changed_context_file_is_named(tmp_path):
    builds = Builds(tmp_path)
    builds.explain({3: "built", 7: "built", 8: "built"})
    (builds.context / "f.txt").write_text("b")
    why = builds.explain({3: "cached", 7: "cached", 8: "built"})
    assert why.step(8).reason.code == "context-files"
    assert why.step(8).reason.details == {"files": ["f.txt"]}


def test_an_edited_instruction_shows_its_old_text(tmp_path):
    builds = Builds(tmp_path)
    builds.explain({3: "built", 7: "built", 8: "built"})
    why = builds.explain(
        {3: "cached", 7: "cached", 8: "built"}, text=TEXT.replace("COPY f.txt /f", "COPY f.txt /g")
    )
    assert why.step(8).reason.code == "instruction"
    assert why.step(8).reason.details["old"] == "COPY f.txt /f"


def test_a_step_of_another_dockerfile_text_is_not_this_step_last_time(tmp_path):
    builds = Builds(tmp_path)
    other = TEXT.replace("COPY f.txt /f", "RUN echo another Dockerfile")
    builds.explain({3: "built", 7: "built", 8: "built"}, text=other)
    # The same stages and parents, but a RUN where this one has a COPY: another Dockerfile,
    # whose line 8 stagelab must not quote as this one's last text.
    why = builds.explain({3: "cached", 7: "cached", 8: "built"})
    assert why.step(8).reason.code == "first-build", str(why)
    # The same shape, line 8 edited: this Dockerfile, and its old text is named.
    edited = TEXT.replace("COPY f.txt /f", "COPY f.txt /g")
    why = builds.explain({3: "cached", 7: "cached", 8: "built"}, text=edited)
    assert why.step(8).reason.code == "instruction", str(why)
    assert why.step(8).reason.details["old"] == "COPY f.txt /f"


def test_a_dockerfile_file_is_itself_whatever_else_changed():
    grown = TEXT + "RUN echo one more step\n"
    one = Document.of(Dockerfile(TEXT), "/course/app/Dockerfile").mark()
    assert same_document({"document": one}, Document.of(Dockerfile(grown), one["file"]).mark())
    assert not same_document({"document": one}, Document.of(Dockerfile(grown), "/b/x").mark())
    assert not same_document({"document": one}, Document.of(Dockerfile(grown)).mark())
    # Dockerfile text with an instruction's words edited keeps its shape: the same Dockerfile.
    edited = Document.of(Dockerfile(TEXT.replace("hello", "hi").replace("/f", "/g"))).mark()
    assert same_document({"document": one}, edited)
    # A step recorded before stagelab kept documents cannot be told apart: not taken.
    assert not same_document({}, one)


def test_a_different_base_image_is_named(tmp_path):
    builds = Builds(tmp_path)
    builds.explain({3: "built", 7: "built", 8: "built"})
    other = {"busybox:1.36": "sha256:" + "b" * 64}
    why = builds.explain({3: "built", 7: "built", 8: "built"}, images=other)
    assert why.step(3).reason.code == "base-image"
    assert why.step(3).reason.details["old"] == IMAGES["busybox:1.36"]
    assert why.step(7).reason.code == "base-image"


def test_no_cache_rebuilds_every_step(tmp_path):
    builds = Builds(tmp_path)
    builds.explain({3: "built", 7: "built", 8: "built"})
    why = builds.explain({3: "built", 7: "built", 8: "built"}, no_cache=True)
    assert {code for code, _ in codes(why).values()} == {"no-cache"}


def test_a_pruned_cache_seen_on_the_engine_is_named_and_one_not_seen_is_not_guessed(tmp_path):
    builds = Builds(tmp_path)
    builds.explain({3: "built", 7: "built", 8: "built"})
    pruned = builds.explain({3: "built", 7: "cached", 8: "cached"}, gone=lambda entry: True)
    assert codes(pruned)[3] == ("pruned", "built")
    unknown = builds.explain({3: "built", 7: "cached", 8: "cached"}, gone=lambda entry: None)
    assert codes(unknown)[3] == ("unexplained", "cached")
    assert not unknown.step(3).agrees and "cannot tell why" in unknown.step(3).reason.text


def test_a_cache_stagelab_never_saw_is_said_to_be_unseen(tmp_path):
    why = Builds(tmp_path).explain({3: "cached", 7: "cached", 8: "cached"})
    assert codes(why)[3] == ("unseen-cache", "built")
    assert "did not see" in why.step(3).reason.text


def test_stages_say_why_they_ran_or_not(tmp_path):
    why = Builds(tmp_path).explain({3: "built", 7: "built", 8: "built"})
    assert why.stage("test").role == "unneeded" and why.stage("test").steps == []
    assert "COPY --from=build in stage release (line 7)" in why.stage("build").text
    classic = stage_reasons(Dockerfile(TEXT), "classic", "release", {})
    assert classic["test"][0] == "classic order"
    assert stage_reasons(Dockerfile(TEXT), "classic", "build", {})["release"][0] == "after target"


def test_an_explanation_survives_json_as_a_recording_keeps_it(tmp_path):
    why = Builds(tmp_path).explain({3: "built", 7: "built", 8: "built"})
    back = Why.from_json(json.loads(json.dumps(why.to_json())), recorded="a recording")
    assert str(back).replace(" (replayed: the step reasons are recorded)", "") == str(why)
    assert "replayed" in back.heading()


def test_the_html_view_escapes_what_the_dockerfile_says(tmp_path):
    text = TEXT.replace('echo "$GREETING"', "echo '<script>x</script>'")
    why = Builds(tmp_path).explain({3: "built", 7: "built", 8: "built"}, text=text)
    page = why._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_the_ledger_stays_within_its_bounds(tmp_path, monkeypatch):
    monkeypatch.setattr("stagelab.why.ledger.MAX_STEPS", 5)
    ledger = Ledger(tmp_path, "engine", "buildkit")
    ledger.remember([Entry(f"k{n}", "p", {}) for n in range(12)])
    assert ledger.size()["steps"] == 5


def _write(folder: str, worker: int) -> None:
    ledger = Ledger(folder, "engine", "classic")
    for n in range(40):
        ledger.remember([Entry(f"{worker}-{n}", "parent", {"n": n})])


def test_two_kernels_writing_at_once_both_land(tmp_path):
    context = multiprocessing.get_context("fork")  # two processes, as two kernels are
    workers = [context.Process(target=_write, args=(str(tmp_path), w)) for w in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert len(Ledger(tmp_path, "engine", "classic").children("parent")) == 80


def test_a_ledger_that_is_not_sqlite_is_set_aside(tmp_path):
    (tmp_path / "why.sqlite3").write_text("not a database")
    ledger = Ledger(tmp_path, "engine", "buildkit")
    ledger.remember([Entry("k", "p", {})])
    assert ledger.get("k") is not None and (tmp_path / "why.broken").exists()


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_a_failed_step_ends_its_stage(tmp_path, builder):
    statuses = {3: "failed"} if builder == "buildkit" else {1: "cached", 2: "built", 3: "failed"}
    why = Builds(tmp_path, builder).explain(statuses, target="build")
    assert why.stage("build").steps[-1].status == "failed"
    assert why.stage("build").steps[-1].expected is None


def test_stage_reasons_name_the_edges_and_a_named_context_that_replaces_a_stage():
    dockerfile = Dockerfile(TEXT)
    buildkit = stage_reasons(dockerfile, "buildkit", "release", {})
    assert buildkit["build"] == (
        "needed",
        "needed by the target release: COPY --from=build in stage release (line 7)",
    )
    assert buildkit["test"][0] == "unneeded" and "nothing the target" in buildkit["test"][1]
    assert stage_reasons(dockerfile, "classic", "release", {})["test"][0] == "classic order"
    replaced = stage_reasons(dockerfile, "buildkit", "release", {}, replaced={"Build": "ctx"})
    assert replaced["build"][0] == "replaced" and "named build context ctx" in replaced["build"][1]


def test_a_stage_only_a_replaced_stage_needed_is_not_needed():
    dockerfile = Dockerfile(
        TEXT.replace("FROM busybox:1.36 AS build", "FROM busybox:1.36 AS deps\nFROM deps AS build")
    )
    kept = stage_reasons(dockerfile, "buildkit", "release", {})
    assert kept["deps"][0] == "needed"
    reasons = stage_reasons(dockerfile, "buildkit", "release", {}, replaced={"build": "./vendor"})
    assert reasons["build"][0] == "replaced"
    assert reasons["deps"][0] == "unneeded"
