"""What each builder's cache compares for each step (why/inputs.py) and which context files a
COPY reads (why/contextfiles.py): pure, no engine. Whether these rules are the engine's is what
tests/integration/test_why.py and the property test check on real builds."""

from __future__ import annotations

import os

import pytest

from stagelab.dockerfile import Dockerfile
from stagelab.why.contextfiles import BuildContext, ignored, read_ignore_patterns
from stagelab.why.inputs import stage_inputs

TEXT = """\
ARG BASE=busybox:1.36
FROM ${BASE} AS build
ARG GREETING=hello
ENV MODE=fast
WORKDIR /out
LABEL purpose=demo
RUN echo "$GREETING" > greeting
COPY app/ /src/
FROM build AS test
RUN test -s /out/greeting
FROM busybox:1.36 AS release
COPY --from=build /out/greeting /greeting
COPY --from=busybox:1.36 /bin/busybox /bb
"""


@pytest.fixture
def context(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.c").write_text("int main;")
    (tmp_path / "app" / "notes.txt").write_text("notes")
    (tmp_path / "Dockerfile").write_text(TEXT)
    return tmp_path


def steps(builder, context, build_args=None, text=TEXT):
    found = stage_inputs(
        Dockerfile(text), builder, build_args or {}, None, BuildContext(context), {"x": "y"}
    )
    return {stage.ref: stage.steps for stage in found}


def test_buildkit_steps_are_its_operations_and_the_rest_is_their_state(context):
    build = steps("buildkit", context)["build"]
    assert [step.keyword for step in build] == ["WORKDIR", "RUN", "COPY"]
    run = build[1]
    # convert.go dispatchArg: an ARG with a value joins the environment of every later RUN.
    assert run.own["env"] == {"GREETING": "hello", "MODE": "fast"}
    assert run.own["workdir"] == "/out" and run.own["cmd"][:2] == ["/bin/sh", "-c"]
    assert run.seen["GREETING"] == ["hello", "ARG on line 3"]


def test_the_classic_builder_makes_every_instruction_a_step(context):
    build = steps("classic", context)["build"]
    assert [step.keyword for step in build] == [
        "FROM", "ARG", "ENV", "WORKDIR", "LABEL", "RUN", "COPY"
    ]  # fmt: skip
    run = build[5]
    # dispatchers.go prependEnvOnCmd: "|1 GREETING=hello" before the shell and command.
    assert run.own["cmd"][:2] == ["|1", "GREETING=hello"]
    assert run.own["args"] == {"GREETING": "hello"}


def test_a_build_arg_changes_what_a_run_compares_on_both_builders(context):
    for builder in ("buildkit", "classic"):
        before = next(s for s in steps(builder, context)["build"] if s.keyword == "RUN")
        after = [
            s for s in steps(builder, context, {"GREETING": "hi"})["build"] if s.keyword == "RUN"
        ]
        assert before.own != after[0].own, builder
        assert after[0].seen["GREETING"][0] == "hi"


def test_a_global_arg_no_stage_declares_reaches_no_step(context):
    for builder in ("buildkit", "classic"):
        plain = steps(builder, context)["test"]
        other = steps(builder, context, {"UNUSED": "1"})["test"]
        assert [s.own for s in plain] == [s.own for s in other], builder


def test_a_stage_from_a_stage_keeps_its_state_on_buildkit_only_its_env_on_classic(context):
    test_buildkit = steps("buildkit", context)["test"][0]
    assert test_buildkit.own["env"]["GREETING"] == "hello"  # the LLB state carries ARG values
    test_classic = next(s for s in steps("classic", context)["test"] if s.keyword == "RUN")
    assert test_classic.own["args"] == {}  # build args are declared per stage


def test_copies_compare_the_context_files_they_read_by_content_and_mode(context):
    copy = steps("buildkit", context)["build"][2]
    assert set(copy.own["files"]) == {"app", "app/main.c", "app/notes.txt"}
    before = copy.own["files"]["app/main.c"]
    os.utime(context / "app" / "main.c", (1, 1))
    assert steps("buildkit", context)["build"][2].own["files"]["app/main.c"] == before
    (context / "app" / "main.c").chmod(0o755)
    assert steps("buildkit", context)["build"][2].own["files"]["app/main.c"] != before


def test_copy_from_a_stage_counts_its_source_and_from_an_image_its_id(context):
    release = steps("buildkit", context)["release"]
    assert release[0].stage_sources == ["build"] and "image" not in release[0].own
    assert release[1].stage_sources == [] and release[1].own["image"] == "busybox:1.36"


def test_buildkit_resolves_a_copy_destination_against_the_working_folder(context):
    text = "FROM scratch\nWORKDIR /app\nCOPY app/main.c src/\n"
    copy = steps("buildkit", context, text=text)["0"][1]
    assert copy.own["destination"] == "/app/src/"


def test_workdir_slash_is_no_step_for_buildkit():
    found = stage_inputs(Dockerfile("FROM scratch\nWORKDIR /\n"), "buildkit", {}, None, None, {})
    assert found[0].steps == []


def test_dockerignore_patterns_as_patternmatcher_reads_them():
    patterns = read_ignore_patterns("# comment\n*.log\n!keep.log\nbuild/\n**/secret\n/abs\n")
    assert ignored("debug.log", patterns) and not ignored("keep.log", patterns)
    assert ignored("build/out/x", patterns) and ignored("a/b/secret", patterns)
    assert ignored("abs", patterns) and not ignored("dir/debug.log", patterns)


def test_a_context_leaves_out_what_dockerignore_names(context):
    (context / ".dockerignore").write_text("app/notes.txt\n")
    selected = BuildContext(context).select(".")
    assert "app/notes.txt" not in selected and "app/main.c" in selected
    assert ".dockerignore" in selected and "Dockerfile" in selected


def test_a_copy_source_pattern_matches_whole_paths_one_folder_deep(context):
    (context / "top.txt").write_text("x")
    built = BuildContext(context)
    assert set(built.select("*.txt")) == {"top.txt"}
    assert set(built.select("app/*.c")) == {"app/main.c"}
    assert built.select("missing") == {}
