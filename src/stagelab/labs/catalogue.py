"""The labs: where they live, one lab's files, its checks, hints, solution and reset."""

from __future__ import annotations

import dataclasses
import difflib
import html
import os
import re
import shutil
import types
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from .. import engine
from ..builds import build
from ..course import Course
from ..errors import EngineUnavailable, StagelabError
from ..progress import in_kernel
from ..render.html import inline_markdown
from .attempts import record_attempt, record_hint
from .criteria import LITTER, MACHINERY, Criterion
from .report import LiveChecklist, NoEngineReport, Note, Outcome, Report, run_checks

LAB_FOLDER = re.compile(r"^(?P<number>\d\d)-(?P<topic>[a-z0-9-]+)$")


def labs_root() -> Path:
    """Return the labs folder: $STAGELAB_LABS, else the course's labs/ (course.py says where
    the course is found).

    Raises StagelabError, saying how to point at one, when that folder does not exist.
    """
    return Course.find().labs


def all_labs(folder: Path | None = None) -> list[Lab]:
    """Return every lab of `folder` (default: labs_root()), in number order."""
    root = folder or labs_root()
    return [
        Lab(path)
        for path in sorted(root.iterdir())
        if LAB_FOLDER.match(path.name) and (path / "checks.py").is_file()
    ]


def find_lab(which: str | int) -> Lab:
    """Return a lab by number ("02", 2), folder name or topic ("shrink-it").

    Raises StagelabError naming the labs there are when none matches.
    """
    wanted = str(which).strip().lower()
    found = all_labs()
    for candidate in found:
        if wanted in (
            candidate.number,
            candidate.number.lstrip("0"),
            candidate.slug,
            candidate.topic,
        ):
            return candidate
    names = ", ".join(candidate.slug for candidate in found) or "none"
    raise StagelabError(f"No lab {which!r}. The labs are: {names}.")


class BackupFolder(type(Path())):  # the concrete class: Python 3.11 cannot subclass Path
    """The folder `Lab.reset()` moved the learner's files to: a Path that a notebook cell does
    not echo (`reset()` has already said where it is), so no PosixPath(...) follows."""

    def _ipython_display_(self) -> None:
        pass


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
        """Return the folder of pristine starter files."""
        return self.path / "starter"

    @property
    def solution_path(self) -> Path:
        """Return the folder of the solved files."""
        return self.path / "solution"

    @property
    def checks(self):
        """Return the lab's checks.py module, loaded once."""
        if self._checks is None:
            path = self.path / "checks.py"
            module = types.ModuleType(f"stagelab_lab_{self.number}")
            module.__file__ = str(path)
            # Compiled here rather than imported: no __pycache__ lands in the lab's folder.
            exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
            self._checks = module
        return self._checks

    @property
    def title(self) -> str:
        """Return the lab's title."""
        return self.checks.TITLE

    @property
    def goal(self) -> str:
        """Return what the lab asks for, in a sentence or two."""
        return self.checks.GOAL

    @property
    def criteria(self) -> list[Criterion]:
        """Return the criteria of checks.py in order, each keyed by its name there."""
        return [
            dataclasses.replace(value, key=name)
            for name, value in vars(self.checks).items()
            if isinstance(value, Criterion)
        ]

    def __repr__(self) -> str:
        lines = [
            f"Lab {self.slug}: {self.title}",
            f"  {self.goal}",
            f"  folder: {self.path}",
            "  criteria:",
        ]
        lines += [f"    - {item.title}" for item in self.criteria]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{inline_markdown(item.title)}</li>" for item in self.criteria)
        return (
            f"<div><strong>Lab {html.escape(self.slug)}: {html.escape(self.title)}</strong>"
            f"<p>{inline_markdown(self.goal)}</p><p>Your files: "
            f"<code>{html.escape(str(self.path))}</code></p><p>Criteria:</p><ul>{items}</ul>"
            "</div>"
        )

    def learner_files(self, directory: Path | None = None) -> list[Path]:
        """Return the learner's files in a folder (default: the lab's own), relative to it."""
        root = Path(directory) if directory is not None else self.path
        found = []
        for path in sorted(root.rglob("*")):
            parts = path.relative_to(root).parts
            if (
                path.is_file()
                and not (parts[0] in MACHINERY and root == self.path)
                and not LITTER.intersection(parts)
            ):
                found.append(path.relative_to(root))
        return found

    def ensure_working_files(self) -> bool:
        """Copy the starter files into the lab folder when the learner has none yet.

        Returns True when it copied them. The learner's working files are made here, on first
        use, rather than committed next to an identical starter/.
        """
        if self.learner_files():
            return False
        shutil.copytree(self.starter_path, self.path, symlinks=True, dirs_exist_ok=True)
        return True

    def check(
        self,
        directory: str | os.PathLike | None = None,
        on_result: Callable[[Outcome], None] | None = None,
    ) -> Report | NoEngineReport:
        """Build the learner's files for real, judge every criterion and record the attempt.

        `directory` defaults to the lab's own folder; `on_result` gets each outcome as it is
        judged. Returns a Report, or a NoEngineReport when no engine answers. A check of the
        lab's own solution/ is not recorded. Raises StagelabError, with no attempt recorded, for a
        folder that is missing or holds no Dockerfile.
        """
        folder = self.folder_to_check(directory)
        if engine.ping() is None:
            return self._without_engine()
        live = (
            LiveChecklist(self.slug, len(self.criteria))
            if on_result is None and in_kernel()
            else None
        )
        outcomes = run_checks(self.criteria, folder, live.add if live else on_result)
        if live:
            live.close()
        report = Report(self, folder, outcomes, datetime.now(timezone.utc))
        if folder != self.solution_path.resolve():
            record_attempt(report)
        return report

    def folder_to_check(self, directory: str | os.PathLike | None = None) -> Path:
        """Return the folder `check(directory)` builds, resolved: `directory`, or the lab's own
        folder (given the starter files first if it has none). Raises StagelabError for a
        folder that is missing or holds no Dockerfile."""
        if directory is None:
            self.ensure_working_files()
        folder = Path(directory if directory is not None else self.path).resolve()
        if not folder.is_dir():
            raise StagelabError(f"No folder {folder}: give --dir the folder with your Dockerfile.")
        if not (folder / "Dockerfile").is_file():
            raise StagelabError(
                f"No Dockerfile in {folder}: give --dir the folder of your lab files "
                f"(this lab's own is {self.path})."
            )
        return folder

    def _without_engine(self) -> NoEngineReport:
        message = (
            "Checks build your files, so they need a Docker engine, and none answers. "
            + engine.advice_no_engine()
        )
        try:
            recorded = build(self.solution_path, progress=False)
            note = (
                "Here is a recorded build of the solution instead (recorded "
                f"{recorded.recorded_on or 'earlier'} on "
                f"{recorded.recorded_engine or 'a real engine'})."
            )
        except EngineUnavailable:
            recorded, note = None, "No recording of the solution's build exists either."
        except StagelabError as error:
            recorded, note = None, f"The recorded build of the solution failed: {error}"
        return NoEngineReport(self, message, recorded, note)

    @property
    def after_lesson(self) -> str:
        """Return the number of the lesson after which the lab is set ("03"): its hints point
        at that lesson or earlier ones."""
        return self.checks.AFTER_LESSON

    @property
    def edited_file(self) -> str:
        """Return the name of the file the learner edits (checks.py's EDIT; "Dockerfile")."""
        return getattr(self.checks, "EDIT", "Dockerfile")

    def hint(self) -> Note:
        """Return the next hint, one per call (hints.py): a question, then a pointer at the
        lesson section that shows it, then the answer; after that, where the solution is."""
        hints = self.checks.HINTS
        if self.hints_shown >= len(hints):
            return Note(
                f"No more hints for lab {self.number}", "`lab.solution()` shows a solution."
            )
        self.hints_shown += 1
        shown = hints[self.hints_shown - 1]
        record_hint(self.number, self.hints_shown, datetime.now(timezone.utc))
        return Note(f"Hint {self.hints_shown} of {len(hints)} ({shown.label})", shown.shown())

    def show(self, name: str | None = None) -> Note:
        """Return the learner's files (or one of them) to show."""
        self.ensure_working_files()
        names = [Path(name)] if name else self.learner_files()
        return Note(f"Your files in {self.path}", code=_file_listing(self.path, names))

    def solution(self) -> Note:
        """Return the solution's files and how the file the learner edits (`edited_file`)
        differs from theirs."""
        body = _file_listing(self.solution_path, self.learner_files(self.solution_path))
        edited = self.edited_file
        mine = self.path / edited
        if mine.is_file():
            solved = (self.solution_path / edited).read_text()
            diff = difflib.unified_diff(
                mine.read_text().splitlines(),
                solved.splitlines(),
                f"your {edited}",
                f"solution/{edited}",
                lineterm="",
            )
            body += "\n\n" + ("\n".join(diff) or f"Your {edited} is the same as the solution's.")
        return Note(f"A solution to lab {self.slug} (there are others)", code=body)

    def reset(self) -> Path:
        """Restore the starter files, first moving the learner's files to a backup folder.

        All or nothing: when a file cannot be moved or the starter cannot be copied, what was
        moved goes back and StagelabError says what failed and where the backup is. Returns the
        backup folder (under .backups/, named by the time) as a BackupFolder: a Path that a
        notebook does not show again after the message.
        """
        backup = self._new_backup_folder()
        moved: list[Path] = []
        copying = False
        where = ""  # the learner's entry being moved, as the message names it
        try:
            for item in self._own_entries():
                where = item.name
                shutil.move(str(item), str(backup / item.name))
                moved.append(backup / item.name)
            copying, where = True, ""
            shutil.copytree(self.starter_path, self.path, symlinks=True, dirs_exist_ok=True)
        except OSError as error:
            self._undo_reset(moved, copying)
            if not any(backup.iterdir()):
                backup.rmdir()
            # The learner's entry being moved, and the file in it that failed (shutil names
            # only a file's last part): "entry: file".
            failed = str(error.filename or where)
            if where and Path(failed).name != where:
                failed = f"{where}: {failed}"
            raise StagelabError(
                f"Could not reset lab {self.slug}: {error.strerror or error} ({failed}). "
                "Nothing was changed: your files are where they were"
                + (f", and a partial copy is in {backup}" if backup.exists() else "")
                + ". That file may be in use or read-only: free it, then try again."
            ) from None
        print(f"Restored the starter files of lab {self.slug}; your files are in {backup}")
        return BackupFolder(backup)

    def _new_backup_folder(self) -> Path:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        backup = self.path / ".backups" / stamp
        suffix = 1
        while backup.exists():
            suffix += 1
            backup = self.path / ".backups" / f"{stamp}-{suffix}"
        backup.mkdir(parents=True)
        return backup

    def _own_entries(self) -> list[Path]:
        """Return the top-level entries of the lab folder that are the learner's."""
        return [
            item
            for item in sorted(self.path.iterdir())
            if item.name not in MACHINERY and item.name not in LITTER
        ]

    def _undo_reset(self, moved: list[Path], copying: bool) -> None:
        """Put the learner's files back where they were, removing starter files copied in."""
        if copying:  # every entry there now came from starter/
            for place in self._own_entries():
                if place.is_dir() and not place.is_symlink():
                    shutil.rmtree(place)
                else:
                    place.unlink()
        for item in reversed(moved):
            shutil.move(str(item), str(self.path / item.name))


def _file_listing(root: Path, names: list[Path]) -> str:
    parts = []
    for name in names:
        path = root / name
        text = path.read_text(errors="replace") if path.is_file() else "(missing)\n"
        parts.append(f"--- {name}\n{text.rstrip()}")
    return "\n\n".join(parts)
