"""Each lab's solution builds as `lab.check()` replays it with no engine, and it does replay.

`make recordings` runs this with STAGELAB_RECORD=1, which records those builds.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

import stagelab as sl
from stagelab import labs

LABS = labs.all_labs()
REPLAY_EVERY_CHECK = """
import json
from stagelab import labs
reports = {lab.slug: lab.check() for lab in labs.all_labs()}
print(json.dumps({slug: [getattr(report.recorded, "replayed", False), repr(report)[-600:]]
                  for slug, report in reports.items()}))
"""


@pytest.mark.engine
@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.slug)
def test_the_solution_builds_as_lab_check_replays_it(docker_engine, lab):
    # The same call as Lab._without_engine: the solution folder, default target and options.
    result = sl.build(lab.solution_path, progress=False)
    assert result.stage_status and not result.replayed


def test_with_no_engine_every_lab_check_shows_the_recorded_solution_build(tmp_path):
    shutil.copytree(labs.labs_root(), tmp_path / "labs")
    env = {
        **os.environ,
        "DOCKER_HOST": "unix:///nonexistent.sock",
        "STAGELAB_HOME": str(tmp_path),
        "STAGELAB_LABS": str(tmp_path / "labs"),
    }
    for name in ("STAGELAB_RECORD", "STAGELAB_RECORDINGS"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", REPLAY_EVERY_CHECK],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    replayed = json.loads(done.stdout.splitlines()[-1])
    assert set(replayed) == {lab.slug for lab in LABS}
    missing = {slug: note for slug, (ok, note) in replayed.items() if not ok}
    assert not missing, (
        f"no replay of these lab solutions: {missing}\nRun `make recordings` "
        "on a machine with Docker and commit src/stagelab/recordings/."
    )
