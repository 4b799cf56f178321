"""Benchmark: the Kubernetes classroom's images: build times, sizes against a one-stage build,
the smoke test's time, and the memory of a learner's pod (its two containers) while lessons
01 and 02 run, for sizing singleuser.memory and the engine sidecar's limits.

    python benchmarks/bench_classroom_image.py            # on the build cache as it is
    python benchmarks/bench_classroom_image.py --no-cache # every step again (minutes)

The one-stage comparison is benchmarks/learner-one-stage.Dockerfile, built with the same
inputs as the learner image. Memory is a container's usage less its inactive file cache (as
`docker stats` shows it), sampled every second.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from stagelab import engine
from stagelab.classroom.kubernetes.image_build import build_one, prepared_inputs
from stagelab.classroom.kubernetes.layout import ENGINE, LEARNER, ImageSpec
from stagelab.classroom.kubernetes.smoke import SMOKE_KIND, smoke

ONE_STAGE = ImageSpec("learner", "stagelab/classroom-learner-one-stage")
ONE_STAGE_DOCKERFILE = Path(__file__).with_name("learner-one-stage.Dockerfile")


def memory_mib(container) -> float:
    """Return a container's memory in MiB, less its inactive file cache (cgroup v1 or v2)."""
    stats = container.stats(stream=False)["memory_stats"]
    cache = stats.get("stats", {})
    inactive = cache.get("total_inactive_file", cache.get("inactive_file", 0))
    return (stats.get("usage", 0) - inactive) / 2**20


class PodMemory(threading.Thread):
    """Sample the smoke test's containers until stopped; keep each one's first and peak MiB."""

    def __init__(self):
        super().__init__(daemon=True)
        self.first: dict[str, float] = {}
        self.peak: dict[str, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        client = engine.client()
        while not self.done.is_set():
            for container in client.containers.list(
                filters={"label": f"io.stagelab.kind={SMOKE_KIND}"}
            ):
                role = container.name.rsplit("-", 1)[-1]
                try:
                    used = memory_mib(container)
                except Exception:  # the container ended between the listing and the stats
                    continue
                self.first.setdefault(role, used)
                self.peak[role] = max(self.peak.get(role, 0.0), used)
            time.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-cache", action="store_true", help="build every step again")
    args = parser.parse_args()
    say = lambda line: print(line, flush=True)  # noqa: E731
    with prepared_inputs(say) as inputs:
        built = {
            spec: build_one(spec, inputs, no_cache=args.no_cache, say=say)
            for spec in (ENGINE, LEARNER)
        }
        built[ONE_STAGE] = build_one(
            ONE_STAGE, inputs, no_cache=args.no_cache, dockerfile=ONE_STAGE_DOCKERFILE, say=say
        )
    learner, one_stage = built[LEARNER], built[ONE_STAGE]
    print(
        f"\nlearner (multi-stage): {learner.size_bytes / 1e6:.0f} MB, "
        f"one stage: {one_stage.size_bytes / 1e6:.0f} MB "
        f"({one_stage.size_bytes / learner.size_bytes:.2f}x), "
        f"engine: {built[ENGINE].size_bytes / 1e6:.0f} MB"
    )
    sampler = PodMemory()
    sampler.start()
    report = smoke(say=say)
    sampler.done.set()
    sampler.join()
    print("\n".join(report.lines()))
    for role in sorted(sampler.peak):
        print(
            f"pod memory, {role} container: first sample {sampler.first[role]:.0f} MiB, "
            f"peak {sampler.peak[role]:.0f} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
