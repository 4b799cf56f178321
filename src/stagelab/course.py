"""The course's folders, found when asked: one object owns them (as nbgrader's course directory).

A course folder holds `notebooks/` (the lessons) and `labs/`: a stagelab checkout, the course
installed in the Kubernetes learner image (/opt/stagelab/course), or a learner's own copy in
their home (a classroom account's, a learner pod's). Nothing here is read at import: each
`Course.find()` reads the environment and the working directory of that moment.

Where each folder comes from, the first that applies:
- the course folder: the one given (a class's settings name it); else the nearest folder at or
  above the working directory that holds notebooks/ and labs/ (a kernel runs in the notebook's
  folder); else the checkout this package runs from (an editable install: CHECKOUT/src/stagelab);
  else the user's home when it holds a copy of the course;
- labs/: $STAGELAB_LABS, else the course folder's labs/;
- the user's stagelab state (lab progress, the images stagelab made): $STAGELAB_HOME, else
  ~/.stagelab;
- the recordings builds replay with no engine: $STAGELAB_RECORDINGS, else the package's own;
- in a classroom, the class's base-image archives: $STAGELAB_CLASS_IMAGES (class_images.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .errors import StagelabError

HOME_ENV = "STAGELAB_HOME"
LABS_ENV = "STAGELAB_LABS"
# The folder of a class's base-image archives, which the spawner names in a learner's server.
CLASS_IMAGES_ENV = "STAGELAB_CLASS_IMAGES"
RECORDINGS_ENV = "STAGELAB_RECORDINGS"
# The package's own folder: where it runs from, not a setting.
PACKAGE = Path(__file__).resolve().parent


def is_course_folder(folder: Path) -> bool:
    """Tell whether `folder` holds a course: both notebooks/ and labs/."""
    return (folder / "notebooks").is_dir() and (folder / "labs").is_dir()


def package_checkout() -> Path | None:
    """Return the checkout this package runs from (an editable install of CHECKOUT/src/stagelab
    whose CHECKOUT holds pyproject.toml), or None for an installed copy (site-packages)."""
    checkout = PACKAGE.parents[1]
    if PACKAGE.parent.name == "src" and (checkout / "pyproject.toml").is_file():
        return checkout
    return None


@dataclass(frozen=True)
class Course:
    """One course's folders and this user's stagelab state, as found by `Course.find()`.

    Fields hold what the environment said when it was found: `start`, the working folder the
    search for the course folder begins in (None when it no longer exists); `user_home`, the
    user's home (None when there is none); the folders named by $STAGELAB_HOME, $STAGELAB_LABS
    and $STAGELAB_RECORDINGS (None: unset); `given`, a course folder named explicitly. The
    course folder itself is searched for on first use of `root`, `notebooks` or `labs`.
    """

    start: Path | None
    user_home: Path | None
    state_override: Path | None = None
    labs_override: Path | None = None
    recordings_override: Path | None = None
    given: Path | None = None

    @classmethod
    def find(
        cls,
        root: Path | str | None = None,
        environ: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Course:
        """Return the course as this moment's environment (default: os.environ) and working
        directory (default: os.getcwd()) say; `root` names the course folder explicitly."""
        environ = os.environ if environ is None else environ

        def named(variable: str) -> Path | None:
            value = environ.get(variable)
            return Path(value).expanduser() if value else None

        return cls(
            start=Path(cwd) if cwd is not None else _working_folder(),
            user_home=Path(environ["HOME"]) if environ.get("HOME") else _account_home(),
            state_override=named(HOME_ENV),
            labs_override=named(LABS_ENV),
            recordings_override=named(RECORDINGS_ENV),
            given=Path(root) if root is not None else None,
        )

    @property
    def state(self) -> Path:
        """Return this user's stagelab state folder: $STAGELAB_HOME, else ~/.stagelab (it may
        not exist yet). Raises StagelabError when neither is set (no home)."""
        if self.state_override is not None:
            return self.state_override
        if self.user_home is None:
            raise StagelabError("No home folder to keep stagelab's state in: set STAGELAB_HOME.")
        return self.user_home / ".stagelab"

    @property
    def recordings(self) -> Path:
        """Return the folder of recordings builds replay: $STAGELAB_RECORDINGS, else the
        package's own."""
        return self.recordings_override or PACKAGE / "recordings"

    @cached_property
    def found(self) -> Path | None:
        """Return the course folder (see the module's docstring for where it is looked for), or
        None when there is none."""
        if self.given is not None:
            return self.given
        for folder in [self.start, *self.start.parents] if self.start else []:
            if is_course_folder(folder):
                return folder
        checkout = package_checkout()
        if checkout is not None and is_course_folder(checkout):
            return checkout
        if self.user_home is not None and is_course_folder(self.user_home):
            return self.user_home
        return None

    @property
    def root(self) -> Path:
        """Return the course folder.

        Raises StagelabError, saying where one is looked for, when there is none.
        """
        if self.found is None:
            raise StagelabError(
                f"No stagelab course here: neither {self.start} nor a folder above it holds "
                "notebooks/ and labs/, nor does your home, and stagelab does not run from a "
                "checkout. Work inside a copy of the course (or a stagelab checkout)."
            )
        return self.found

    @property
    def notebooks(self) -> Path:
        """Return the lessons' folder; StagelabError when there is no course folder."""
        return self.root / "notebooks"

    @property
    def labs(self) -> Path:
        """Return the labs' folder: $STAGELAB_LABS, else the course folder's labs/.

        Raises StagelabError, saying how to point at one, when that folder does not exist.
        """
        folder = self.labs_override or (self.found / "labs" if self.found else None)
        if folder is None or not folder.is_dir():
            where = (
                f"STAGELAB_LABS points to {folder}, which does not exist"
                if self.labs_override
                else f"{self.root / 'labs'} does not exist"
                if self.found
                else f"no course folder holds it (looked from {self.start} up)"
            )
            raise StagelabError(
                f"No labs folder: {where}. Set STAGELAB_LABS to the labs/ folder of a stagelab "
                "checkout, or work inside a copy of the course."
            )
        return folder

    @property
    def classroom(self) -> Path:
        """Return the course folder's classroom/ (the hub's pins, the Kubernetes files)."""
        return self.root / "classroom"

    @property
    def progress_file(self) -> Path:
        """Return this user's record of lab checks (state/progress.jsonl)."""
        return self.state / "progress.jsonl"


def _working_folder() -> Path | None:
    try:
        return Path(os.getcwd())
    except FileNotFoundError:  # the folder was removed while this process worked in it
        return None


def _account_home() -> Path | None:
    try:
        return Path.home()
    except (RuntimeError, KeyError):  # no $HOME and no entry in the user database
        return None


def class_archive_name(standin: str) -> str:
    """Return the file name of a base image's archive in a class's folder: its stand-in's name
    (`stagelab/offline-gcc:12-bookworm`) made a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", standin) + ".tar"


def class_archive(standin: str) -> Path | None:
    """Return the class's archive of the base image with this stand-in, None outside a
    classroom or when the class has none."""
    folder = os.environ.get(CLASS_IMAGES_ENV, "")
    path = Path(folder) / class_archive_name(standin) if folder else None
    return path if path is not None and path.is_file() else None
