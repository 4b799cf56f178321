"""Predictions: a learner's answer, compared with hand-made build records (no engine): right,
wrong, missing or malformed answers are explained and never raised; reasons follow each
builder's rules; a notebook shows buttons that give way to plain HTML once checked."""

from __future__ import annotations

import html
import re

import nbformat
import pytest
from nbconvert import HTMLExporter

import stagelab as sl
from stagelab import BuildFailed, BuildResult, Step
from stagelab.dockerfile import Dockerfile
from stagelab.notebook_runs import NotebookRun, run_notebooks
from stagelab.predictions import question

DOCKERFILE = """\
FROM busybox:1.36 AS base
RUN echo base > /base.txt

FROM base AS build
RUN echo build > /build.txt
RUN echo more > /more.txt

FROM busybox:1.36 AS test
RUN false

FROM scratch
COPY --from=build /build.txt /build.txt
"""
BUILDKIT = {"base": "built", "build": "built", "test": "skipped", "3": "built"}
CLASSIC_FAILED = {"base": "cached", "build": "cached", "test": "failed", "3": "skipped"}


def result(statuses=BUILDKIT, builder="buildkit", steps=(), size=2_100_000, **extra):
    return BuildResult(
        builder=builder,
        target=None,
        dockerfile=Dockerfile(DOCKERFILE),
        stage_status=dict(statuses),
        steps=list(steps),
        image_id="sha256:" + "ab" * 32 if size else None,
        size_bytes=size,
        duration_s=1.0,
        log="",
        **extra,
    )


def classic_failure() -> BuildFailed:
    steps = [Step("test", "RUN false", 9, "failed", 0.1)]
    partial = result(CLASSIC_FAILED, "classic", steps, size=None)
    return BuildFailed(
        stage="test", instruction="RUN false", line=9, exit_code=1, log_tail="", result=partial
    )


def verdict_of(prediction, outcome):
    prediction.check(outcome)
    return prediction.verdict


def test_right_answer_by_names_indexes_and_buildkits_own_name(capsys):
    for answer in (["base", "build", "3"], "base, build, stage-3", ("BASE", "build", 3)):
        runs = sl.predict_stages("Which stages run?", DOCKERFILE, answer=answer)
        verdict = verdict_of(runs, result())
        assert verdict.right is True and verdict.said == ["base", "build", "3"], answer
        assert runs.right is True
    assert "right: Which stages run?" in capsys.readouterr().err


def test_wrong_answer_explains_each_stage_it_got_wrong_with_the_builders_rule():
    runs = sl.predict_stages("Which stages run?", DOCKERFILE, answer=["base", "test", "3"])
    verdict = verdict_of(runs, result())
    assert verdict.right is False and verdict.truth == ["base", "build", "3"]
    assert len(verdict.why) == 2  # build (missed) and test (wrongly guessed)
    build, test = verdict.why
    assert "`build` ran because the target `3` needs it" in build
    assert "`3` copies from `build` (line 12)" in build
    assert "`test` did not run" in test and "BuildKit runs only what the target needs" in test


def test_classic_builder_rule_and_a_failure_stopping_the_build():
    runs = sl.predict_stages("Which stages run?", DOCKERFILE, answer=["base", "build", "3"])
    verdict = verdict_of(runs, classic_failure())
    assert verdict.right is False and verdict.truth == ["base", "build", "test"]
    text = " ".join(verdict.why)
    assert "`test` failed at line 9: `RUN false`" in text
    assert "`3` did not run: the build failed in `test` first" in text
    classic = verdict_of(
        sl.predict_stages("q", DOCKERFILE), result({**BUILDKIT, "test": "built"}, "classic")
    )
    assert any("the classic builder runs every stage up to the target" in w for w in classic.why)


def test_a_stage_a_named_context_replaced_did_not_run_and_nor_did_what_only_it_needed():
    # `--build-context build=FOLDER`: the folder stands in for `build`, which needed `base`.
    replaced = {"base": "skipped", "build": "skipped", "test": "skipped", "3": "built"}
    outcome = result(replaced, build_contexts={"build": "/vendored"})
    verdict = verdict_of(sl.predict_stages("q", DOCKERFILE, answer=["base", "build", "3"]), outcome)
    assert verdict.right is False and verdict.truth == ["3"]
    base, build = verdict.why
    assert "`build` did not run: the named build context `build` replaced it" in build
    assert "`base` did not run: the target `3` does not need it" in base


@pytest.mark.parametrize(
    "answer", [None, "", [], {"a": 1}, 3.5, object(), "nonsense", ["bas", None], b"base"]
)
def test_a_missing_or_malformed_answer_is_explained_not_raised(answer):
    runs = sl.predict_stages("Which stages run?", DOCKERFILE, answer=answer)
    verdict = verdict_of(runs, result())
    assert verdict.right is None and verdict.said is None
    assert len(verdict.why) == 4  # every stage, when there is no prediction
    if answer not in (None, "", []):
        assert "not among the choices" in verdict.note


def test_part_of_an_answer_that_is_no_stage_is_left_out_and_said():
    verdict = verdict_of(sl.predict_stages("q", DOCKERFILE, answer="base build 3 deploy"), result())
    assert verdict.right is True and "'deploy': not among the choices" in verdict.note


def test_cached_step_by_text_or_line_and_why_a_later_step_ran_again():
    steps = [
        Step("base", "RUN echo base > /base.txt", 2, "cached", 0.0),
        Step("build", "RUN echo build > /build.txt", 5, "built", 1.0),
        Step("build", "RUN echo more > /more.txt", 6, "built", 1.0, 1.0),
    ]
    first = sl.predict_cached("Cached?", "run echo  base", answer=True)
    assert verdict_of(first, result(steps=steps)).right is True
    later = sl.predict_cached("Cached?", 6, answer="cached")
    verdict = verdict_of(later, result(steps=steps))
    assert verdict.right is False and verdict.truth == ["built"]
    assert "because line 5 (`RUN echo build > /build.txt`)" in verdict.why[0]
    skipped = verdict_of(sl.predict_cached("q", "RUN false", answer="no"), result(steps=steps))
    assert skipped.truth == ["skipped"] and "`test` did not run" in skipped.why[0]
    no_cache = verdict_of(sl.predict_cached("q", 5), result(steps=steps, no_cache=True))
    assert "no cache" in no_cache.why[0]


def test_a_step_the_dockerfile_does_not_have_is_the_lessons_mistake():
    with pytest.raises(sl.StagelabError, match="no step 'RUN make'"):
        sl.predict_cached("q", "RUN make").check(result())
    with pytest.raises(sl.StagelabError, match="line number or its instruction"):
        sl.predict_cached("q", "")


@pytest.mark.parametrize(
    ("answer", "right"), [(2, True), ("2.5 MB", True), ("under 10 MB", True), (50, False)]
)
def test_size_answers_as_ranges_or_numbers(answer, right):
    verdict = verdict_of(sl.predict_size("How big?", answer=answer), result())
    assert verdict.right is right and verdict.truth == ["under 10 MB"]
    assert "starts FROM scratch" in verdict.why[0] and "(build)" in verdict.why[0]


def test_size_of_a_build_that_made_no_image():
    verdict = verdict_of(sl.predict_size("How big?", bins_mb=[5], answer=1), classic_failure())
    assert verdict.right is False and verdict.did == "made no image"
    with pytest.raises(sl.StagelabError, match="above 0"):
        sl.predict_size("q", bins_mb=[0])


def test_failure_where_and_why_the_guessed_stage_did_not_fail():
    guess = sl.predict_failure("Where does it fail?", DOCKERFILE, answer="3")
    verdict = verdict_of(guess, classic_failure())
    assert verdict.right is False and verdict.truth == ["test"]
    assert "Stage `test` failed at line 9: `RUN false` with exit code 1" in verdict.why[0]
    assert "`3` did not run" in verdict.why[1]
    success = verdict_of(sl.predict_failure("q", DOCKERFILE, answer="succeeds"), result())
    assert success.right is True and success.truth == ["succeeds"]
    early = sl.DockerfileError("unknown instruction FORM", line=1)
    verdict = verdict_of(sl.predict_failure("q", DOCKERFILE, answer="base"), early)
    assert verdict.truth == [] and "before any stage ran" in verdict.why[0]


# Lesson 02's question on what reaches stage 1 by its index: choices with spaces in them.
INDEX_USES = ["COPY --from=1", "FROM 1", "RUN --mount=from=1", "--target 1"]


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("COPY --from=1", ["COPY --from=1"]),
        ("copy --from=1,  --target 1", ["COPY --from=1", "--target 1"]),
        (["COPY --from=1", "--target 1"], ["COPY --from=1", "--target 1"]),
        ("FROM 1, nope", ["FROM 1"]),
    ],
)
def test_a_typed_answer_of_many_is_split_on_commas_into_whole_choices(answer, said):
    assert sl.predict("q", INDEX_USES, many=True, answer=answer).said()[0] == said
    # Choices with no spaces may still be typed with spaces between them.
    assert sl.predict("q", ["a", "b"], many=True, answer="a b").said()[0] == ["a", "b"]


def test_an_answer_that_is_none_of_the_choices_is_said_with_the_question(capsys, monkeypatch):
    sl.predict("Leaves images behind?", ["yes", "no"], answer="maybe")
    assert "'maybe': not among the choices (yes, no)" in capsys.readouterr().err
    sl.predict("q", INDEX_USES, many=True, answer="FROM 1, --target=1")
    assert "'--target=1': not among the choices" in capsys.readouterr().err
    monkeypatch.setattr(question, "in_kernel", lambda: True)
    monkeypatch.setattr(question, "LiveBundle", FakeLive)
    shown = sl.predict("q", ["yes", "no"], answer="<maybe>")
    heading = shown._live.shown[0]
    assert "&#x27;&lt;maybe&gt;&#x27;: not among the choices" in heading["text/html"]


def test_a_general_question_and_its_reason():
    guess = sl.predict("Leaves images behind?", ["yes", "no"], answer="No")
    guess.check("yes", why="each classic step is an image")
    assert guess.right is False and guess.verdict.why == ["each classic step is an image"]
    with pytest.raises(sl.StagelabError, match="not among the choices"):
        guess.check("maybe")
    with pytest.raises(sl.StagelabError, match="at least one choice"):
        sl.predict("q", [])


def test_a_replayed_build_says_its_answer_comes_from_a_recording():
    replayed = result(replayed=True, recorded_engine="28.5.2", recorded_on="2026-12-06")
    verdict = verdict_of(sl.predict_stages("q", DOCKERFILE), replayed)
    assert "recorded build (Docker Engine 28.5.2, 2026-12-06)" in verdict.note


def test_verdict_html_escapes_and_reads_without_a_kernel():
    guess = sl.predict("Is <b>this</b> `code`?", ["<yes>", "no"], answer="<yes>")
    guess.check("no", why="because <script>")
    page = guess.verdict._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page and "<code>code</code>" in page
    assert "data-right='false'" in page
    text = re.sub(r"<[^>]+>", " ", page)
    assert "You predicted:" in text and html.escape("<yes>") in text
    assert "Choices:" in guess._repr_html_()


class FakeLive:
    """Stands for the notebook output a prediction shows and later replaces."""

    def __init__(self, bundle):
        self.shown = [bundle]

    def update(self, bundle):
        self.shown.append(bundle)


def test_in_a_notebook_buttons_answer_and_give_way_to_html_once_checked(monkeypatch):
    monkeypatch.setattr(question, "in_kernel", lambda: True)
    monkeypatch.setattr(question, "LiveBundle", FakeLive)
    monkeypatch.setattr(question, "show", lambda html_text, text: None)
    runs = sl.predict_stages("Which stages run?", DOCKERFILE)
    first = runs._live.shown[0]
    assert "application/vnd.jupyter.widget-view+json" in first and "text/html" in first
    for toggle in runs.buttons.children:
        toggle.value = toggle.description in ("base", "build", "3")
    assert runs.answer == ["base", "build", "3"]
    runs.check(result())
    assert runs.right is True
    final = runs._live.shown[-1]
    assert "application/vnd.jupyter.widget-view+json" not in final
    assert "Your prediction: <b>base, build, 3</b>" in final["text/html"]
    single = sl.predict_size("How big?")
    single.buttons.value = "100 MB or more"
    assert single.answer == "100 MB or more"


LESSON_CELLS = [
    "import stagelab as sl\nfrom stagelab import BuildResult\n"
    "from stagelab.dockerfile import Dockerfile",
    f"dockerfile = {DOCKERFILE!r}\nmy_answer = ['base', 'test']\n"
    "runs = sl.predict_stages('Which stages will BuildKit run?', dockerfile, answer=my_answer)",
    "runs.check(BuildResult(builder='buildkit', target=None, dockerfile=Dockerfile(dockerfile),"
    f" stage_status={BUILDKIT!r}, steps=[], image_id=None, size_bytes=None, duration_s=1.0,"
    " log=''))",
]


def test_the_site_shows_the_question_and_the_verdict_as_html(tmp_path):
    """Run in a kernel as the site runs lessons, then rendered by nbconvert: the checked
    question is plain HTML (no widget left to load), and both read as text."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in LESSON_CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    source = tmp_path / "lesson.ipynb"
    nbformat.write(notebook, source)
    (run,) = run_notebooks([NotebookRun(source, tmp_path, "lesson")], tmp_path / "work", workers=1)
    assert not run.errors(), run.errors()
    question_outputs = run.notebook.cells[1].outputs
    assert [sorted(o.data) for o in question_outputs] == [["text/html", "text/plain"]]
    page, _ = HTMLExporter().from_notebook_node(run.notebook)
    text = " ".join(re.sub(r"<[^>]+>", " ", html.unescape(page)).split())
    assert "Predict before you build: Which stages will BuildKit run?" in text
    assert "Your prediction: base, test" in text
    assert "not this time · Which stages will BuildKit run?" in text
    assert "The engine: BuildKit ran base (built), build (built), 3 (built)" in text
