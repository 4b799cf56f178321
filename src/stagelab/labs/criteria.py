"""What a lab's checks.py is made of: criteria, a workspace that builds the learner's files
once per option set, and the criteria shapes several labs share."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..bake import BakeResult, bake
from ..builds import build
from ..containers import existing_paths, run
from ..context import read_dockerfile
from ..dockerfile import Dockerfile, Stage
from ..errors import StagelabError
from ..results import BuildResult

# What a lab folder holds besides the learner's own files; checks and resets leave these alone.
MACHINERY = {"starter", "solution", ".backups", "checks.py", "task.ipynb", "task.md"}
LITTER = {"__pycache__", ".ipynb_checkpoints"}
COMPILER_PATHS = [
    "/usr/bin/gcc",
    "/usr/bin/cc",
    "/usr/bin/g++",
    "/usr/bin/c++",
    "/usr/local/bin/gcc",
    "/usr/lib/gcc",
    "/usr/libexec/gcc",
]
READ_THE_FAILURE = "Read the failing step in the message above."


class CheckFailed(Exception):
    """A criterion is not met; the message says what was found."""


def fail(message: str):
    """Stop the current criterion as not met, saying what was found."""
    raise CheckFailed(message)


def expect(condition: bool, message: str) -> None:
    """Fail the current criterion with this message unless the condition holds."""
    if not condition:
        raise CheckFailed(message)


@dataclass(frozen=True)
class Criterion:
    """One thing a lab asks for: a title, a one-line hint, and the test that decides it.

    The test takes a Workspace and returns what it found (a detail, or None), or raises
    CheckFailed (or a StagelabError) when the criterion is not met. `key` is the name
    checks.py gives it.
    """

    key: str
    title: str
    hint: str
    test: Callable[[Workspace], str | None]


def criterion(title: str, hint: str) -> Callable[[Callable], Criterion]:
    """Declare a criterion in a lab's checks.py; the decorated function is its test."""

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


class Workspace:
    """A temporary copy of the learner's files; each distinct build runs once per check."""

    def __init__(self, path: Path, source: Path):
        self.path = path
        self.source = source
        self._builds: dict[tuple | str, BuildResult | BakeResult | StagelabError] = {}
        self._exports: dict[tuple, Path | StagelabError] = {}
        self._exported: dict[tuple, BuildResult] = {}

    @classmethod
    def copy_of(cls, source: Path, path: Path) -> Workspace:
        """Copy the learner's files (not the lab's own machinery) from `source` to `path`."""

        def ignore(folder: str, names: list[str]) -> set[str]:
            skipped = {name for name in names if name in LITTER}
            if Path(folder) == source:
                skipped |= {name for name in names if name in MACHINERY}
            return skipped

        shutil.copytree(source, path, symlinks=True, ignore=ignore)
        return cls(path, source)

    def read(self, name: str) -> str:
        """Return the text of one of the learner's files; fail the criterion when it is missing."""
        file = self.path / name
        if not file.is_file():
            fail(f"there is no {name} in {self.source}")
        return read_dockerfile(file)

    @property
    def dockerfile(self) -> Dockerfile:
        """Return the learner's Dockerfile, parsed."""
        return Dockerfile(self.read("Dockerfile"))

    def build(
        self,
        target: str | None = None,
        build_args: dict[str, str] | None = None,
        builder: str = "buildkit",
    ) -> BuildResult:
        """Build the learner's files once for these options; later calls reuse the outcome."""
        key = (target, tuple(sorted((build_args or {}).items())), builder)
        if key not in self._builds:
            self.read("Dockerfile")
            try:
                self._builds[key] = build(
                    self.path, target=target, build_args=build_args, builder=builder, progress=False
                )
            except StagelabError as error:
                self._builds[key] = error
        return _outcome(self._builds[key])

    def export(self, target: str | None = None, platforms: tuple[str, ...] = ()) -> Path:
        """Build with --output into a fresh folder and return it (once per target and
        platforms: with several, the folder holds one folder per platform, `linux_amd64/`)."""
        key = (target, tuple(platforms))
        if key not in self._exports:
            self.read("Dockerfile")
            folder = Path(tempfile.mkdtemp(prefix="export-", dir=self.path.parent))
            try:
                self._exported[key] = build(
                    self.path, target=target, output=folder, progress=False, platforms=platforms
                )
                self._exports[key] = folder
            except StagelabError as error:
                self._exports[key] = error
        return _outcome(self._exports[key])

    def exported(self, target: str | None = None, platforms: tuple[str, ...] = ()) -> BuildResult:
        """Return the BuildResult of `export(target, platforms)`, exporting first if needed."""
        self.export(target, platforms)
        return self._exported[(target, tuple(platforms))]

    def bake(self, bake_file: str = "docker-bake.hcl") -> BakeResult:
        """Bake the learner's bake file's default group once; later calls reuse the outcome."""
        if "bake" not in self._builds:
            definition = self.read(bake_file)
            try:
                self._builds["bake"] = bake(self.path, definition, progress=False)
            except StagelabError as error:
                self._builds["bake"] = error
        return _outcome(self._builds["bake"])

    def variant(self, changes: dict[str, str]) -> Workspace:
        """Return another copy of these files with some of them rewritten ({name: text})."""
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


# ---------------------------------------------------------------- shapes several labs share


def default_image(work: Workspace) -> str:
    """Return the id of the image the default build of the learner's files makes."""
    return work.build().image_id


def builds(title: str = "The image builds", hint: str = READ_THE_FAILURE) -> Criterion:
    """A criterion met when the default build of the learner's files succeeds."""

    def test(work: Workspace) -> str:
        return f"built in {work.build().duration_s:.1f} s"

    return Criterion("builds", title, hint, test)


def prints(
    expected: str,
    *,
    title: str,
    hint: str,
    detail: str | None = None,
    image: Callable[[Workspace], str] = default_image,
) -> Criterion:
    """A criterion met when the image's default command prints `expected` (stripped).

    `image` picks the image from the workspace (default: the default build's); `detail` is
    what a pass reports (default: the output itself).
    """

    def test(work: Workspace) -> str:
        output = run(image(work)).strip()
        if "\n" in expected:
            expect(output == expected, f"it printed:\n{output}\nexpected:\n{expected}")
        else:
            expect(output == expected, f"it printed {output!r}, expected {expected!r}")
        return detail if detail is not None else output.replace("\n", "; ")

    return Criterion("prints", title, hint, test)


def holds_none_of(
    paths: list[str], *, title: str, hint: str, image: Callable[[Workspace], str] = default_image
) -> Criterion:
    """A criterion met when none of these absolute paths exists in the image."""

    def test(work: Workspace) -> str:
        found = existing_paths(image(work), paths)
        expect(not found, f"found {', '.join(found)}")
        return f"none of {', '.join(paths)}"

    return Criterion("holds_none_of", title, hint, test)
