"""The parser, stages and plan() on many Dockerfiles (pure logic: no engine)."""

import pytest
from IPython.lib.pretty import pretty

import stagelab as sl
from stagelab import DockerfileError
from stagelab.dockerfile import Dockerfile

PIPELINE = """\
FROM busybox:1.36 AS base
RUN echo base > /base.txt

FROM base AS build
RUN echo built > /app.txt

FROM busybox:1.36 AS test
RUN echo testing

FROM busybox:1.36
COPY --from=build /app.txt /app.txt
COPY --from=0 /base.txt /b.txt
"""


def refs(stages):
    return [s.ref for s in stages]


def test_stages_start_at_from_and_end_before_the_next():
    parsed = Dockerfile(PIPELINE)
    assert refs(parsed.stages) == ["base", "build", "test", "3"]
    assert [s.lines for s in parsed.stages] == [(1, 2), (4, 5), (7, 8), (10, 12)]
    assert [s.name for s in parsed.stages] == ["base", "build", "test", None]


def test_parent_is_the_stage_a_stage_is_built_from():
    base, build, test, last = Dockerfile(PIPELINE).stages
    assert build.parent is base
    assert base.parent is None and test.parent is None and last.parent is None
    assert last.sources == ["build", "base"]


def test_buildkit_plan_follows_dependencies_only():
    parsed = Dockerfile(PIPELINE)
    assert parsed.plan() == ["base", "build", "3"]
    assert parsed.plan("test") == ["test"]
    assert parsed.plan("build") == ["base", "build"]


def test_classic_plan_runs_every_stage_up_to_the_target():
    parsed = Dockerfile(PIPELINE)
    assert parsed.plan(builder="classic") == ["base", "build", "test", "3"]
    assert parsed.plan("build", builder="classic") == ["base", "build"]
    assert parsed.plan("test", builder="classic") == ["base", "build", "test"]


def test_names_match_case_insensitively_except_in_buildkit_from():
    parsed = Dockerfile(
        "FROM busybox:1.36 AS Builder\nRUN true\nFROM BUILDER AS Final\nCOPY --from=bUiLdEr /x /x\n"
    )
    builder, final = parsed.resolve(builder="classic")
    assert builder.ref == "builder" and builder.name == "Builder"
    assert final.parent is builder and final.sources == ["builder"]
    assert parsed.plan("FINAL", builder="classic") == ["builder", "final"]
    # BuildKit stores stage names lowercased but looks FROM's word up as written
    # (convert.go, dispatchStates.addState): BUILDER is then an image name, and an invalid one.
    assert parsed.stages[1].parent is None and parsed.stages[1].sources == ["builder"]
    with pytest.raises(DockerfileError, match=r"invalid reference format.*write FROM builder"):
        parsed.plan("FINAL")


def test_from_a_number_is_an_image_but_copy_from_a_number_is_a_stage():
    parsed = Dockerfile("FROM busybox:1.36\nRUN true\nFROM 0\nCOPY --from=0 /a /a\n")
    _first, second = parsed.stages
    assert second.parent is None and second.base == "0"
    assert second.sources == ["0"]
    assert parsed.plan() == ["0", "1"]
    assert parsed.images() == ["busybox:1.36", "0"]


def test_copy_from_an_image_is_not_a_stage_dependency():
    parsed = Dockerfile("FROM scratch AS app\nCOPY --from=busybox:1.36 /bin/busybox /sh\n")
    assert parsed.stages[0].sources == ["busybox:1.36"]
    assert parsed.plan() == ["app"]
    assert parsed.images() == ["busybox:1.36"]
    assert parsed.edges()[0].external


def test_run_mount_from_is_a_dependency():
    text = (
        "FROM busybox:1.36 AS tools\nRUN echo t > /t\n"
        "FROM busybox:1.36 AS unused\nRUN true\n"
        "FROM busybox:1.36\nRUN --mount=type=bind,from=tools,source=/t,target=/mnt/t cat /mnt/t\n"
    )
    parsed = Dockerfile(text)
    assert parsed.stages[2].sources == ["tools"]
    assert parsed.plan() == ["tools", "2"]
    kinds = {(e.source, e.child): e.kind for e in parsed.edges()}
    assert kinds[("tools", "2")] == "mount"


def test_arg_before_from_substitutes_defaults_and_build_args():
    text = (
        "ARG VARIANT=dev\nFROM busybox:1.36 AS dev\nRUN true\n"
        "FROM busybox:1.36 AS prod\nRUN true\nFROM ${VARIANT} AS final\n"
    )
    parsed = Dockerfile(text)
    assert parsed.stages[2].base == "dev"
    assert parsed.plan() == ["dev", "final"]
    assert parsed.plan(build_args={"VARIANT": "prod"}) == ["prod", "final"]
    assert parsed.plan(builder="classic", build_args={"VARIANT": "prod"}) == [
        "dev",
        "prod",
        "final",
    ]


def test_arg_expansion_forms():
    text = "ARG REPO=busybox\nARG TAG\nFROM ${REPO}:${TAG:-1.36}\nFROM $REPO${TAG:+:$TAG}\n"
    first, second = Dockerfile(text).stages
    assert first.base == "busybox:1.36"
    assert second.base == "busybox"


def test_undeclared_build_args_do_not_change_from():
    parsed = Dockerfile("FROM ${IMAGE:-busybox:1.36}\n")
    assert parsed.resolve({"IMAGE": "debian"})[0].base == "busybox:1.36"


def test_heredocs_parse_and_keep_lines():
    text = "FROM busybox:1.36 AS a\nRUN <<EOT\necho one\necho two\nEOT\nFROM a\nRUN true\n"
    a, b = Dockerfile(text).stages
    assert a.lines == (1, 5)
    assert b.lines == (6, 7)


def test_escape_directive_joins_backtick_lines():
    text = "# escape=`\nFROM busybox:1.36 AS a\nRUN echo one `\n  two\nFROM a\n"
    parsed = Dockerfile(text)
    assert parsed.escape == "`"
    assert parsed.stages[0].steps[0].line == 3
    assert parsed.stages[0].lines == (2, 4)
    assert parsed.stages[1].parent is parsed.stages[0]


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("FROM busybox:1.36\nFOOBAR x\n", 2, "unknown instruction: FOOBAR"),
        ("FROM busybox:1.36\nUSER\n", 2, "USER requires exactly one argument"),
        ("RUN echo hi\nFROM busybox:1.36\n", 1, "before the first FROM"),
        ("FROM busybox:1.36 AS\n", 1, "AS name"),
        ("FROM busybox:1.36 AS 1st\n", 1, "invalid name for build stage"),
        ("FROM busybox:1.36\nRUN <<EOT\necho never closed\n", 2, "unterminated heredoc"),
    ],
)
def test_malformed_dockerfiles_name_the_line(text, line, words):
    with pytest.raises(DockerfileError) as caught:
        Dockerfile(text)
    assert caught.value.line == line
    assert words in str(caught.value)
    assert f"line {line}" in str(caught.value)


@pytest.mark.parametrize(
    "text, builder, line, words",
    [
        (
            "FROM busybox:1.36 AS a\nFROM busybox:1.36 AS A\n",
            "classic",
            2,
            "a stage name already used",
        ),
        ("FROM busybox:1.36\nCOPY --from=3 /a /a\n", "buildkit", 2, "invalid stage index 3"),
        ("FROM busybox:1.36\nCOPY --from=3 /a /a\n", "classic", 2, "index out of bounds"),
        ("ARG EMPTY\nFROM ${EMPTY}\n", "buildkit", 2, "should not be blank"),
        ("ARG EMPTY\nFROM ${EMPTY}\n", "classic", 2, "should not be blank"),
    ],
)
def test_what_a_builder_refuses_parses_and_plan_refuses(text, builder, line, words):
    parsed = Dockerfile(text)
    with pytest.raises(DockerfileError) as caught:
        parsed.plan(builder=builder)
    assert caught.value.line == line
    assert words in str(caught.value)


def test_an_empty_dockerfile_says_what_is_missing():
    with pytest.raises(DockerfileError, match=r"no FROM|no instructions"):
        Dockerfile("# nothing here\n")


def test_unknown_target_lists_the_names():
    with pytest.raises(
        DockerfileError, match=r"[Nn]amed stages: base \(line 1\), build \(line \d+\), test"
    ):
        Dockerfile(PIPELINE).plan("release")


def test_bad_builder_is_refused():
    with pytest.raises(ValueError, match="buildkit"):
        Dockerfile(PIPELINE).plan(builder="kaniko")


def test_a_plan_says_which_images_the_engine_lacks():
    text = "FROM stagelab-test/nowhere:1 AS a\nRUN echo a\nFROM busybox:1.36 AS b\nRUN echo b\n"
    lacking = Dockerfile(text, lambda name: None if "nowhere" in name else "reference")
    plan = lacking.plan("a")
    assert plan == ["a"] and repr(plan) == "['a']"
    assert plan.caveats == [
        "stage a (line 1) uses image stagelab-test/nowhere:1, which is not on this engine: "
        "the build pulls it, and fails if no registry has it"
    ]
    assert "# cannot know: stage a (line 1)" in pretty(plan)
    assert lacking.plan("b").caveats == []
    assert Dockerfile(text).plan("a").caveats == [], "without a lookup nothing was asked"


def test_a_named_context_serves_what_the_engine_lacks():
    text = (
        "FROM stagelab-test/nowhere:1 AS deps\nRUN echo deps\n"
        "FROM busybox:1.36\nCOPY --from=stagelab-test/tools:2 /t /t\nCOPY --from=deps /d /d\n"
    )
    lacking = Dockerfile(text, lambda name: None if "stagelab-test" in name else "reference")
    assert len(lacking.plan().caveats) == 2  # the deps stage's base and the tools image
    served = lacking.plan(contexts=["deps", "stagelab-test/tools:2"])
    assert served == ["1"] and served.caveats == [], "neither is pulled: contexts serve them"
    tools_only = lacking.plan(contexts=["deps"]).caveats
    assert tools_only == [
        "stage 1 (line 3) uses image stagelab-test/tools:2, which is not on this engine: "
        "the build pulls it, and fails if no registry has it"
    ]


@pytest.mark.parametrize(
    "text, platform, caveat",
    [
        ("FROM --platform=linux/arm64 busybox:1.36 AS a\nRUN true\n", "linux/amd64", 1),
        ("ARG P=linux/arm64\nFROM --platform=$P busybox:1.36 AS a\n", "linux/amd64", 2),
        ("FROM busybox:1.36 AS a\nRUN true\n", "linux/arm64", 1),
        ("FROM --platform=linux/amd64 busybox:1.36 AS a\n", "linux/arm64", None),
        ("FROM busybox:1.36 AS a\nRUN true\n", "linux/amd64", None),
    ],
)
def test_a_plan_says_when_buildkit_needs_the_image_for_another_platform(text, platform, caveat):
    """BuildKit takes a local image only for the platform a stage asks for (measured in
    tests/integration/test_planner_edges_more.py); the classic builder takes the one it has.
    `caveat` is the line of the FROM the caveat names, None for no caveat."""
    parsed = Dockerfile(text, lambda name: "reference", image_platform=lambda name: "linux/amd64")
    expected = [
        f"stage a (line {caveat}) starts FROM busybox:1.36 for linux/arm64, and this engine has "
        "that image for linux/amd64 only: BuildKit takes a local image only for the platform "
        "asked, so the build pulls it, and fails if no registry has it"
    ]
    assert parsed.plan(platform=platform).caveats == (expected if caveat else [])
    assert parsed.plan(builder="classic").caveats == []


def test_a_target_given_as_an_index_is_told_the_name_to_use():
    dockerfile = sl.Dockerfile(
        "FROM busybox:1.36 AS build\nRUN true\nFROM busybox:1.36 AS release\nFROM busybox:1.36\n"
    )
    with pytest.raises(sl.DockerfileError) as caught:
        dockerfile.target_stage("1", "buildkit")
    assert "use `--target release`" in str(caught.value) and "; ;" not in str(caught.value)
    with pytest.raises(sl.DockerfileError) as caught:
        dockerfile.target_stage("7", "buildkit")
    assert "not an index; named stages: build (line 1), release (line 3)" in str(caught.value)
