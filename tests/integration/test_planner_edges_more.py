"""Issue 23's kinds again, with examples other than the issue's own (tried as a user would):
each file is built raw on both builders (engine_truth.py) and plan() must run the stages the
engine ran or refuse at the line it refused, with the engine's sentence; stagelab's own builds
fail with stagelab's errors, naming the real cause. test_planner_edges.py has the issue's own.
"""

import itertools
import time

import engine_truth
import pytest
from planner_cases import assert_plan_tells_the_truth

import stagelab as sl
from stagelab import images
from stagelab.dockerfile.refusals import engine_sentence

pytestmark = pytest.mark.engine
BUILDERS = ["buildkit", "classic"]
SALT = str(time.time_ns())
B = engine_truth.BUSYBOX
_EACH = itertools.count()


def two_stages(unused_step, directive=""):
    """A stage the target `final` does not need, holding `unused_step` after a step of its
    own (no two cases share a classic build's cache, whose images engine_truth removes), then
    `final`."""
    head = f"{directive}\n" if directive else ""
    own = f"RUN echo unused {SALT}-{next(_EACH)}"
    return f"{head}FROM {B} AS unused\n{own}\n{unused_step}\nFROM {B} AS final\nRUN echo {SALT}\n"


# Kind 1: an instruction that does not parse refuses the file, whatever the target.
# Kind 2: `# check=` only where it is a directive; checks of undispatched stages never fire.
# Kind 4: when each builder expands an ARG default with `:?` or `?`.
CASES = [
    pytest.param(two_stages("ADD onlyone"), "final", None, id="1-add-no-destination"),
    pytest.param(two_stages("RUN --frobnicate=yes true"), "final", None, id="1-run-unknown-flag"),
    pytest.param(two_stages("ONBUILD ONBUILD RUN true"), "final", None, id="1-onbuild-onbuild"),
    pytest.param(two_stages("COPY --link=maybe /a /b"), "final", None, id="1-link-not-a-bool"),
    pytest.param(
        f"FROM {B} AS final\nRUN echo {SALT}\nFROM {B} AS after\nEXPOSE\n",
        "final",
        None,
        id="1-expose-after-the-target",
    ),
    pytest.param(
        two_stages("MAINTAINER me@example.com", "# check=error=true"),
        "final",
        None,
        id="2-maintainer-error",
    ),
    pytest.param(
        two_stages("MAINTAINER me@example.com", "# check=skip=MaintainerDeprecated;error=true"),
        "final",
        None,
        id="2-maintainer-skipped",
    ),
    pytest.param(
        two_stages("MAINTAINER me@example.com", "# CHECK=error=true"),
        "final",
        None,
        id="2-directive-key-in-capitals",
    ),
    pytest.param(
        two_stages("MAINTAINER me@example.com", "\n# check=error=true"),
        "final",
        None,
        id="2-after-a-blank-line-a-comment",
    ),
    pytest.param(
        two_stages("CMD echo hello", "# check=error=true"),
        "final",
        None,
        id="2-a-dispatch-check-in-an-unused-stage",
    ),
    pytest.param(
        f"ARG V=${{V:?please_set_V}}\nFROM {B}\nARG V\nRUN echo {SALT}\n",
        None,
        {"V": "given"},
        id="4-global-default-replaced",
    ),
    pytest.param(two_stages("ARG W=${W:?}"), "final", None, id="4-stage-default-unused-stage"),
    pytest.param(
        f"FROM {B}\nARG X=${{UNSET:?oops}}\nRUN echo {SALT}\n",
        None,
        {"UNSET": "given"},
        id="4-build-arg-not-declared",
    ),
    pytest.param(
        f"FROM {B}\nARG V\nARG Y=${{V?no_V}}\nRUN echo {SALT}\n",
        None,
        {"V": ""},
        id="4-question-mark-without-colon-takes-empty",
    ),
    pytest.param(
        f"ARG TAG=${{TAG:-1.36}}\nARG NEEDED=${{NEEDED:?set_it}}\nFROM busybox:${{TAG}}\n"
        f"RUN echo {SALT}\n",
        None,
        None,
        id="4-second-global-default-fails",
    ),
    pytest.param(
        f"FROM {B} AS final\nRUN echo {SALT}\nFROM {B} AS after\nARG Z=${{Z:?set_Z}}\n",
        "final",
        None,
        id="4-stage-default-after-the-target",
    ),
    pytest.param(
        f"FROM {B} AS App\nRUN echo {SALT}\nFROM APP\nRUN echo two {SALT}\n",
        None,
        None,
        id="5-from-a-stage-name-in-capitals",
    ),
    pytest.param(
        f"FROM {B} AS first\nCOPY --from=second /bin/busybox /x\nFROM {B} AS second\n"
        f"RUN echo {SALT}\n",
        None,
        None,
        id="5-copy-from-a-stage-below",
    ),
]


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("text, target, build_args", CASES)
def test_plan_tells_what_each_builder_does_with_new_examples(
    docker_engine, builder, text, target, build_args
):
    refusal, real = assert_plan_tells_the_truth(text, builder, target, build_args)
    if real.refused and real.message:
        assert engine_sentence(real.message)[0].split(":")[0] in str(refusal), real.message


# Kind 3: what the engine or the parser refuses reaches the learner as stagelab's own error.
@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize(
    "text, line, said",
    [
        (f"FROM {B}\nRUNN echo {SALT}\n", 2, "unknown instruction: RUNN (did you mean RUN?)"),
        (f"FROM {B}\nRUN <<EOT\necho {SALT}\nEOF\n", 2, "unterminated heredoc"),
        ("ARG ONLY=1\n", None, "no FROM instruction"),
    ],
)
def test_a_refusal_is_stagelabs_own_error(docker_engine, builder, text, line, said):
    real = (engine_truth.buildkit if builder == "buildkit" else engine_truth.classic)(text)
    assert real.refused
    with pytest.raises(sl.DockerfileError) as caught:
        sl.build(text, builder=builder, progress=False)
    assert caught.value.line == line and said in str(caught.value)


# Kind 5: a name that is no stage: the failure says what the learner most likely meant.
@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize(
    "text, meant",
    [
        (
            f"FROM {B} AS builder\nRUN echo {SALT} > /out\nFROM {B}\n"
            "COPY --from=builder:latest /out /out\n",
            "`builder:latest` is an image reference (a name with a tag), not stage builder",
        ),
        (
            f"FROM {B} AS compile\nRUN echo {SALT} > /out\nFROM {B}\n"
            "COPY --from=complie /out /out\n",
            "Did you mean stage compile (line 1)?",
        ),
        (
            f"FROM {B}\nRUN echo {SALT} > /out\nFROM {B}\nCOPY --from=stage-0 /out /out\n",
            "a stage without a name is reached by its index (COPY --from=0)",
        ),
    ],
)
def test_a_copy_from_no_stage_says_what_the_learner_meant(docker_engine, builder, text, meant):
    real = (engine_truth.buildkit if builder == "buildkit" else engine_truth.classic)(text)
    assert real.refused and real.line == 4, real
    with pytest.raises(sl.BuildFailed) as caught:
        sl.build(text.replace(SALT, str(time.time_ns())), builder=builder, progress=False)
    assert caught.value.line == 4
    assert meant in str(caught.value)
    # Kind 6: the plan lists the stages, and says which image it cannot know about.
    assert sl.parse_dockerfile(text).plan(builder=builder).caveats


# Kind 6: an image the engine has for another platform only: BuildKit pulls it for the
# platform asked (and fails with no registry); the classic builder takes the one it has.
def test_a_plan_says_when_the_engines_image_is_for_another_platform(docker_engine):
    text = f"FROM --platform=linux/arm64 {B}\nRUN echo {SALT}\n"
    if images.platform_of(B).startswith("linux/arm64"):
        pytest.skip("this engine's busybox is for linux/arm64")
    real = engine_truth.buildkit(text)
    assert real.refused and real.line == 1 and "failed to resolve source metadata" in real.message
    plan = sl.parse_dockerfile(text).plan()
    assert plan == ["0"]
    assert plan.caveats == [
        f"stage 0 (line 1) starts FROM {B} for linux/arm64, and this engine has that image for "
        f"{images.platform_of(B)} only: BuildKit takes a local image only for the platform "
        "asked, so the build pulls it, and fails if no registry has it"
    ]
    assert not engine_truth.classic(text).refused
    assert sl.parse_dockerfile(text).plan(builder="classic").caveats == []
    with pytest.raises(sl.BuildFailed) as caught:
        sl.build(text.replace(SALT, str(time.time_ns())), progress=False)
    assert caught.value.line == 1
    assert f"{B} is on this engine for {images.platform_of(B)} only" in str(caught.value)
