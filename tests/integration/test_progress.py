"""Real builds tell the progress display each stage's transitions, on both builders."""

import pytest

import stagelab as sl
from stagelab import progress as boards

pytestmark = pytest.mark.engine

DOCKERFILE = """\
FROM busybox:1.36 AS base
RUN echo base > /base.txt

FROM base AS build
RUN sleep 1 && echo built > /app.txt

FROM busybox:1.36 AS unused
RUN echo never

FROM busybox:1.36 AS final
COPY --from=build /app.txt /app.txt
"""


class Recording(boards.BoardProgress):
    """Keeps every transition the engine reported, and what finish() was given."""

    def __init__(self):
        super().__init__()
        self.events = []
        self.finished = None

    def changed(self, row):
        self.events.append((row.ref, row.state))

    def done(self):
        self.finished = (self.result, self.error)


def states(progress, ref):
    return [state for stage, state in progress.events if stage == ref]


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_fresh_build_reports_running_then_done(docker_engine, builder):
    progress = Recording()
    result = sl.build(DOCKERFILE, builder=builder, no_cache=True, progress=progress)
    assert progress.finished == (result, None)
    for ref in ("base", "build", "final"):
        assert "running" in states(progress, ref), progress.events
        assert states(progress, ref)[-1] == "done", progress.events
    final = {ref: row.state for ref, row in progress.rows.items()}
    expected_unused = "skipped" if builder == "buildkit" else "done"
    assert final == {"base": "done", "build": "done", "unused": expected_unused, "final": "done"}
    assert progress.rows["build"].elapsed(0) >= 0.9  # the engine's own timing of `sleep 1`


def test_cached_build_reports_cached(docker_engine):
    sl.build(DOCKERFILE, progress=False)
    progress = Recording()
    result = sl.build(DOCKERFILE, progress=progress)
    assert result.stage_status["build"] == "cached"
    assert "cached" in states(progress, "build")
    assert progress.rows["build"].state == "cached"
    assert progress.rows["unused"].state == "skipped"


def test_failed_build_marks_the_failed_stage(docker_engine):
    progress = Recording()
    broken = DOCKERFILE.replace("sleep 1 && echo built", "no-such-tool")
    with pytest.raises(sl.BuildFailed) as failure:
        sl.build(broken, no_cache=True, progress=progress)
    assert progress.finished[1] is failure.value
    assert "failed" in states(progress, "build")
    assert progress.rows["build"].state == "failed"
    assert progress.rows["final"].state != "done"
    assert "Build failed in stage 'build'" in progress.error_text()


def test_terminal_progress_on_a_real_build(docker_engine, tmp_path):
    out = (tmp_path / "progress.txt").open("w+")
    result = sl.build(DOCKERFILE, target="build", progress=boards.TerminalProgress(out))
    out.seek(0)
    text = out.read()
    assert "target build" in text
    assert "image size" not in text  # text summary: caption and a row per stage
    assert f"{result.size_mb:.1f} MB" in text
    assert text.count("\n  base ") >= 1 and "skipped" in text
