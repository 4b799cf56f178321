"""Each lab's solution builds as `lab.check()` replays it with no engine.

`make recordings` runs this with STAGELAB_RECORD=1, which records those builds.
"""

import pytest

import stagelab as sl
from stagelab import labs

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("lab", labs.all_labs(), ids=lambda lab: lab.slug)
def test_the_solution_builds_as_lab_check_replays_it(docker_engine, lab):
    # The same call as Lab._without_engine: the solution folder, default target and options.
    result = sl.build(lab.solution_path, progress=False)
    assert result.stage_status and not result.replayed
