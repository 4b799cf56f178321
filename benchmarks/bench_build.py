"""Benchmark: a cached stagelab.build() against `docker buildx build`, and set-up from scratch.

python benchmarks/bench_build.py              # build overhead (+ set-up on this machine)
python benchmarks/bench_build.py --from-scratch --yes
    # first stop the engine and delete everything stagelab installed (engine, its data,
    # base images), then time `stagelab setup` as on a fresh machine. Destroys images!
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import stagelab as sl
from stagelab import engine, images, provisioning
from stagelab.context import BuildRequest, buildx_command

THREE_STAGES = """\
FROM busybox:1.36 AS fetch
RUN echo source > /src.txt
FROM fetch AS compile
RUN tr a-z A-Z < /src.txt > /app.txt
FROM busybox:1.36
COPY --from=compile /app.txt /app.txt
"""


def stop_engine_and_forget_everything() -> None:
    """Stop stagelab's dockerd and remove what stagelab installed, as on a fresh machine."""
    subprocess.run(["pkill", "-x", "dockerd"], check=False)
    for _ in range(150):
        if (
            subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, check=False).returncode
            != 0
        ):
            break
        time.sleep(0.2)
    else:
        raise SystemExit("dockerd did not stop: stop it, then retry")
    subprocess.run(["pkill", "-x", "containerd"], check=False)
    time.sleep(1)
    for path in [
        provisioning.EnginePaths.from_environment().home,
        provisioning.EnginePaths.from_environment().apt_home,
        Path("/var/lib/docker"),
        Path("/var/lib/containerd"),
        provisioning.cli_plugins_dir() / "docker-buildx",
    ]:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()
    engine.docker_host.cache_clear()


def time_setup() -> float:
    began = time.monotonic()
    subprocess.run([sys.executable, "-m", "stagelab.cli", "setup"], check=True)
    return time.monotonic() - began


def interleaved_medians(runs: dict, repeats: int) -> dict[str, list[float]]:
    """Time each run `repeats` times, alternating, so machine noise hits both alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            began = time.monotonic()
            run()
            times[name].append(time.monotonic() - began)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--from-scratch", action="store_true")
    parser.add_argument("--yes", action="store_true", help="confirm --from-scratch")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()

    if args.from_scratch:
        if not args.yes:
            parser.error("--from-scratch deletes the engine's data: add --yes to confirm")
        stop_engine_and_forget_everything()
        print(f"set-up from scratch (stagelab setup): {time_setup():.1f} s")
    else:
        print(f"set-up, already provisioned (stagelab setup): {time_setup():.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        context = Path(tmp)
        (context / "Dockerfile").write_text(THREE_STAGES)
        result = sl.build(context, progress=False)  # warm the cache
        request = BuildRequest(
            result.dockerfile,
            context,
            context / "Dockerfile",
            None,
            None,
            "buildkit",
            {},
            None,
            False,
            None,
            substitutions=images.substitutions(result.dockerfile.images()),
        )
        shell = buildx_command(request, iidfile=context / "iid", progress="plain")

        def from_shell():
            subprocess.run(shell, check=True, capture_output=True)

        def from_stagelab():
            built = sl.build(context, progress=False)
            assert built.cached == ["fetch", "compile", "2"], built

        times = interleaved_medians({"shell": from_shell, "stagelab": from_stagelab}, args.repeats)
    shell_s, stagelab_s = (statistics.median(times[k]) for k in ("shell", "stagelab"))
    print("fully cached three-stage build, median of", args.repeats, "(alternating runs)")
    print(
        f"  docker buildx build --progress=plain (shell): {shell_s:.3f} s  "
        f"{[f'{t:.3f}' for t in times['shell']]}"
    )
    print(
        f"  stagelab.build():                             {stagelab_s:.3f} s  "
        f"{[f'{t:.3f}' for t in times['stagelab']]}"
    )
    ratio = stagelab_s / shell_s
    print(
        f"  ratio stagelab/shell: {ratio:.3f} (goal: at most 1.10) "
        f"{'OK' if ratio <= 1.10 else 'ABOVE GOAL'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
