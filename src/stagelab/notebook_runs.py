"""Run notebooks with no Docker engine, several at once: every build replays its recording.

What Binder does, for many notebooks in one go: each runs top to bottom in a kernel of its own
whose DOCKER_HOST points at a socket nothing listens on, so stagelab finds no engine and replays
(replay.py). The site (`make site`) renders these runs, and the test suite runs every lesson and
lab task this way once per session and reads them for its replay, site and browser checks.

Each notebook gets its own stagelab home and temporary folder (TMPDIR): runs at the same time
share nothing, and what a notebook leaves in its temporary folder after its kernel stops is
reported (a lesson removes what it creates, STYLE_GUIDE.md). Kernels talk over local sockets
(ipc), so kernels starting at the same moment never race for a TCP port.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from . import recording

# A socket nothing listens on: stagelab finds no engine and replays its recordings.
NO_ENGINE = "unix:///nonexistent.sock"
CELL_TIMEOUT_S = 600
# A tagged cell may raise: nbclient, nbval and papermill all honour this tag.
RAISES = "raises-exception"
# Papermill's tags: the cell of a notebook's defaults, and the one it adds after it.
PARAMETERS, INJECTED = "parameters", "injected-parameters"


@dataclass
class NotebookRun:
    """One notebook to run: its file, the folder it runs in, and a short unique name.

    `folder` is the kernel's working directory (relative paths in the notebook start there);
    `name` names its kernel, home and temporary folder under the runs' work folder.
    """

    source: Path
    folder: Path
    name: str
    # Values that replace the defaults of the notebook's `parameters` cell, as papermill's do.
    parameters: dict = field(default_factory=dict)
    notebook: nbformat.NotebookNode | None = None
    # What the notebook left in its temporary folder once its kernel stopped (names, sorted).
    leftovers: list[str] = field(default_factory=list)
    # Why the run stopped before the last cell (a timeout, a dead kernel); None when it ran.
    stopped: str | None = None
    seconds: float = 0.0

    def errors(self) -> list[tuple[int, nbformat.NotebookNode]]:
        """Return (cell number from 1, error output) for each cell that raised, though not
        tagged `raises-exception`: what makes `pytest --nbval-lax` fail a notebook."""
        found = []
        for number, cell in enumerate(self.notebook.cells if self.notebook else [], start=1):
            if cell.cell_type != "code" or RAISES in cell.metadata.get("tags", []):
                continue
            found += [(number, out) for out in cell.outputs if out.output_type == "error"]
        return found

    def raise_for_errors(self) -> None:
        """Raise nbclient's CellExecutionError for the first failed cell, or RuntimeError when
        the run stopped early; return quietly when every cell ran as it should."""
        if self.stopped:
            raise RuntimeError(f"{self.source.name} stopped: {self.stopped}")
        for number, error in self.errors():
            cell = self.notebook.cells[number - 1]
            raise CellExecutionError.from_cell_and_msg(cell, error)


def no_engine_environment(**extra: str) -> dict[str, str]:
    """Return this process's environment with no engine and no recording, plus `extra`."""
    env = {**os.environ, "DOCKER_HOST": NO_ENGINE, **extra}
    for name in (recording.RECORD_ENV, recording.DIRECTORY_ENV):
        env.pop(name, None)
    return env


def run_notebooks(
    runs: list[NotebookRun],
    work: Path,
    workers: int = 2,
    environment: dict[str, str] | None = None,
    cell_timeout_s: int = CELL_TIMEOUT_S,
) -> list[NotebookRun]:
    """Run each notebook of `runs` with no engine, `workers` at a time; return `runs`, filled in.

    `work` (created if missing) holds each run's kernel files, home and temporary folder;
    `environment` adds variables to every kernel's. The files in `runs` are only read. A cell
    that raises does not stop its notebook (see NotebookRun.errors); a cell still running
    after `cell_timeout_s` seconds, or a dead kernel, stops it (NotebookRun.stopped).
    """
    work.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="notebook") as pool:
        list(pool.map(lambda run: _run(run, work, environment or {}, cell_timeout_s), runs))
    return runs


def _run(run: NotebookRun, work: Path, extra: dict[str, str], cell_timeout_s: int) -> None:
    tmp, home, kernels = work / "tmp" / run.name, work / "homes" / run.name, work / "kernels"
    for folder in (tmp, home, kernels):
        folder.mkdir(parents=True, exist_ok=True)
    variant = {recording.VARIANT_ENV: variant_key(run.parameters)} if run.parameters else {}
    env = no_engine_environment(**extra, **variant, STAGELAB_HOME=str(home), TMPDIR=str(tmp))
    run.notebook = with_parameters(nbformat.read(run.source, as_version=4), run.parameters)
    kernel = AsyncKernelManager(
        kernel_name="python3", transport="ipc", connection_file=str(kernels / f"{run.name}.json")
    )
    client = NotebookClient(
        run.notebook,
        km=kernel,
        timeout=cell_timeout_s,
        allow_errors=True,
        store_widget_state=False,
        resources={"metadata": {"path": str(run.folder)}},
    )
    started = time.monotonic()
    try:
        # Each thread runs its own event loop: one kernel's messages never wait for another's.
        asyncio.run(client.async_execute(env=env, cleanup_kc=True))
    except Exception as error:  # a timeout or a dead kernel: the run says why it stopped
        run.stopped = f"{type(error).__name__}: {str(error)[-2000:]}"
    run.seconds = time.monotonic() - started
    run.leftovers = sorted(path.name for path in tmp.iterdir())


def variant_key(parameters: dict) -> str:
    """Return how a lesson variant's parameters name its recordings (VARIANT_ENV's value)."""
    return json.dumps(parameters, sort_keys=True)


def with_parameters(notebook: nbformat.NotebookNode, parameters: dict) -> nbformat.NotebookNode:
    """Return the notebook with a cell setting `parameters` after its `parameters` cell, as
    papermill injects them; unchanged when there are none.

    Raises ValueError when there are parameters and the notebook has no `parameters` cell.
    """
    if not parameters:
        return notebook
    tagged = [
        index
        for index, cell in enumerate(notebook.cells)
        if PARAMETERS in cell.metadata.get("tags", [])
    ]
    if not tagged:
        raise ValueError("the notebook has no cell tagged `parameters` to follow")
    source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    injected = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED]})
    notebook.cells.insert(tagged[0] + 1, injected)
    return notebook
