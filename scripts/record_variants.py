"""Record the lesson variants: each parameter set a lesson invites its reader to try.

A lesson lists them in its source's front matter (`stagelab: replays: [{builder: classic}]`,
which becomes the notebook's metadata). On mybinder.org there is no engine, so a variant
replays only if its builds were recorded: `make recordings` runs this after recording the
defaults. Each variant runs on the engine through papermill, with its values injected after
the lesson's `parameters` cell; its recordings join those of the defaults (recording.py,
VARIANT_ENV), so both replay.

    python scripts/record_variants.py           # every lesson's variants
    python scripts/record_variants.py 04 07     # only these lessons'
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import papermill

from stagelab import recording
from stagelab.notebook_runs import variant_key
from stagelab.site import lesson_variants

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    """Run the chosen lessons' variants with recording on; return the exit status."""
    wanted = set(argv)
    variants = [
        (source, values)
        for source, values in lesson_variants(ROOT)
        if not wanted or source.name[:2] in wanted
    ]
    os.environ[recording.RECORD_ENV] = "1"
    os.environ.setdefault(recording.SINCE_ENV, str(time.time()))
    failed = []
    with tempfile.TemporaryDirectory(prefix="stagelab-variants-") as work:
        for number, (source, values) in enumerate(variants):
            os.environ[recording.VARIANT_ENV] = variant_key(values)
            started = time.monotonic()
            try:
                papermill.execute_notebook(
                    str(source),
                    str(Path(work) / f"{number}-{source.name}"),
                    parameters=values,
                    kernel_name="python3",
                    cwd=str(source.parent),
                    progress_bar=False,
                )
            except papermill.PapermillExecutionError as error:
                failed.append(f"{source.name} {values}: {error.ename}: {error.evalue[:300]}")
            seconds = time.monotonic() - started
            print(f"recorded {source.name} with {values} ({seconds:.0f} s)", flush=True)
    for line in failed:
        print(f"FAILED {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
