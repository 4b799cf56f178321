"""Benchmark: how often `why()` agrees with what each builder did, over random sequences.

    python benchmarks/bench_why.py                 # 200 sequences on each builder
    python benchmarks/bench_why.py -n 20 --seed 7 --show 3

Each sequence (tests/integration/why_cases.py: a random Dockerfile of 2 to 4 stages with RUN,
build args, COPY of context files and COPY --from, then 2 to 4 random changes: edit a context
file, change a build arg, edit an instruction, retag the base image, prune the last step's
cache, or nothing) is built for real after every change, on BuildKit and on the classic
builder. A build agrees when every step's status is the one why() gave and the steps the
engine rebuilt are exactly those why() named as a cause or invalidated by one. Prints, for
each builder, the builds and sequences that agreed, and the first disagreements.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

from why_cases import Run, cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="how many sequences (default 200)")
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--show", type=int, default=5, help="disagreements to print")
    options = parser.parse_args()
    # builds, agreed, sequences, sequences agreed at every build, sequences the engine broke off
    tally = {"buildkit": [0, 0, 0, 0, 0], "classic": [0, 0, 0, 0, 0]}
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
            with Run(case, builder) as sequence:
                sequence.run(stop_on_error=True)
            counts[0] += sequence.checked
            counts[1] += sequence.agreed
            counts[2] += 1
            counts[3] += not sequence.problems and not sequence.errors
            counts[4] += bool(sequence.errors)
            found = [f"[{builder}] engine error: {error}" for error in sequence.errors]
            found += [
                f"[{builder}] {problem}\n{case}"
                for problem in sequence.problems[: max(options.show - len(shown), 0)]
            ]
            # Printed as found too, so that a run stopped early keeps them.
            print("".join("\n" + text + "\n" for text in found), end="", file=sys.stderr)
            shown.extend(found)
        # A running tally, so that a run stopped early still tells what it saw.
        print(
            " ".join(f"{name} {c[1]}/{c[0]} builds, {c[3]}/{c[2]}" for name, c in tally.items()),
            file=sys.stderr,
            flush=True,
        )

    try:
        run()
    except KeyboardInterrupt:  # stopped early: what finished still counts
        print("stopped early: the figures count the sequences that finished")
    seconds = time.monotonic() - began
    print(
        f"{max(c[2] for c in tally.values())} sequences, each on BuildKit then the classic "
        f"builder, in {seconds:.0f} s (a stopped run may not have finished the last one)"
    )
    for builder, (builds, agreed, sequences, whole, broken) in tally.items():
        print(
            f"{builder:<9} builds agreeing {agreed}/{builds} = {agreed / max(builds, 1):.1%}, "
            f"sequences agreeing at every build {whole}/{sequences} = "
            f"{whole / max(sequences, 1):.1%} ({broken} broken off by an engine error)"
        )
    for text in shown:
        print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
