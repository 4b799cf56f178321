"""Benchmark: how often plan() tells what each builder really does, on random Dockerfiles.

    python benchmarks/bench_planner.py            # 300 random multi-stage Dockerfiles
    python benchmarks/bench_planner.py -n 50 --seed 7 --show 3

Each Dockerfile (tests/integration/planner_cases.py: 2 to 6 stages, mixed-case and unnamed
stages, FROM an image, scratch, a stage or ${ARG}, COPY --from by name, index and image, RUN
--mount from=, build-arg overrides, a target; `# check=` directives, `${NAME:?message}` ARG
defaults and instructions that refuse the whole file) is built for real on BuildKit and on the
classic builder (tests/integration/engine_truth.py reads what ran, without stagelab's planner),
and compared with plan(): the same stages, or a refusal at the same line. Prints, for each builder,
the agreement, how many builds the builder refused, and the first disagreements.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

from planner_cases import agrees, cases, planned_by


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="how many Dockerfiles (default 300)")
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--show", type=int, default=5, help="disagreements to print")
    options = parser.parse_args()
    tally = {"buildkit": [0, 0, 0], "classic": [0, 0, 0]}  # agreed, refused, total
    shown: list[str] = []
    began = time.monotonic()

    @settings(
        max_examples=options.n,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(options.seed)
    @given(case=cases())
    def run(case):
        for builder, counts in tally.items():
            same, detail = agrees(case, builder)
            counts[0] += same
            counts[1] += _refused(case, builder)
            counts[2] += 1
            if not same and len(shown) < options.show:
                shown.append(f"[{builder}] {detail}\n{case}")

    run()
    seconds = time.monotonic() - began
    print(f"{tally['buildkit'][2]} Dockerfiles, each built on both builders, in {seconds:.0f} s")
    for builder, (agreed, refused, total) in tally.items():
        print(
            f"{builder:<9} agreement {agreed}/{total} = {agreed / max(total, 1):.1%} "
            f"({refused} refused by plan())"
        )
    for text in shown:
        print("\n" + text)
    return 0


def _refused(case, builder: str) -> bool:
    return planned_by(case.text, builder, case.target, case.build_args)[1] is not None


if __name__ == "__main__":
    sys.exit(main())
