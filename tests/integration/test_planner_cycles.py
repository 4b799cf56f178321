"""Cycles of --from and from= uses, on the real engine (issue 23): BuildKit's own search
(convert.go `validateCircularDependency`) refuses a file whose stages reach a cycle whatever
the target, naming the stage its search started from and showing first the command that
closes the cycle; a stage's FROM is no edge of that search. The classic builder sees no later
stage at all: it looks such a name up as an image. Each file is built raw on both builders
(engine_truth.py) and plan() must run what the engine ran or refuse at its line, and for
BuildKit name the stage the engine named.
"""

import time

import engine_truth
import pytest
from planner_cases import assert_plan_tells_the_truth

from stagelab.dockerfile.refusals import engine_sentence

pytestmark = pytest.mark.engine
BUILDERS = ["buildkit", "classic"]
SALT = str(time.time_ns())
B = engine_truth.BUSYBOX

# The search starts at a, which is in the cycle a -> c -> b -> a; b's copy closes it.
THROUGH_TWO_LATER_STAGES = f"""\
FROM {B} AS a
RUN echo a {SALT}
COPY --from=c /bin/busybox /x
FROM {B} AS b
COPY --from=a /bin/busybox /y
FROM {B} AS c
COPY --from=b /bin/busybox /z
"""
# a only leads into the cycle b <-> c: BuildKit still names a, the stage it started from.
START_OUTSIDE_THE_CYCLE = f"""\
FROM {B} AS a
COPY --from=b /bin/busybox /x
FROM {B} AS b
COPY --from=c /bin/busybox /y
FROM {B} AS c
COPY --from=b /bin/busybox /z
FROM {B}
RUN echo last {SALT}
"""
# An index and a name in another case; the stage with no dependency is not the start.
INDEX_AND_CASE = f"""\
FROM {B}
RUN echo zero {SALT}
FROM {B} AS Mid
COPY --from=2 /bin/busybox /x
FROM {B} AS top
COPY --from=mid /bin/busybox /y
"""
SELF_BY_NAME = f"""\
FROM {B} AS a
RUN echo a {SALT}
COPY --from=a /bin/busybox /x
FROM {B} AS b
RUN --mount=from=b,target=/mnt ls /mnt
"""
MOUNT_FROM_A_LATER_STAGE = f"""\
FROM {B} AS a
RUN --mount=from=b,target=/mnt ls /mnt
FROM {B} AS b
COPY --from=a /bin/busybox /x
FROM {B}
RUN echo last {SALT}
"""
# One command per dependency, the last: the cycle b <-> c closes at line 8, not 7.
THE_LAST_USE_CLOSES_IT = f"""\
FROM {B} AS a
RUN echo a {SALT}
FROM {B} AS b
COPY --from=c /bin/busybox /x
COPY --from=a /bin/busybox /w
FROM {B} AS c
COPY --from=b /bin/busybox /y
COPY --from=b /bin/busybox /z
"""
UNNAMED_BY_INDEX = f"""\
FROM {B}
COPY --from=1 /bin/busybox /x
FROM {B}
COPY --from=0 /bin/busybox /y
RUN echo {SALT}
"""
# FROM is no edge: a copies from b, b starts FROM a. No cycle for BuildKit, which refuses the
# copy from a later stage once a is needed, and builds a target that needs neither.
FROM_AND_A_LATER_COPY = f"""\
FROM {B} AS a
COPY --from=b /bin/busybox /x
FROM a AS b
RUN echo b {SALT}
FROM {B} AS c
RUN echo c {SALT}
"""
# Found by benchmarks/bench_planner.py (seed 20261129). Four stages named app: the second's
# copies from app mean the last one, which uses itself by index and by name; BuildKit's search
# starts at the second and shows the last use of the closing stage's dependency.
REPEATED_NAME_USES_ITSELF = f"""\
ARG BASE1=app
FROM {B} AS app
RUN echo 0 {SALT}
FROM ${{BASE1}} AS app
RUN echo 1 {SALT}
COPY --from=app /bin/busybox /c1
COPY --from=app /bin/busybox /c2
FROM app as app
RUN echo 2 {SALT}
FROM app as app
RUN echo 3 {SALT}
COPY --from=3 /bin/busybox /c3
COPY --from=app /bin/busybox /c4
"""
# Data copies from Build below it, whose FROM is data: no edge. With a copy from itself too,
# BuildKit refuses at that copy; without it, it builds a target that needs neither.
ITSELF_AND_A_LATER_CHILD = f"""\
ARG BASE0={B}
FROM ${{BASE0}} AS Data
RUN echo data {SALT}
COPY --from=Build /bin/busybox /c0
COPY --from=Data /bin/busybox /c1
FROM data AS Build
RUN echo build {SALT}
FROM {B}
RUN echo last {SALT}
"""
# A repeated name: a name means its last stage, so `--from=TOOLS` in the first is a use of the
# second (a later stage), and the first uses itself only by its index (bench_planner's misses,
# seed 20261129: the planner gave the name's line).
REPEATED_NAME_INDEX_AND_NAME = f"""\
FROM {B} AS TOOLS
RUN echo tools {SALT}
COPY --from=0 /bin/busybox /by-index
COPY --from=TOOLS /bin/busybox /by-name
FROM {B} AS tools
COPY --from=tools /bin/busybox /x
"""
CASES = [
    pytest.param(REPEATED_NAME_INDEX_AND_NAME, None, id="repeated-name-index-and-name"),
    pytest.param(THROUGH_TWO_LATER_STAGES, None, id="through-two-later-stages"),
    pytest.param(START_OUTSIDE_THE_CYCLE, None, id="start-outside-the-cycle"),
    pytest.param(INDEX_AND_CASE, None, id="index-and-case"),
    pytest.param(SELF_BY_NAME, None, id="self-by-name"),
    pytest.param(MOUNT_FROM_A_LATER_STAGE, None, id="mount-from-a-later-stage"),
    pytest.param(THE_LAST_USE_CLOSES_IT, None, id="the-last-use-closes-it"),
    pytest.param(UNNAMED_BY_INDEX, None, id="unnamed-by-index"),
    pytest.param(FROM_AND_A_LATER_COPY, None, id="from-and-a-later-copy"),
    pytest.param(FROM_AND_A_LATER_COPY, "c", id="from-and-a-later-copy-target-c"),
    pytest.param(REPEATED_NAME_USES_ITSELF, "app", id="repeated-name-uses-itself"),
    pytest.param(ITSELF_AND_A_LATER_CHILD, None, id="itself-and-a-later-child"),
    pytest.param(
        ITSELF_AND_A_LATER_CHILD.replace("--from=Data", "--from=Build"),
        None,
        id="a-later-child-twice",
    ),
]


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("text, target", CASES)
def test_plan_tells_what_each_builder_does_with_a_cycle(docker_engine, builder, text, target):
    refusal, real = assert_plan_tells_the_truth(text, builder, target)
    if builder == "buildkit" and real.refused:
        # The engine's whole sentence: for a cycle, it names the stage the search started from.
        assert engine_sentence(real.message)[0] in str(refusal), (str(refusal), real.message)
