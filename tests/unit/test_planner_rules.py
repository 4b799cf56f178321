"""The planner's rules without an engine: the shell lexer, platform ARGs, refusals by builder
and target, and bad input (issue 11: text that is not UTF-8, a long broken file, long chains).
The same rules are built for real in tests/integration/test_planner_truth.py."""

import time

import pytest

from stagelab import DockerfileError
from stagelab.dockerfile import Dockerfile, expand
from stagelab.dockerfile.platforms import platform_args, split_platform
from stagelab.dockerfile.refusals import engine_sentence


@pytest.mark.parametrize(
    "word, expected",
    [
        ("${P#linux/}", "amd64"),
        ("${P##*/}", "amd64"),
        ("${P%/amd64}", "linux"),
        ("${P%%/*}", "linux"),
        ('${UNSET:-"quoted"}', "quoted"),
        ("${P:+word}", "word"),
        ("${EMPTY:-d}", "d"),
        ("${EMPTY-d}", ""),
        ("${P/amd/AMD}", "linux/AMD64"),
        ("${P//a/_}", "linux/_md64"),
        ("'$P'", "$P"),
        ('"$P"x', "linux/amd64x"),
        ("a\\$P", "a$P"),
        ("$UNSET", ""),
        ("$", "$"),
    ],
)
def test_words_expand_as_buildkits_shell_lexer_does(word, expected):
    assert expand(word, {"P": "linux/amd64", "EMPTY": ""}) == expected


def test_a_malformed_substitution_is_refused_with_the_lexers_words():
    with pytest.raises(ValueError, match="missing '}'"):
        expand("${P:-x", {})
    with pytest.raises(ValueError, match="bad substitution"):
        expand("${:x}", {})


def test_platform_args_are_normalised_as_containerd_does():
    assert split_platform("linux/arm") == ("linux", "arm", "v7")
    assert split_platform("linux/arm64/v8") == ("linux", "arm64", "")
    args = platform_args("linux/arm/v6", "linux/amd64")
    assert (args["TARGETPLATFORM"], args["TARGETARCH"], args["TARGETVARIANT"]) == (
        "linux/arm/v6",
        "arm",
        "v6",
    )
    assert args["BUILDOS"] == "linux" and args["BUILDARCH"] == "amd64"
    with pytest.raises(ValueError, match="linux/amd64"):
        split_platform("amd64")


def test_platform_args_pick_the_stage_and_an_arg_may_override_them():
    text = (
        "ARG TARGETOS=plan9\nFROM busybox:1.36 AS use-plan9\nRUN true\n"
        "FROM busybox:1.36 AS bin-arm64\nRUN true\nFROM use-$TARGETOS AS a\n"
        "FROM bin-${TARGETARCH} AS b\n"
    )
    parsed = Dockerfile(text)
    assert parsed.plan("a", platform="linux/amd64") == ["use-plan9", "a"]
    assert parsed.plan("b", platform="linux/arm64") == ["bin-arm64", "b"]
    with pytest.raises(DockerfileError, match="bin-"):
        parsed.plan("b", builder="classic")


def test_onbuild_copy_from_makes_the_child_depend_on_its_source():
    parsed = Dockerfile(
        "FROM busybox:1.36 AS data\nRUN true\nFROM busybox:1.36 AS base\n"
        "ONBUILD COPY --from=data /d /d\nFROM busybox:1.36 AS other\n"
        "RUN true\nFROM base AS app\n"
    )
    assert parsed.plan() == ["data", "base", "app"]
    assert ("data", "app", "onbuild", False) in [
        (e.source, e.child, e.kind, e.external) for e in parsed.edges()
    ]
    assert parsed.instructions[3].trigger.flag("from") == ["data"]


def test_duplicate_names_parse_and_each_builder_reads_them_its_way():
    parsed = Dockerfile(
        "FROM busybox:1.36 AS dup\nRUN true\nFROM busybox:1.36 AS dup\n"
        "RUN true\nFROM busybox:1.36 AS other\nCOPY --from=dup /x /x\n"
    )
    assert [s.ref for s in parsed.stages] == ["0", "dup", "other"]
    assert parsed.plan() == ["dup", "other"]
    assert parsed.plan("dup") == ["dup"]
    assert parsed.plan("dup", "classic") == ["0"]
    with pytest.raises(DockerfileError, match="stage name already used") as caught:
        parsed.plan(builder="classic")
    assert caught.value.line == 3


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_an_index_is_no_target(builder):
    with pytest.raises(DockerfileError, match='target stage "0" could not be found'):
        Dockerfile("FROM busybox:1.36 AS a\nFROM busybox:1.36 AS b\n").plan("0", builder)


def test_text_that_is_not_utf8_is_refused_by_line_not_by_a_crash():
    with pytest.raises(DockerfileError, match="not valid UTF-8") as caught:
        Dockerfile("FROM busybox:1.36\nRUN echo caf\udce9\n")
    assert caught.value.line == 2 and "\\xe9" in str(caught.value)


def test_a_long_file_with_an_unterminated_heredoc_is_refused_quickly():
    text = "FROM busybox:1.36\n" + "RUN true\n" * 10_000 + "RUN <<EOF\necho never closed\n"
    began = time.monotonic()
    with pytest.raises(DockerfileError, match="unterminated heredoc") as caught:
        Dockerfile(text)
    assert caught.value.line == 10_002
    # A generous bound: the point is linear, not quadratic (that took minutes).
    assert time.monotonic() - began < 5


def test_a_closed_heredoc_before_an_open_one_is_not_the_culprit():
    text = (
        "FROM busybox:1.36\nRUN <<EOF\nx\nEOF\nRUN <<-TAB\n\tTAB\nCOPY <<A <<B /x\nA\nB\nRUN <<Z\n"
    )
    with pytest.raises(DockerfileError) as caught:
        Dockerfile(text)
    assert caught.value.line == 10


def test_a_chain_of_a_thousand_stages_plans_without_recursion():
    text = "FROM busybox:1.36 AS s0\n" + "".join(f"FROM s{n - 1} AS s{n}\n" for n in range(1, 1000))
    text += "FROM busybox:1.36 AS last\n" + "".join(
        f"COPY --from=s{n} /x /x{n}\n" for n in range(0, 1000, 100)
    )
    parsed = Dockerfile(text)
    assert len(parsed.plan("s999")) == 1000
    assert parsed.plan()[-1] == "last"
    assert len(parsed.plan(builder="classic")) == 1001


LATER_NAMED = (
    "FROM busybox:1.36 AS b\nCOPY --from=a /bin/sh /x\n"
    "FROM a AS c\nRUN true\nFROM busybox:1.36 AS a\nRUN true\n"
)


@pytest.mark.parametrize(
    "found, classic_runs, buildkit_runs",
    [
        (None, None, None),
        ("id", ["b", "c"], None),
        ("reference", ["b", "c"], ["c"]),
    ],
)
def test_a_later_stages_name_is_an_image_the_engine_may_have(found, classic_runs, buildkit_runs):
    """Looked up as an image, a later stage's name finds one by reference on both builders,
    and by image-ID prefix on the classic builder only (rules.engine_has)."""
    parsed = Dockerfile(LATER_NAMED, lambda name: found if name == "a" else None)
    for builder, expected in (("classic", classic_runs), ("buildkit", buildkit_runs)):
        refs, refusal = parsed.attempt("c", builder)
        if expected is None:
            assert refusal is not None and refusal.line == (2 if builder == "classic" else 3)
        else:
            assert refusal is None and refs == expected
    assert Dockerfile(LATER_NAMED).attempt("c", "classic")[1].line == 2


@pytest.mark.parametrize("wrapper", ["failed to solve", "failed to run Build function"])
def test_the_engine_sentence_comes_out_of_either_wrapper(wrapper):
    """The same refusal came wrapped either way from one engine (Docker Engine 28.5.2), on two
    machines: the sentence that says why is the same."""
    message = (
        f'ERROR: failed to build: {wrapper}: failed to parse stage name "APP": invalid '
        "reference format: repository name (library/APP) must be lowercase"
    )
    sentence, line = engine_sentence(message)
    assert sentence.startswith('failed to parse stage name "APP"') and line is None
