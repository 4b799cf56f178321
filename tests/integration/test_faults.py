"""Bad input and faults, on the real engine: short advice, nothing hangs, nothing of the user's
is removed, nothing reaches a Dockerfile unescaped."""

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import stagelab as sl
from stagelab import cleanup, engine

pytestmark = pytest.mark.engine
STAGELAB = [str(Path(sys.executable).with_name("stagelab"))]


def _cli(*args, env=None, timeout=120, cwd=None):
    return subprocess.run(
        STAGELAB + list(args),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture
def own_home(tmp_path, monkeypatch):
    """A STAGELAB_HOME of this test's own: clean() sees only what this test made."""
    monkeypatch.setenv("STAGELAB_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def silent_socket(tmp_path):
    """A unix socket that accepts connections and never answers, like a hung engine."""
    path = tmp_path / "hung.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"unix://{path}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


@pytest.mark.parametrize("command", [["clean"], ["images", "list"], ["images", "ensure"]])
@pytest.mark.parametrize("where", ["nothing there", "hung engine"])
def test_engine_commands_without_an_engine_give_advice_within_seconds(
    command, where, tmp_path, silent_socket
):
    host = silent_socket if where == "hung engine" else f"unix://{tmp_path}/none.sock"
    began = time.monotonic()
    done = _cli(*command, env={"DOCKER_HOST": host}, timeout=60)
    assert time.monotonic() - began < 20
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) <= 4
    assert f"No Docker engine answers at {host}" in done.stderr


def test_clean_removes_what_stagelab_made_and_spares_images_built_from_it(own_home, tmp_path):
    salt = str(time.time_ns())
    ours = sl.build(
        f"FROM busybox:1.36 AS base\nRUN echo {salt} > /salt\nFROM base\nRUN echo ours > /ours\n",
        builder="classic",
        tag=f"stagelab-test/ours:{salt}",
        progress=False,
    )
    # The learner's own image, built FROM stagelab's with plain docker build: it inherits
    # stagelab's labels, and a container of theirs uses it.
    (tmp_path / "Dockerfile").write_text(
        f"FROM stagelab-test/ours:{salt}\nRUN echo mine {salt} > /mine\n"
    )
    tag = f"learner/own:{salt}"
    subprocess.run(
        ["docker", "build", "-q", "-t", tag, str(tmp_path)],
        check=True,
        capture_output=True,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )
    client = engine.client()
    mine = client.images.get(tag)
    assert mine.labels["io.stagelab.created-by"] == "stagelab", "labels are inherited"
    container = client.containers.create(tag, command=["true"])
    try:
        report = cleanup.clean(say=lambda line: None)
        assert client.images.get(tag).id == mine.id, "the learner's image stays"
        assert client.containers.get(container.id), "and so does their container"
        assert sl.run(tag, "cat /mine").startswith("mine")
        assert report["images"] >= 1 and not sl.image_exists(ours.image_id)
    finally:
        container.remove(force=True)
        client.images.remove(tag)


def test_clean_keeps_an_image_a_container_uses(own_home):
    built = sl.build(f"FROM busybox:1.36\nRUN echo {time.time_ns()} > /x\n", progress=False)
    client = engine.client()
    container = client.containers.create(built.image_id, command=["true"])
    try:
        assert cleanup.clean(say=lambda line: None)["kept"] == 1
        assert sl.image_exists(built.image_id)
    finally:
        container.remove(force=True)
    assert cleanup.clean(say=lambda line: None)["images"] == 1
    assert not sl.image_exists(built.image_id)


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_a_user_name_never_becomes_dockerfile_text(monkeypatch, builder):
    name = 'evil"name\nRUN touch /pwned'
    monkeypatch.setenv("USER", name)
    built = sl.build(
        f"FROM busybox:1.36\nRUN echo {time.time_ns()} > /x\n", builder=builder, progress=False
    )
    assert sl.image_config(built.image_id)["Labels"]["io.stagelab.user"] == name
    assert sl.files(built.image_id, "/pwned") == []


def test_run_stops_a_command_that_runs_too_long():
    built = sl.build("FROM busybox:1.36\n", progress=False)
    began = time.monotonic()
    with pytest.raises(sl.RunTimedOut, match="still running after 2 s"):
        sl.run(built.image_id, "sleep 100000", timeout=2)
    assert time.monotonic() - began < 30
    left = engine.client().containers.list(all=True, filters={"ancestor": built.image_id})
    assert not [c for c in left if "sleep" in " ".join(c.attrs["Args"] or [])]


@pytest.mark.parametrize(
    "call",
    [
        lambda: sl.run("stagelab-test/none:1", "true"),
        lambda: sl.files("stagelab-test/none:1"),
        lambda: sl.history("stagelab-test/none:1"),
        lambda: sl.image_config("stagelab-test/none:1"),
    ],
    ids=["run", "files", "history", "image_config"],
)
def test_an_image_that_does_not_exist_is_named_with_advice(call):
    with pytest.raises(sl.ImageUnavailable) as caught:
        call()
    assert "stagelab-test/none:1" in str(caught.value) and "sl.build" in str(caught.value)


def test_files_of_a_path_to_a_file_lists_that_file():
    built = sl.build(
        "FROM busybox:1.36\nRUN echo hi > /hi && mkdir /d && touch /d/a\n", progress=False
    )
    assert sl.files(built.image_id, "/hi") == ["/hi"]
    assert sl.files(built.image_id, "/d") == ["/d/a"]
    assert sl.files(built.image_id, "/missing") == []


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_a_failing_step_whose_output_repeats_its_command_shows_the_log_tail(builder):
    text = f"FROM busybox:1.36\nRUN echo about to fail {time.time_ns()} && exit 3\n"
    with pytest.raises(sl.BuildFailed) as caught:
        sl.build(text, builder=builder, progress=False)
    assert "last lines of the log" in str(caught.value)
    assert "about to fail" in str(caught.value).split("last lines of the log", 1)[1]


def test_the_command_line_names_a_missing_file_or_folder(tmp_path):
    plan = _cli("plan", "/missing")
    assert plan.returncode == 1 and "Cannot read /missing" in plan.stderr
    assert "Traceback" not in plan.stderr
    built = _cli("build", "/nonexistent")
    assert built.returncode == 1 and "No folder /nonexistent" in built.stderr
    assert "unknown instruction" not in built.stderr


def test_progress_skips_lines_that_are_not_attempts(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    good = b'{"lab": "01", "time": "2026-11-29T10:00:00+00:00", "passed": 4, "total": 4}\n'
    (home / "progress.jsonl").write_bytes(
        good + b'[1,2,3]\nnull\n{"lab": "02"}\n\xff\xfe not utf-8\n"text"\n'
    )
    done = _cli("progress", env={"STAGELAB_HOME": str(home)})
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "5 lines of" in done.stdout and "skipped" in done.stdout
    row = next(line for line in done.stdout.splitlines() if line.startswith("01-"))
    assert row.split()[1] == "passed"


def _docker_build(context: str, *flags: str, cwd, classic: bool = False):
    """Run docker's own build as a user would; BuildKit's output goes nowhere (no image)."""
    command = ["docker", "build", "-q", *flags, context]
    if not classic:
        command = ["docker", "buildx", "build", "-q", "--output", "type=tar,dest=/dev/null"]
        command += [*flags, context]
    done = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "DOCKER_BUILDKIT": "0" if classic else "1"},
    )
    if classic and done.returncode == 0:
        subprocess.run(["docker", "rmi", done.stdout.strip()], capture_output=True, check=False)
    return done


@pytest.mark.parametrize("classic", [False, True], ids=["buildkit", "classic"])
def test_dash_f_is_read_from_the_current_folder_as_docker_reads_it(own_home, tmp_path, classic):
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "a.txt").write_text(f"dash-f {tmp_path}\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "Dockerfile").write_text("FROM scratch\nCOPY a.txt /a.txt\n")
    builder = ["--builder", "classic"] if classic else []
    assert _docker_build("ctx", "-f", "other/Dockerfile", cwd=tmp_path, classic=classic)
    done = _cli("build", "ctx", "-f", "other/Dockerfile", *builder, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # Off a terminal, the summary a terminal's board ends with, not a Python repr.
    assert "<BuildResult" not in done.stdout and "target last stage" in done.stdout
    assert re.search(r"^  0 +(built|cached) ", done.stdout, re.MULTILINE), done.stdout
    # From inside the context, other/Dockerfile names nothing: docker fails, and so do we.
    inside = tmp_path / "ctx"
    assert _docker_build(".", "-f", "other/Dockerfile", cwd=inside, classic=classic).returncode
    done = _cli("build", ".", "-f", "other/Dockerfile", *builder, cwd=inside)
    assert done.returncode == 1 and f"no Dockerfile at {inside}/other/Dockerfile" in done.stderr
    sl.clean()


@pytest.mark.parametrize(
    ("text", "engine_says"),
    [("", "cannot be empty"), (" \n\t\n", "file with no instructions")],
    ids=["0-bytes", "blank"],
)
def test_an_empty_dockerfile_gets_what_both_builders_say(tmp_path, text, engine_says):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "Dockerfile").write_text(text)
    for classic in (False, True):
        refused = _docker_build("empty", cwd=tmp_path, classic=classic)
        assert refused.returncode and engine_says in refused.stderr
    for command in (["build", "empty"], ["plan", "empty/Dockerfile"]):
        done = _cli(*command, cwd=tmp_path)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert "Dockerfile line 1: " in done.stderr and engine_says in done.stderr


def test_a_mistyped_folder_is_named_in_the_command_line_s_words(tmp_path):
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "Dockerfile").write_text("FROM scratch\n")
    for name in ("nope", "sub/nope", "ok/../nope", "FORM"):
        done = _cli("build", name, cwd=tmp_path)
        assert done.returncode == 1 and f"No folder {name}: give the build context" in done.stderr
        assert "instruction" not in done.stderr and "text itself" not in done.stderr
    done = _cli("build", "ok/Dockerfile", cwd=tmp_path)
    assert "ok/Dockerfile is a file: give its folder, and -f its name" in done.stderr
    assert "dockerfile=" not in done.stderr


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_a_copy_source_outside_the_build_context_is_explained(tmp_path, builder):
    (tmp_path / "secret.txt").write_text("outside\n")
    (tmp_path / "ctx").mkdir()
    dockerfiles = {
        "Dockerfile.up": "FROM scratch\nCOPY ../secret.txt /s\n",
        "Dockerfile.missing": "FROM scratch\nCOPY missing.txt /s\n",
        "Dockerfile.from": "FROM scratch AS a\nFROM scratch\nCOPY --from=a /nope /s\n",
    }
    for name, text in dockerfiles.items():
        (tmp_path / "ctx" / name).write_text(text)
    # What each builder says (moby builder/dockerfile/copy.go; BuildKit reads ../x as /x).
    engine_says = {
        "buildkit": ['"/secret.txt": not found', '"/missing.txt": not found'],
        "classic": ["forbidden path outside the build context", "file not found in build context"],
    }[builder]
    for name, said in zip(("Dockerfile.up", "Dockerfile.missing"), engine_says):
        with pytest.raises(sl.BuildFailed) as caught:
            sl.build(tmp_path / "ctx", dockerfile=name, builder=builder)
        assert said in str(caught.value) and "line 2" in str(caught.value)
        assert "`..` cannot leave it" in str(caught.value)
    with pytest.raises(sl.BuildFailed) as caught:  # a stage's missing file is no context's fault
        sl.build(tmp_path / "ctx", dockerfile="Dockerfile.from", builder=builder)
    assert "nope" in str(caught.value) and "build context" not in str(caught.value)
