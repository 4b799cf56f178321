"""`result.why()` through an ONBUILD trigger, on the engine, both builders: a stage the target
needs only through its parent's `ONBUILD COPY --from`, then a change to that stage. why() must
name the edge with its line, and the steps the engine rebuilt must be exactly those it said.
Expected values come from the engine's statuses (BuildKit runs the triggers as steps of the
child stage, convert.go `dispatchOnBuildTriggers`; the classic builder inside the child's FROM,
dispatchers.go, and stagelab reports each trigger as a step after it)."""

from __future__ import annotations

import time

import pytest
from why_cases import disagreement, predicted, rebuilt

import stagelab as sl

pytestmark = pytest.mark.engine

TRIGGERED = """\
FROM busybox:1.36 AS parts
RUN echo part SALT > /part
FROM busybox:1.36 AS base
RUN echo base SALT > /base
ONBUILD COPY --from=parts /part /from-parts
FROM busybox:1.36 AS unrelated
RUN echo unrelated SALT
FROM base AS app
RUN cat /from-parts > /used
"""
# Lines of TRIGGERED: the RUN of parts, the ONBUILD in base, the RUN of app.
PARTS_RUN, ONBUILD_LINE, APP_RUN = 2, 5, 9


@pytest.fixture(params=["buildkit", "classic"])
def builder(request, docker_engine):
    return request.param


def test_a_change_reaches_the_target_through_an_onbuild_trigger(builder):
    text = TRIGGERED.replace("SALT", str(time.time_ns()))
    first = sl.build(text, builder=builder, progress=False)
    edited = sl.build(text.replace("echo part", "echo part again"), builder=builder, progress=False)
    why = edited.why()

    # The engine: the edited step, the trigger that copies its file, and what follows it.
    assert rebuilt(edited) == {("parts", PARTS_RUN), ("app", ONBUILD_LINE), ("app", APP_RUN)}
    assert ("app", ONBUILD_LINE) in rebuilt(first)
    # why(): parts is needed through the trigger, named with the line it is written on.
    assert why.stage("parts").role == "needed"
    assert (
        f"ONBUILD COPY --from=parts in stage base (line {ONBUILD_LINE}), a trigger that runs in "
        "stage app" in why.stage("parts").text
    )
    # why(): the edited instruction, then the trigger's copy, which rebuilt app's RUN.
    trigger = next(step for step in why.stage("app").steps if step.line == ONBUILD_LINE)
    assert [(step.stage, step.line, step.reason.code) for step in why.causes] == [
        ("parts", PARTS_RUN, "instruction"),
        ("app", ONBUILD_LINE, "source-stage"),
    ]
    assert why.stage("parts").steps[-1].may_invalidate == [("app", ONBUILD_LINE)]
    assert trigger.instruction.startswith("ONBUILD COPY --from=parts")
    assert trigger.invalidates == [("app", APP_RUN)]
    assert predicted(why) == rebuilt(edited)
    assert not disagreement(edited), disagreement(edited)
    # Unchanged, the whole build comes from the cache, the trigger too.
    again = sl.build(text.replace("echo part", "echo part again"), builder=builder, progress=False)
    assert rebuilt(again) == set() and not again.why().causes
