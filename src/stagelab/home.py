"""Where stagelab keeps one user's own state: $STAGELAB_HOME, else ~/.stagelab.

It holds the progress file of lab attempts and the record of the images stagelab made (so
`stagelab clean` removes those and nothing else).
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "STAGELAB_HOME"


def stagelab_home() -> Path:
    """Return the folder of this user's stagelab state (it may not exist yet)."""
    home = os.environ.get(HOME_ENV)
    return Path(home).expanduser() if home else Path.home() / ".stagelab"
