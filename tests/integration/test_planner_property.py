"""Property: plan() tells what each builder does with random multi-stage Dockerfiles.

A small seeded sample (planner_cases.py) is built for real on both builders; the benchmark
benchmarks/bench_planner.py runs hundreds and prints the agreement of each builder.
"""

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from planner_cases import agrees, cases

pytestmark = pytest.mark.engine
# About 25 real builds in all; no shrinking, which would run many more.
SAMPLE = settings(
    max_examples=12,
    deadline=None,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_plan_agrees_with_real_builds(docker_engine, builder):
    disagreements = []

    @SAMPLE
    @seed(20261129)
    @given(case=cases())
    def check(case):
        same, detail = agrees(case, builder)
        if not same:
            disagreements.append(f"{detail}\n{case}")

    check()
    assert not disagreements, "\n\n".join(disagreements)
