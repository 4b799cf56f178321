"""Benchmark: how long a learner waits, each figure beside an anchor measured in the same run.

    .venv/bin/python benchmarks/bench_latency.py             # this checkout, every figure
    python benchmarks/bench_latency.py --checkout /tmp/old   # another checkout (its own .venv)
    python benchmarks/bench_latency.py --only import,commands --json after.json
    python benchmarks/bench_latency.py --table before.json after.json   # side by side

Figures (issue 25's goals) and their anchors:
- `import stagelab` (at most 0.3 s), beside `python -c pass`;
- `stagelab --help`, `progress`, `doctor`, `setup` on a ready machine (at most 1 s each), beside
  `python -c pass` and `docker version`;
- a second `make lab` to a URL that answers (at most 5 s), beside JupyterLab's own start with
  the same options;
- each lesson executed with no engine through `jupyter nbconvert --execute`, builds replayed
  (at most 8 s each), beside a notebook of one `pass` cell through nbconvert;
- a cached three-stage `sl.build` (at most 1.05 times), beside `docker buildx build` of the
  same file with the same stand-ins, alternating, in one process;
- each lab's `lab.check()` on its untouched starter files, the first check in a fresh kernel
  (at most 2 s), beside that kernel's `import stagelab`.

Each figure is the median of its runs with their spread (lowest-highest); runs of a figure and
its anchor alternate, so the machine's noise falls on both alike. The checkout needs its .venv
with the site extras (nbconvert); the engine must answer for the commands, builds and checks.
Run it with this checkout's Python (it shares bench_build.py's Dockerfile). Nothing here is a
test: the goals are printed next to the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_build import THREE_STAGES
from bench_first_minutes import free_port, time_make_lab, time_to_url

ROOT = Path(__file__).resolve().parents[1]
NO_ENGINE = "unix:///nonexistent.sock"
FIGURES = ("import", "commands", "lab", "lessons", "build", "check")
# Run by the checkout's own Python: alternating cached builds, one process, one engine cache.
BUILD_DRIVER = """
import json, subprocess, sys, tempfile, time
from pathlib import Path
import stagelab as sl
text, repeats = sys.argv[1], int(sys.argv[2])
with tempfile.TemporaryDirectory() as tmp:
    (Path(tmp) / "Dockerfile").write_text(text)
    first = sl.build(tmp, progress=False)
    contexts = [f"--build-context={name}=docker-image://{standin}"
                for name, standin in first.substitutions.items()]
    shell = ["docker", "buildx", "build", "--progress=plain", *contexts,
             "--iidfile", str(Path(tmp) / "iid"), tmp]
    subprocess.run(shell, check=True, capture_output=True)
    times = {"shell": [], "stagelab": []}
    for _ in range(repeats):
        began = time.monotonic()
        subprocess.run(shell, check=True, capture_output=True)
        times["shell"].append(time.monotonic() - began)
        began = time.monotonic()
        built = sl.build(tmp, progress=False)
        times["stagelab"].append(time.monotonic() - began)
        assert built.cached == ["fetch", "compile", "2"], built
print(json.dumps(times))
"""
CHECK_CELLS = [
    "import time\nbegan = time.monotonic()\nimport stagelab as sl\n"
    "print('IMPORT', time.monotonic() - began)",
    "lab = sl.lab({number!r})",
    "began = time.monotonic()\nreport = lab.check()\nprint('CHECK', time.monotonic() - began)",
]


class Bench:
    """One checkout's figures: each a name, its runs, its anchor's name and runs, its goal."""

    def __init__(self, checkout: Path, repeats: int):
        self.checkout = checkout
        self.repeats = repeats
        self.bin = checkout / ".venv" / "bin"
        self.figures: list[dict] = []

    def add(self, name, runs, anchor, anchor_runs, goal_s=None, goal_ratio=None) -> None:
        figure = {
            "name": name,
            "runs": runs,
            "anchor": anchor,
            "anchor_runs": anchor_runs,
            "goal_s": goal_s,
            "goal_ratio": goal_ratio,
        }
        self.figures.append(figure)
        print(line(figure), flush=True)

    def command(self, words: list[str], env: dict | None = None, cwd: Path | None = None):
        """Return a function that runs `words` to the end (a failure stops the benchmark)."""

        def run() -> None:
            subprocess.run(
                words, env=env, cwd=cwd or self.checkout, check=True, capture_output=True
            )

        return run

    def alternate(self, runs: dict, repeats: int | None = None) -> dict[str, list[float]]:
        """Time each function `repeats` times, one after the other in turn."""
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(repeats or self.repeats):
            for name, run in runs.items():
                began = time.monotonic()
                run()
                times[name].append(time.monotonic() - began)
        return times

    # ------------------------------------------------------------ the figures

    def imports(self) -> None:
        python = str(self.bin / "python")
        times = self.alternate(
            {
                "pass": self.command([python, "-c", "pass"]),
                "import": self.command([python, "-c", "import stagelab"]),
            }
        )
        self.add("import stagelab", times["import"], "python -c pass", times["pass"], 0.3)

    def commands(self) -> None:
        stagelab = str(self.bin / "stagelab")
        runs = {
            "python -c pass": self.command([str(self.bin / "python"), "-c", "pass"]),
            "docker version": self.command(["docker", "version"]),
        }
        for words in (["--help"], ["progress"], ["doctor"], ["setup"]):
            runs["stagelab " + " ".join(words)] = self.command([stagelab, *words])
        times = self.alternate(runs)
        for name in list(runs)[2:]:
            anchor = "docker version" if name.endswith(("doctor", "setup")) else "python -c pass"
            self.add(name, times[name], anchor, times[anchor], 1.0)

    def lab(self) -> None:
        env = dict(os.environ)
        time_make_lab(self.checkout, env)  # the first: installs what is missing
        times = self.alternate(
            {
                "jupyter": lambda: self.time_jupyter_lab(env),
                "make": lambda: time_make_lab(self.checkout, env),
            }
        )
        self.add("make lab, again", times["make"], "jupyter lab", times["jupyter"], 5.0)

    def time_jupyter_lab(self, env: dict) -> float:
        """Start JupyterLab as `make lab` does, until its URL answers; then stop it."""
        command = [
            str(self.bin / "jupyter"),
            "lab",
            "--ip=127.0.0.1",
            f"--port={free_port()}",
            "--no-browser",
            "--allow-root",
            "--ServerApp.root_dir=.",
            "--LabApp.default_url=/lab/tree/notebooks/01_start_here.ipynb",
            f"--LabApp.app_settings_dir={self.checkout / 'jupyter' / 'settings'}",
        ]
        return time_to_url(command, self.checkout, env)

    def lessons(self, work: Path) -> None:
        env = no_engine_env(work, self.checkout)
        (work / "empty").mkdir()
        empty = work / "empty" / "pass.ipynb"
        empty.write_text(json.dumps(notebook(["pass"])))
        lessons = sorted((self.checkout / "notebooks").glob("[0-9][0-9]_*.ipynb"))
        runs = {"pass": self.nbconvert(empty, work, env)}
        runs.update({lesson.stem: self.nbconvert(lesson, work, env) for lesson in lessons})
        times = self.alternate(runs, max(1, self.repeats // 3))
        for lesson in lessons:
            self.add(lesson.stem, times[lesson.stem], "one pass cell", times["pass"], 8.0)
        total = [sum(run) for run in zip(*(times[lesson.stem] for lesson in lessons))]
        self.add("all lessons, one after another", total, "one pass cell", times["pass"])

    def nbconvert(self, source: Path, work: Path, env: dict):
        command = [
            str(self.bin / "jupyter"),
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--ExecutePreprocessor.timeout=900",
            "--output-dir",
            str(work / "out"),
            str(source),
        ]
        return self.command(command, env=env, cwd=source.parent)

    def build(self, repeats: int) -> None:
        done = subprocess.run(
            [str(self.bin / "python"), "-c", BUILD_DRIVER, THREE_STAGES, str(repeats)],
            capture_output=True,
            text=True,
            check=True,
        )
        times = json.loads(done.stdout)
        self.add(
            "cached three-stage sl.build",
            times["stagelab"],
            "docker buildx build",
            times["shell"],
            goal_ratio=1.05,
        )

    def check(self, work: Path) -> None:
        labs = sorted(path.name for path in (self.checkout / "labs").glob("[0-9][0-9]-*"))
        for slug in labs:
            checks, imports = [], []
            for attempt in range(self.repeats // 3 + 2):
                seconds = self.first_check(slug, work / f"{slug}-{attempt}")
                if attempt:  # the first fills the engine's cache: not counted
                    checks.append(seconds["CHECK"])
                    imports.append(seconds["IMPORT"])
            self.add(f"lab {slug}: check()", checks, "import stagelab (kernel)", imports, 2.0)

    def first_check(self, slug: str, work: Path) -> dict[str, float]:
        """Check the lab's untouched starter files in a new kernel; return the cells' seconds."""
        work.mkdir(parents=True)
        shutil.copytree(self.checkout / "labs", work / "labs", ignore=ignored_lab_files)
        env = {
            **os.environ,
            "STAGELAB_HOME": str(work / "home"),
            "STAGELAB_LABS": str(work / "labs"),
        }
        source = work / "check.ipynb"
        number = slug.split("-")[0]
        source.write_text(json.dumps(notebook([c.format(number=number) for c in CHECK_CELLS])))
        self.nbconvert(source, work, env)()
        ran = json.loads((work / "out" / "check.ipynb").read_text())
        seconds = {}
        for cell in ran["cells"]:
            for output in cell.get("outputs", []):
                for text in "".join(output.get("text", "")).splitlines():
                    if text.split()[:1] in (["IMPORT"], ["CHECK"]):
                        seconds[text.split()[0]] = float(text.split()[1])
        return seconds


def ignored_lab_files(folder: str, names: list[str]) -> set[str]:
    # Only what the repository holds: the copy is untouched, as a fresh clone's is.
    kept = {"checks.py", "starter", "solution", "task.ipynb", "task.md", "README.md"}
    if Path(folder).name == "labs" or Path(folder).parent.name != "labs":
        return {name for name in names if name in (".backups", ".ipynb_checkpoints")}
    return {name for name in names if name not in kept}


def notebook(cells: list[str]) -> dict:
    """Return an nbformat 4.5 notebook of these code cells."""
    code = [
        {"cell_type": "code", "id": f"cell-{n}", "metadata": {}, "source": source}
        | {"outputs": [], "execution_count": None}
        for n, source in enumerate(cells)
    ]
    return {
        "cells": code,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def no_engine_env(work: Path, checkout: Path) -> dict:
    """The environment a lesson runs in with no engine: as `make site` and Binder have it."""
    shutil.copytree(checkout / "labs", work / "labs", ignore=ignored_lab_files)
    (work / "tmp").mkdir()
    env = {
        **os.environ,
        "DOCKER_HOST": NO_ENGINE,
        "STAGELAB_HOME": str(work / "home"),
        "STAGELAB_LABS": str(work / "labs"),
        "TMPDIR": str(work / "tmp"),
    }
    for name in ("STAGELAB_RECORD", "STAGELAB_RECORDINGS"):
        env.pop(name, None)
    return env


def spread(runs: list[float]) -> str:
    return f"{statistics.median(runs):7.3f} s ({min(runs):.3f}-{max(runs):.3f}, n={len(runs)})"


def line(figure: dict) -> str:
    median = statistics.median(figure["runs"])
    anchor = statistics.median(figure["anchor_runs"])
    verdict = ""
    if figure["goal_s"] is not None:
        ok = median <= figure["goal_s"]
        verdict = f"goal <= {figure['goal_s']:g} s: {'OK' if ok else 'ABOVE'}"
    if figure["goal_ratio"] is not None:
        ok = median / anchor <= figure["goal_ratio"]
        verdict = f"ratio {median / anchor:.3f}, goal <= {figure['goal_ratio']:g}: " + (
            "OK" if ok else "ABOVE"
        )
    return (
        f"{figure['name']:<36} {spread(figure['runs'])}   "
        f"{figure['anchor']}: {spread(figure['anchor_runs'])}   {verdict}"
    )


def table(paths: list[str]) -> None:
    """Print the figures of several --json files side by side (median, and anchor median)."""
    runs = [json.loads(Path(path).read_text()) for path in paths]
    print("| figure | " + " | ".join(run["label"] for run in runs) + " |")
    print("| --- |" + " --- |" * len(runs))
    names = list(dict.fromkeys(f["name"] for run in runs for f in run["figures"]))
    for name in names:
        cells = []
        for run in runs:
            found = [f for f in run["figures"] if f["name"] == name]
            if not found:
                cells.append("-")
                continue
            f = found[0]
            median, anchor = statistics.median(f["runs"]), statistics.median(f["anchor_runs"])
            ratio = f", ratio {median / anchor:.3f}" if f["goal_ratio"] is not None else ""
            cells.append(
                f"{median:.3f} s ({min(f['runs']):.2f}-{max(f['runs']):.2f}); "
                f"{f['anchor']} {anchor:.3f} s{ratio}"
            )
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkout", type=Path, default=ROOT, help="default: this checkout")
    parser.add_argument("--repeats", type=int, default=9, help="runs per figure (lessons: /3)")
    parser.add_argument("--build-repeats", type=int, default=15)
    parser.add_argument("--only", default=",".join(FIGURES), help="of " + ",".join(FIGURES))
    parser.add_argument("--json", help="also write the runs to this file")
    parser.add_argument("--label", help="the checkout's name in --table (default: its commit)")
    parser.add_argument("--table", nargs="+", metavar="JSON", help="compare --json files")
    args = parser.parse_args()
    if args.table:
        table(args.table)
        return 0
    wanted = args.only.split(",")
    unknown = set(wanted) - set(FIGURES)
    if unknown:
        parser.error(f"--only: unknown figures {sorted(unknown)}")
    checkout = args.checkout.resolve()
    commit = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"checkout {checkout} at {commit}; {os.cpu_count()} cores; {time.ctime()}", flush=True)
    bench = Bench(checkout, args.repeats)
    with tempfile.TemporaryDirectory(prefix="stagelab-latency-") as tmp:
        work = Path(tmp)
        for figure in wanted:
            if figure == "import":
                bench.imports()
            elif figure == "commands":
                bench.commands()
            elif figure == "lab":
                bench.lab()
            elif figure == "lessons":
                bench.lessons(work / "lessons")
            elif figure == "build":
                bench.build(args.build_repeats)
            elif figure == "check":
                bench.check(work / "checks")
    if args.json:
        label = args.label or commit
        Path(args.json).write_text(json.dumps({"label": label, "figures": bench.figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
