"""BuildKit's cycle search walks each stage's uses in Go's map order (convert.go
`validateCircularDependency`), so the line it reports for one file changes from build to
build. The same file is built raw (engine_truth.py) several times: every line the engine
reported must be one plan() says BuildKit may report, and every sentence names the stage
plan() names. The sets themselves, on small graphs: tests/unit/test_cycle_lines.py.
"""

import engine_truth
import pytest

import stagelab as sl
from stagelab.dockerfile.refusals import engine_sentence

pytestmark = pytest.mark.engine
B = engine_truth.BUSYBOX
BUILDS = 6


def _stage(name: str, *uses: str) -> str:
    return f"FROM {B} AS {name}\n" + "".join(
        f"COPY --from={used} /bin/busybox /{name}-{n}\n" for n, used in enumerate(uses)
    )


# a uses b, c, d and e (lines 2-5), each of which uses a: BuildKit's search from a ends on
# whichever of their uses of a (lines 7, 9, 11, 13) its map order reaches first.
FOUR_ROUTES_BACK = _stage("a", "b", "c", "d", "e") + "".join(_stage(s, "a") for s in "bcde")
# a leads into b, which uses a (line 4) and c (line 5); c uses b (line 7): either closes it.
TWO_CLOSINGS_AFTER_A_CHAIN = _stage("a", "b") + _stage("b", "a", "c") + _stage("c", "b")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(FOUR_ROUTES_BACK, id="four-routes-back"),
        pytest.param(TWO_CLOSINGS_AFTER_A_CHAIN, id="two-closings-after-a-chain"),
    ],
)
def test_every_line_buildkit_reports_for_a_cycle_is_one_plan_names(docker_engine, text):
    refs, refusal = sl.parse_dockerfile(text).attempt(None, "buildkit")
    assert refs == [] and refusal is not None
    reported = []
    for _ in range(BUILDS):
        real = engine_truth.buildkit(text)
        assert real.refused and not real.failed_step, real
        assert real.line in refusal.lines, (real.line, str(refusal))
        assert engine_sentence(real.message)[0] in str(refusal), (real.message, str(refusal))
        reported.append(real.line)
    # Shown with -s: the line changes from build to build.
    print(f"BuildKit reported lines {reported}; plan() says {refusal.lines}")
