"""Property: after every build of a random multi-stage Dockerfile and a random sequence of
changes (why_cases.py), every step's status agrees with `why()`, on both builders.

A small seeded sample is built for real; benchmarks/bench_why.py runs hundreds of sequences
and prints the agreement of each builder.
"""

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from why_cases import Run, cases

pytestmark = pytest.mark.engine
# Three sequences of 3 to 5 builds per builder; no shrinking, which would run many more.
SAMPLE = settings(
    max_examples=3,
    deadline=None,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_why_agrees_with_every_build_of_random_changes(docker_engine, builder):
    problems = []

    @SAMPLE
    @seed(20261206)
    @given(case=cases())
    def check(case):
        with Run(case, builder) as run:
            run.run()
        problems.extend(f"{problem}\n{case}" for problem in run.problems)

    check()
    assert not problems, "\n\n".join(problems)
