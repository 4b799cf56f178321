"""Benchmark: the first minutes of a learner, on a fresh clone: how long until `make lab`
prints a URL that answers, and how long `make test` sets up before its first test.

    python benchmarks/bench_first_minutes.py                 # engine and images present
    python benchmarks/bench_first_minutes.py --ref 2525f1b   # the same, for an older commit
    python benchmarks/bench_first_minutes.py --bare --yes    # first stop the engine and delete
        # it, its data and the base images (as benchmarks/bench_build.py --from-scratch does)

Each figure is the median of --repeats runs (default 3), each on a new clone with no venv and
an empty uv/pip cache (--warm-cache keeps the machine's), then a second `make lab` in the last
clone. Prints one line per figure; nothing is timed by a test.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
URL = re.compile(r"(http://127\.0\.0\.1:\d+/\S*\?token=\w+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clone(ref: str, into: Path) -> Path:
    repo = into / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", ref], check=True)
    return repo


def time_make_lab(repo: Path, env: dict, timeout: float = 900) -> float:
    """Run `make lab` until its URL answers; return the seconds that took."""
    return time_to_url(["make", "lab", f"LAB_PORT={free_port()}"], repo, env, timeout)


def time_to_url(command: list[str], cwd: Path, env: dict, timeout: float = 900) -> float:
    """Run `command` until the Jupyter URL it prints answers, then stop it; return the seconds
    until it answered."""
    began = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        for line in process.stdout:
            found = URL.search(line)
            if found:
                answers(found.group(1))
                return time.monotonic() - began
            if time.monotonic() - began > timeout:
                break
        raise SystemExit(f"{' '.join(command)} printed no working URL in {cwd}")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def answers(url: str, within_s: float = 30) -> None:
    """Wait until the URL answers 200 (Jupyter prints it as it starts to listen)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                if answer.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def time_make_test_setup(repo: Path, env: dict) -> float:
    """Run `make test` until pytest starts; return the seconds the set-up took."""
    began = time.monotonic()
    process = subprocess.Popen(
        ["make", "test"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        for line in process.stdout:
            if "test session starts" in line:
                return time.monotonic() - began
        raise SystemExit("make test ended before pytest started")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def environment(work: Path, warm: bool) -> dict:
    env = dict(os.environ)
    if not warm:
        env.update(UV_CACHE_DIR=str(work / "uv-cache"), PIP_NO_CACHE_DIR="1")
    return env


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ref", default="HEAD", help="the commit to clone (default: HEAD)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warm-cache", action="store_true")
    parser.add_argument("--bare", action="store_true", help="start from a machine with no engine")
    parser.add_argument("--yes", action="store_true", help="confirm --bare")
    args = parser.parse_args()
    if args.bare and not args.yes:
        parser.error("--bare deletes the engine, its data and the base images: add --yes")

    runs, second, test_setup = [], None, None
    for number in range(args.repeats):
        if args.bare:
            from bench_build import stop_engine_and_forget_everything

            stop_engine_and_forget_everything()
        with tempfile.TemporaryDirectory(prefix="stagelab-bench-") as tmp:
            work = Path(tmp)
            repo = clone(args.ref, work)
            env = environment(work, args.warm_cache)
            runs.append(time_make_lab(repo, env))
            print(f"  run {number + 1}: make lab ready in {runs[-1]:.1f} s", flush=True)
            if number == args.repeats - 1:
                second = time_make_lab(repo, env)
                if not args.bare:
                    test_setup = time_make_test_setup(clone(args.ref, work / "t"), env)
    where = (
        "bare machine (no engine, no images, no venv)"
        if args.bare
        else "engine and images present, no venv"
    )
    cache = "warm" if args.warm_cache else "empty"
    print(
        f"{args.ref}: make lab, {where}, {cache} package cache: median "
        f"{statistics.median(runs):.1f} s of {[round(r, 1) for r in runs]}"
    )
    print(f"{args.ref}: make lab again in the same clone: {second:.1f} s")
    if test_setup is not None:
        print(f"{args.ref}: make test, set-up before the first test: {test_setup:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
