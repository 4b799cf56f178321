"""Labs: exercises whose checks run real builds of the learner's files, criterion by criterion."""

from __future__ import annotations

import difflib
import html
import importlib.util
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from . import display, engine, images
from .build import BuildResult, build
from .dockerfile import Dockerfile, Stage, parse_dockerfile
from .errors import EngineUnavailable, StagelabError

LAB_FOLDER = re.compile(r"^(?P<number>\d\d)-(?P<topic>[a-z0-9-]+)$")
# What a lab folder holds besides the learner's own files; checks and resets leave these alone.
MACHINERY = {"starter", "solution", ".backups", "checks.py", "task.ipynb"}
LITTER = {"__pycache__", ".ipynb_checkpoints"}
COMPILER_PATHS = ["/usr/bin/gcc", "/usr/bin/cc", "/usr/bin/g++", "/usr/bin/c++",
                  "/usr/local/bin/gcc", "/usr/lib/gcc", "/usr/libexec/gcc"]


# ---------------------------------------------------------------- where labs and progress live

def labs_root() -> Path:
    """Return the labs folder: $STAGELAB_LABS, else the checkout's labs/ next to src/."""
    override = os.environ.get("STAGELAB_LABS")
    root = Path(override).expanduser() if override else Path(__file__).resolve().parents[2] / "labs"
    if not root.is_dir():
        where = "STAGELAB_LABS points to" if override else "the labs should be at"
        raise StagelabError(f"No labs folder: {where} {root}, which does not exist. Set "
                            "STAGELAB_LABS to the labs/ folder of a stagelab checkout.")
    return root


def progress_file() -> Path:
    """Return the file attempts go to: $STAGELAB_HOME/progress.jsonl, else ~/.stagelab/."""
    home = os.environ.get("STAGELAB_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".stagelab") / "progress.jsonl"


def all_labs() -> list[Lab]:
    """Return every lab, in number order."""
    root = labs_root()
    return [Lab(path) for path in sorted(root.iterdir())
            if LAB_FOLDER.match(path.name) and (path / "checks.py").is_file()]


def lab(which: str | int) -> Lab:
    """Return a lab by number ("02", 2), folder name or topic ("shrink-it")."""
    wanted = str(which).strip().lower()
    found = all_labs()
    for candidate in found:
        if wanted in (candidate.number, candidate.number.lstrip("0"), candidate.slug,
                      candidate.topic):
            return candidate
    names = ", ".join(candidate.slug for candidate in found) or "none"
    raise StagelabError(f"No lab {which!r}. The labs are: {names}.")


# ---------------------------------------------------------------- what checks.py files use

class CheckFailed(Exception):
    """A criterion is not met; the message says what was found."""


def fail(message: str):
    """Stop the current criterion as not met."""
    raise CheckFailed(message)


def expect(condition: bool, message: str) -> None:
    """Fail the current criterion with this message unless the condition holds."""
    if not condition:
        raise CheckFailed(message)


@dataclass(frozen=True)
class Criterion:
    """One thing a lab asks for: a title, a one-line hint, and the test that decides it."""

    key: str
    title: str
    hint: str
    test: Callable[[Workspace], str | None]


def criterion(title: str, hint: str) -> Callable[[Callable], Criterion]:
    """Declare a criterion in a lab's checks.py; the test returns a detail or raises."""
    def declare(test: Callable[[Workspace], str | None]) -> Criterion:
        return Criterion(test.__name__, title, hint, test)
    return declare


def last_stage(dockerfile: Dockerfile) -> Stage:
    """Return the stage a build without --target gives."""
    return dockerfile.stages[-1]


def takes_from(stage: Stage, ref: str) -> bool:
    """Tell whether a stage, or a stage it starts FROM, is or copies from the stage `ref`."""
    while stage is not None:
        if stage.ref == ref or ref in stage.sources:
            return True
        stage = stage.parent
    return False


def image_ids() -> set[str]:
    """Return the ids of the engine's images that stagelab did not label as its own."""
    # Other stagelab builds may run meanwhile; an export's image would carry no label.
    return {image.id for image in engine.client().images.list()
            if images.LABEL not in (image.labels or {})}


class Workspace:
    """A temporary copy of the learner's files; each distinct build runs once per check."""

    def __init__(self, path: Path, source: Path):
        self.path = path
        self.source = source
        self._builds: dict[tuple, BuildResult | StagelabError] = {}
        self._exports: dict[str | None, Path | StagelabError] = {}
        self.new_images: set[str] = set()

    @classmethod
    def copy_of(cls, source: Path, path: Path) -> Workspace:
        """Copy the learner's files (not the lab's own machinery) to path."""
        def ignore(folder: str, names: list[str]) -> set[str]:
            skipped = {name for name in names if name in LITTER}
            if Path(folder) == source:
                skipped |= {name for name in names if name in MACHINERY}
            return skipped

        shutil.copytree(source, path, symlinks=True, ignore=ignore)
        return cls(path, source)

    def read(self, name: str) -> str:
        """Return the text of one of the learner's files."""
        file = self.path / name
        if not file.is_file():
            fail(f"there is no {name} in {self.source}")
        return file.read_text()

    @property
    def dockerfile(self) -> Dockerfile:
        return parse_dockerfile(self.read("Dockerfile"))

    def build(self, target: str | None = None, build_args: dict[str, str] | None = None,
              builder: str = "buildkit") -> BuildResult:
        """Build the learner's files once for these options; later calls reuse the outcome."""
        key = (target, tuple(sorted((build_args or {}).items())), builder)
        if key not in self._builds:
            self.read("Dockerfile")
            try:
                self._builds[key] = build(self.path, target=target, build_args=build_args,
                                          builder=builder, progress=False)
            except StagelabError as error:
                self._builds[key] = error
        return _outcome(self._builds[key])

    def export(self, target: str | None = None) -> Path:
        """Build with --output into a fresh folder and return it; note images that appeared."""
        if target not in self._exports:
            self.read("Dockerfile")
            folder = Path(tempfile.mkdtemp(prefix="export-", dir=self.path.parent))
            before = image_ids()
            try:
                build(self.path, target=target, output=folder, progress=False)
                self._exports[target] = folder
            except StagelabError as error:
                self._exports[target] = error
            self.new_images |= image_ids() - before
        return _outcome(self._exports[target])

    def variant(self, changes: dict[str, str]) -> Workspace:
        """Return another copy of these files with some of them rewritten."""
        copy = Path(tempfile.mkdtemp(prefix="variant-", dir=self.path.parent)) / "work"
        shutil.copytree(self.path, copy, symlinks=True)
        for name, text in changes.items():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            (copy / name).write_text(text)
        return Workspace(copy, self.source)


def _outcome(stored):
    if isinstance(stored, Exception):
        raise stored
    return stored


# ---------------------------------------------------------------- reports

@dataclass
class Outcome:
    """Whether one criterion passed, what the check found, and the hint when it did not."""

    criterion: Criterion
    passed: bool
    detail: str

    def text(self) -> str:
        lines = [f"  {'PASS' if self.passed else 'FAIL'}  {self.criterion.title}"]
        lines += [f"        {line}" for line in self.detail.splitlines()]
        if not self.passed:
            lines.append(f"        hint: {self.criterion.hint}")
        return "\n".join(lines)


@dataclass(repr=False)
class Report:
    """The outcome of every criterion of one check of a lab."""

    lab: Lab
    directory: Path
    outcomes: list[Outcome]
    time: datetime

    @property
    def passed(self) -> bool:
        return all(outcome.passed for outcome in self.outcomes)

    @property
    def score(self) -> tuple[int, int]:
        return sum(o.passed for o in self.outcomes), len(self.outcomes)

    @property
    def failed(self) -> list[str]:
        """Return the keys of the criteria that failed."""
        return [o.criterion.key for o in self.outcomes if not o.passed]

    def headline(self) -> str:
        done, total = self.score
        verdict = "every criterion passes" if self.passed else f"{done} of {total} criteria pass"
        return f"Lab {self.lab.slug}: {verdict} (checked {self.directory})"

    def __repr__(self) -> str:
        return "\n".join([self.headline()] + [o.text() for o in self.outcomes])

    def _repr_html_(self) -> str:
        rows = []
        for outcome in self.outcomes:
            mark = ("<span style='color:#1a7f37'>&#10004; pass</span>" if outcome.passed else
                    "<span style='color:#cf222e'>&#10008; fail</span>")
            hint = ("" if outcome.passed else
                    f"<div><em>Hint:</em> {_inline(outcome.criterion.hint)}</div>")
            detail = ("<pre style='margin:2px 0;white-space:pre-wrap'>"
                      f"{html.escape(outcome.detail)}</pre>" if outcome.detail else "")
            rows.append(f"<tr><td style='white-space:nowrap'>{mark}</td>"
                        f"<td style='text-align:left'>{_inline(outcome.criterion.title)}"
                        f"{detail}{hint}</td></tr>")
        return (f"<div class='stagelab-lab-report'><strong>{html.escape(self.headline())}</strong>"
                "<table><tr><th>result</th><th style='text-align:left'>criterion</th></tr>"
                + "".join(rows) + "</table></div>")


@dataclass(repr=False)
class NoEngineReport:
    """What a check says when no Docker engine answers: why, and the solution's recorded run."""

    lab: Lab
    message: str
    recorded: BuildResult | None
    recording_note: str

    passed = False

    def __repr__(self) -> str:
        lines = [f"Lab {self.lab.slug}: not checked. {self.message}", self.recording_note]
        if self.recorded is not None:
            lines.append(repr(self.recorded))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        shown = self.recorded._repr_html_() if self.recorded is not None else ""
        return (f"<div class='stagelab-lab-report'><strong>Lab {html.escape(self.lab.slug)}: "
                f"not checked.</strong><pre>{html.escape(self.message)}</pre>"
                f"<p>{html.escape(self.recording_note)}</p>{shown}</div>")


@dataclass(repr=False)
class Note:
    """A short text shown as such in a terminal and as HTML in Jupyter."""

    title: str
    text: str = ""
    code: str = ""

    def __repr__(self) -> str:
        return (self.title + (f": {self.text}" if self.text else "") +
                (f"\n{self.code}" if self.code else ""))

    def _repr_html_(self) -> str:
        text = f": {_inline(self.text)}" if self.text else ""
        code = f"<pre>{html.escape(self.code)}</pre>" if self.code else ""
        return f"<div><strong>{_inline(self.title)}</strong>{text}{code}</div>"


class LiveChecklist:
    """In Jupyter, show each criterion as it is judged; the report takes over at the end."""

    def __init__(self, lab: Lab):
        from IPython.display import HTML, display as show

        self.lab = lab
        self.judged: list[Outcome] = []
        self.handle = show(HTML(self._html()), display_id=True)

    def add(self, outcome: Outcome) -> None:
        from IPython.display import HTML

        self.judged.append(outcome)
        self.handle.update(HTML(self._html()))

    def close(self) -> None:
        from IPython.display import HTML

        self.handle.update(HTML(""))

    def _html(self) -> str:
        marks = "".join(f"<li>{'&#10004;' if o.passed else '&#10008;'} "
                        f"{_inline(o.criterion.title)}</li>" for o in self.judged)
        total = len(self.lab.criteria)
        return (f"<div><em>Checking lab {html.escape(self.lab.slug)}: building your files "
                f"({len(self.judged)} of {total} criteria judged)...</em><ul>{marks}</ul></div>")


def _inline(text: str) -> str:
    """Escape text for HTML, showing `code` spans as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def run_checks(criteria: list[Criterion], directory: Path,
               on_result: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Judge every criterion on a temporary copy of directory; never touch the original."""
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="stagelab-lab-") as tmp:
        work = Workspace.copy_of(directory, Path(tmp) / "work")
        for item in criteria:
            outcome = _judge(item, work)
            outcomes.append(outcome)
            if on_result is not None:
                on_result(outcome)
    return outcomes


def _judge(item: Criterion, work: Workspace) -> Outcome:
    try:
        return Outcome(item, True, item.test(work) or "")
    except (CheckFailed, StagelabError) as error:
        return Outcome(item, False, str(error))
    except Exception as error:  # a learner's file must never crash the whole check
        return Outcome(item, False, f"the check could not finish: {type(error).__name__}: {error}")


# ---------------------------------------------------------------- progress

def record(report: Report) -> None:
    """Append one attempt to the progress file, for the learner and their instructor."""
    done, total = report.score
    line = {"lab": report.lab.number, "slug": report.lab.slug,
            "time": report.time.isoformat(timespec="seconds"), "passed": done, "total": total,
            "failed": report.failed, "user": images.current_user(),
            "dir": str(report.directory)}
    path = progress_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(json.dumps(line) + "\n")


def attempts() -> list[dict]:
    """Return every recorded attempt, oldest first; lines that do not parse are skipped."""
    path = progress_file()
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        try:
            found.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return found


def progress() -> list[dict]:
    """Return one row a lab: status (not started, attempted, passed), attempts, last attempt."""
    recorded = attempts()
    rows = []
    for each in all_labs():
        mine = [a for a in recorded if a.get("lab") == each.number]
        passed = any(a.get("passed") == a.get("total") for a in mine)
        status = "passed" if passed else "attempted" if mine else "not started"
        last = mine[-1] if mine else None
        rows.append({"lab": each.slug, "title": each.title, "status": status,
                     "attempts": len(mine), "last_attempt": last["time"] if last else None,
                     "last_score": f"{last['passed']}/{last['total']}" if last else None})
    return rows


def progress_table() -> str:
    """Return the progress rows as a plain-text table."""
    lines = [f"{'lab':<24} {'status':<12} {'attempts':>8}  {'last attempt':<26} last score"]
    for row in progress():
        lines.append(f"{row['lab']:<24} {row['status']:<12} {row['attempts']:>8}  "
                     f"{row['last_attempt'] or '-':<26} {row['last_score'] or '-'}")
    return "\n".join(lines)


# ---------------------------------------------------------------- a lab

class Lab:
    """One lab folder: the task, the learner's files, starter and solution, and its checks."""

    def __init__(self, path: Path):
        match = LAB_FOLDER.match(path.name)
        if match is None:
            raise StagelabError(f"{path} is not a lab folder (they are named like 02-shrink-it)")
        self.path = path
        self.number = match["number"]
        self.topic = match["topic"]
        self.slug = path.name
        self.hints_shown = 0
        self._checks = None

    @property
    def starter_path(self) -> Path:
        return self.path / "starter"

    @property
    def solution_path(self) -> Path:
        return self.path / "solution"

    @property
    def checks(self):
        """Return the lab's checks.py, loaded once."""
        if self._checks is None:
            spec = importlib.util.spec_from_file_location(f"stagelab_lab_{self.number}",
                                                          self.path / "checks.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self._checks = module
        return self._checks

    @property
    def title(self) -> str:
        return self.checks.TITLE

    @property
    def goal(self) -> str:
        return self.checks.GOAL

    @property
    def criteria(self) -> list[Criterion]:
        return [value for value in vars(self.checks).values() if isinstance(value, Criterion)]

    def __repr__(self) -> str:
        lines = [f"Lab {self.slug}: {self.title}", f"  {self.goal}", f"  folder: {self.path}",
                 "  criteria:"]
        lines += [f"    - {item.title}" for item in self.criteria]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{_inline(item.title)}</li>" for item in self.criteria)
        return (f"<div><strong>Lab {html.escape(self.slug)}: {html.escape(self.title)}</strong>"
                f"<p>{_inline(self.goal)}</p><p>Your files: <code>{html.escape(str(self.path))}"
                f"</code></p><p>Criteria:</p><ul>{items}</ul></div>")

    def learner_files(self, directory: Path | None = None) -> list[Path]:
        """Return the learner's files in a folder (default: the lab's own), relative to it."""
        root = Path(directory) if directory is not None else self.path
        found = []
        for path in sorted(root.rglob("*")):
            parts = path.relative_to(root).parts
            if path.is_file() and not (parts[0] in MACHINERY and root == self.path) \
                    and not LITTER.intersection(parts):
                found.append(path.relative_to(root))
        return found

    def check(self, directory: str | os.PathLike | None = None,
              on_result: Callable[[Outcome], None] | None = None) -> Report | NoEngineReport:
        """Build the learner's files for real, judge every criterion and record the attempt."""
        folder = Path(directory if directory is not None else self.path).resolve()
        if not folder.is_dir():
            raise StagelabError(f"No folder {folder}: give --dir the folder with your Dockerfile.")
        if engine.ping() is None:
            return self._without_engine()
        live = LiveChecklist(self) if on_result is None and display._in_kernel() else None
        outcomes = run_checks(self.criteria, folder, live.add if live else on_result)
        if live:
            live.close()
        report = Report(self, folder, outcomes, datetime.now(timezone.utc))
        if folder != self.solution_path.resolve():
            record(report)
        return report

    def _without_engine(self) -> NoEngineReport:
        message = ("Checks build your files, so they need a Docker engine, and none answers. "
                   + engine.advice_no_engine())
        try:
            recorded = build(self.solution_path, progress=False)
            note = ("Here is a recorded build of the solution instead (recorded "
                    f"{recorded.recorded_on or 'earlier'} on "
                    f"{recorded.recorded_engine or 'a real engine'}).")
        except EngineUnavailable:
            recorded, note = None, "No recording of the solution's build exists either."
        except StagelabError as error:
            recorded, note = None, f"The recorded build of the solution failed: {error}"
        return NoEngineReport(self, message, recorded, note)

    def hint(self) -> Note:
        """Show the next hint; each call gives a stronger one."""
        hints = self.checks.HINTS
        if self.hints_shown >= len(hints):
            return Note(f"No more hints for lab {self.number}", "`lab.solution()` shows a solution.")
        self.hints_shown += 1
        return Note(f"Hint {self.hints_shown} of {len(hints)}", hints[self.hints_shown - 1])

    def show(self, name: str | None = None) -> Note:
        """Show the learner's files (or one of them)."""
        names = [Path(name)] if name else self.learner_files()
        return Note(f"Your files in {self.path}", code=_file_listing(self.path, names))

    def solution(self) -> Note:
        """Show the solution's files and how its Dockerfile differs from yours."""
        body = _file_listing(self.solution_path, self.learner_files(self.solution_path))
        mine = self.path / "Dockerfile"
        if mine.is_file():
            solved = (self.solution_path / "Dockerfile").read_text()
            diff = difflib.unified_diff(mine.read_text().splitlines(), solved.splitlines(),
                                        "your Dockerfile", "solution/Dockerfile", lineterm="")
            body += "\n\n" + ("\n".join(diff) or "Your Dockerfile is the same as the solution's.")
        return Note(f"A solution to lab {self.slug} (there are others)", code=body)

    def reset(self) -> Path:
        """Restore the starter files, first moving the learner's files to a backup folder."""
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        backup = self.path / ".backups" / stamp
        suffix = 1
        while backup.exists():
            suffix += 1
            backup = self.path / ".backups" / f"{stamp}-{suffix}"
        backup.mkdir(parents=True)
        for item in self.path.iterdir():
            if item.name not in MACHINERY and item.name not in LITTER:
                shutil.move(str(item), str(backup / item.name))
        shutil.copytree(self.starter_path, self.path, symlinks=True, dirs_exist_ok=True)
        print(f"Restored the starter files of lab {self.slug}; your files are in {backup}")
        return backup


def _file_listing(root: Path, names: list[Path]) -> str:
    parts = []
    for name in names:
        path = root / name
        text = path.read_text() if path.is_file() else "(missing)\n"
        parts.append(f"--- {name}\n{text.rstrip()}")
    return "\n\n".join(parts)
