"""Record real builds and container calls on the engine, then replay them with no engine."""

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.engine
NO_ENGINE = "unix:///nonexistent.sock"

# Runs twice, the same code: first on the engine with recording on, then with no engine.
LESSON = textwrap.dedent('''
    import html, json, sys, tempfile
    from pathlib import Path
    import stagelab as sl
    from stagelab import containers, engine
    from stagelab.progress import Progress

    SALT, BUILDER = sys.argv[1], sys.argv[2]
    DOCKERFILE = f"""
    FROM busybox:1.36 AS base
    RUN echo {SALT} > /salt
    FROM base AS app
    COPY app.txt /app.txt
    FROM busybox:1.36 AS unused
    RUN echo never
    FROM app AS final
    RUN cat /app.txt
    FROM scratch AS export
    COPY --from=app /app.txt /salt /files/
    """

    class Events(Progress):
        def __init__(self):
            self.events = []
        def stage(self, ref, state, step=""):
            self.events.append([ref, state])

    report = {"unique": [sl.unique(f"test-{SALT}"), sl.unique(f"test-{SALT}")]}
    for name in ("first", "again"):
        watcher = Events()
        result = sl.build(DOCKERFILE, files={"app.txt": "app\\n"}, builder=BUILDER,
                          target="final", tag=f"stagelab-replay-test:{SALT}", progress=watcher)
        report[name] = {"status": result.stage_status, "image": result.image_id,
                        "size": result.size_bytes, "replayed": result.replayed,
                        "engine": result.recorded_engine,
                        "steps": [[s.stage, s.line, s.status] for s in result.steps],
                        "command": result.command, "log": result.log,
                        "events": watcher.events}
        why = result.why()
        ran = [step for step in why.steps if not step.instruction.startswith("FROM")]
        report[name]["why"] = str(why)
        report[name]["graph_says_why"] = why.stage("unused").text in html.unescape(
            result.graph()._repr_html_())
        report[name]["timeline_says_why"] = all(
            step.reason.text in html.unescape(sl.timeline(result)._repr_html_()) for step in ran)
    image = report["first"]["image"]
    report["run"] = sl.run(image, "cat /salt /app.txt")
    report["run_by_tag"] = sl.run(f"stagelab-replay-test:{SALT}", ["cat", "/salt"])
    report["status"] = sl.run_status(image, "sh -c 'echo oops; exit 3'")
    report["files"] = sl.files(image, "/bin")[:5]
    report["history"] = sl.history(image)
    report["size_call"] = containers.size(image)
    report["config"] = sl.image_config(image)["Cmd"]
    try:
        sl.build(DOCKERFILE.replace("cat /app.txt", "cat /missing"), files={"app.txt": "app\\n"},
                 builder=BUILDER, target="final", progress=False)
    except sl.BuildFailed as failed:
        report["failed"] = {"stage": failed.stage, "line": failed.line,
                            "exit_code": failed.exit_code, "message": str(failed),
                            "command": failed.command,
                            "replayed": failed.result.replayed}
    except sl.EngineUnavailable as error:
        report["failed_unrecorded"] = str(error)
    # The classic builder has no --output.
    with tempfile.TemporaryDirectory() as out:
        if BUILDER == "buildkit":
            exported = sl.build(DOCKERFILE, files={"app.txt": "app\\n"}, builder=BUILDER,
                                output=out, target="export", progress=False)
            report["exported"] = sorted(str(p.relative_to(out)) for p in Path(out).rglob("*"))
            report["exported_app"] = (Path(out) / "files" / "app.txt").read_text()
            report["exported_replayed"] = exported.replayed
    if engine.ping() is None:
        try:
            sl.build(DOCKERFILE, files={"app.txt": "changed\\n"}, builder=BUILDER,
                     target="final", progress=False)
        except sl.EngineUnavailable as error:
            report["unrecorded"] = str(error)
    print(json.dumps(report))
''')


def _run(script, salt, builder, env):
    done = subprocess.run(
        [sys.executable, str(script), salt, builder],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1]), done.stderr


@pytest.fixture(scope="module", params=["buildkit", "classic"])
def recorded_and_replayed(request, docker_engine, tmp_path_factory):
    builder = request.param
    folder = tmp_path_factory.mktemp(f"recordings-{builder}")
    script = folder / "lesson.py"
    script.write_text(LESSON)
    salt = f"{builder}-{time.time_ns()}"
    env = {**os.environ, "STAGELAB_RECORDINGS": str(folder / "recordings")}
    env.pop("DOCKER_HOST", None)
    real, _ = _run(script, salt, builder, {**env, "STAGELAB_RECORD": "1"})
    replayed, stderr = _run(script, salt, builder, {**env, "DOCKER_HOST": NO_ENGINE})
    yield real, replayed, stderr, docker_engine
    subprocess.run(
        ["docker", "rmi", f"stagelab-replay-test:{salt}"], capture_output=True, check=False
    )


def test_a_replayed_build_reports_what_the_real_build_did(recorded_and_replayed):
    real, replayed, _, version = recorded_and_replayed
    for name in ("first", "again"):
        assert not real[name]["replayed"]
        assert replayed[name]["replayed"]
        assert replayed[name]["engine"] == version["Version"]
        for field in ("status", "image", "size", "steps"):
            assert replayed[name][field] == real[name][field], (name, field)
    # The command that ran it, and the engine's log, come back from the recording.
    command = real["first"]["command"]
    assert command[:3] in (["docker", "buildx", "build"], ["DOCKER_BUILDKIT=0", "docker", "build"])
    assert "--target" in command and replayed["first"]["command"] == command
    assert replayed["first"]["log"] and real["first"]["log"].endswith(replayed["first"]["log"])
    assert replayed["failed"]["command"] == real["failed"]["command"]
    assert real["failed"]["command"][:3] == command[:3]
    # The second build was cached on the engine; its replay says so too.
    assert real["first"]["status"]["base"] == "built"
    assert replayed["again"]["status"]["base"] == "cached"


def test_the_watcher_gets_the_recorded_stage_transitions(recorded_and_replayed):
    real, replayed, _, _ = recorded_and_replayed
    events = replayed["first"]["events"]
    assert ["base", "running"] in events
    last = {ref: state for ref, state in events}
    for ref, status in real["first"]["status"].items():
        expected = {"built": "done", "cached": "cached"}.get(status)
        assert last.get(ref) == expected, (ref, events)


def test_container_calls_replay_their_recorded_outputs(recorded_and_replayed):
    real, replayed, _, _ = recorded_and_replayed
    for field in ("run", "run_by_tag", "status", "files", "history", "size_call", "config"):
        assert replayed[field] == real[field], field
    assert real["status"] == [3, "oops\n"]


def test_unique_values_come_back_in_the_order_they_were_recorded(recorded_and_replayed):
    real, replayed, _, _ = recorded_and_replayed
    first, second = real["unique"]
    assert first != second
    assert replayed["unique"] == real["unique"]


def test_a_local_export_is_written_again(recorded_and_replayed):
    real, replayed, _, _ = recorded_and_replayed
    if "exported" not in real:
        pytest.skip("the classic builder has no --output")
    assert replayed["exported"] == real["exported"] == ["files", "files/app.txt", "files/salt"]
    assert replayed["exported_app"] == "app\n"
    assert replayed["exported_replayed"]


def test_the_banner_says_it_is_a_replay_and_of_which_engine(recorded_and_replayed):
    _, _, stderr, version = recorded_and_replayed
    assert (
        f"Replayed from a real build on Docker Engine {version['Version']}, recorded on " in stderr
    )
    assert "no Docker engine is reachable here" in stderr


def test_a_build_without_recording_says_why_and_how_to_run_it(recorded_and_replayed):
    _, replayed, _, _ = recorded_and_replayed
    message = replayed["unrecorded"]
    assert "no recording of this exact build" in message
    assert "stagelab engine ensure" in message and "make lab" in message
    assert "make recordings" in message
    assert "The nearest recording differs in context files app.txt." in message


def test_a_failed_build_replays_as_the_same_failure(recorded_and_replayed):
    real, replayed, _, _ = recorded_and_replayed
    assert real["failed"]["exit_code"] == 1 and real["failed"]["stage"] == "final"
    assert "failed" in replayed, (
        "no recording of the failed build: build() must call "
        "replay.record(request, failed) when a build fails"
    )
    assert replayed["failed"]["replayed"]
    for field in ("stage", "line", "exit_code", "message"):
        assert replayed["failed"][field] == real["failed"][field], field


def test_a_replayed_build_gives_the_recorded_reasons_and_says_so(recorded_and_replayed):
    real, replayed, _, _ = recorded_and_replayed
    for name in ("first", "again"):
        heading, _, reasons = replayed[name]["why"].partition("\n")
        assert heading.endswith("(replayed: the step reasons are recorded)"), heading
        assert "replayed" not in real[name]["why"].partition("\n")[0]
        said = [line for line in reasons.splitlines() if line.startswith("note: Replayed")]
        assert said and "come from the recording of a real build" in said[0], reasons
        kept = [line for line in reasons.splitlines() if line not in said]
        assert kept == real[name]["why"].splitlines()[1:], name
        # The stage graph's tooltips and the timeline's bars carry the same reasons.
        for run in (real, replayed):
            assert run[name]["graph_says_why"] and run[name]["timeline_says_why"], name
