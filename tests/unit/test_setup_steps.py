"""`stagelab setup`'s step runner and the steps it plans, with fake steps (pure logic)."""

from __future__ import annotations

import re
import threading

import pytest

from stagelab import images, machine, standins
from stagelab.errors import ProvisionError
from stagelab.machine import SetupStep, run_steps, setup_steps

# A step that waits for another that never comes would hang the runner: fail it instead.
WAIT_S = 10


class Log:
    """What the steps did, in order, from any thread; and what the runner said."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events: list[str] = []
        self.said: list[str] = []

    def add(self, event: str) -> None:
        with self.lock:
            self.events.append(event)

    def step(self, name: str, note: str | None = None, needs=(), fails: Exception | None = None):
        def run():
            self.add(f"start {name}")
            if fails is not None:
                raise fails
            self.add(f"end {name}")
            return note

        return SetupStep(name, run, needs=tuple(needs))

    def run(self, steps, workers: int = 6) -> None:
        run_steps(steps, say=self.said.append, workers=workers)


def test_steps_that_wait_for_nothing_run_side_by_side():
    both_running = threading.Barrier(2, timeout=WAIT_S)  # broken unless both wait at once

    def meet():
        both_running.wait()

    log = Log()
    log.run([SetupStep("a", meet), SetupStep("b", meet)])
    done = re.compile(r"setup: [ab]: done \(\d+\.\d s\)")
    assert all(done.fullmatch(line) for line in log.said), log.said
    assert sorted(line.split(":")[1].strip() for line in log.said) == ["a", "b"]


def test_one_worker_runs_one_step_at_a_time():
    running, most = [0], [0]
    lock = threading.Lock()

    def step():
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        threading.Event().wait(0.05)
        with lock:
            running[0] -= 1

    run_steps([SetupStep(str(n), step) for n in range(4)], say=lambda line: None, workers=1)
    assert most == [1]


def test_a_step_starts_after_the_steps_it_needs_and_not_before():
    log = Log()
    log.run(
        [
            log.step("image", needs=["engine start", "prepare"]),
            log.step("engine start", needs=["engine download"]),
            log.step("engine download"),
            log.step("prepare"),
        ]
    )
    events = log.events
    for later, earlier in [
        ("image", "engine start"),
        ("image", "prepare"),
        ("engine start", "engine download"),
    ]:
        assert events.index(f"start {later}") > events.index(f"end {earlier}"), events
    assert len(events) == 8, "every step ran once"


def test_each_step_is_said_with_its_note_or_done_and_its_time():
    log = Log()
    log.run([log.step("engine start", "Docker Engine 28.5.2 runs"), log.step("buildx")])
    assert sorted(re.sub(r"\(\d+\.\d s\)", "(T)", line) for line in log.said) == [
        "setup: buildx: done (T)",
        "setup: engine start: Docker Engine 28.5.2 runs (T)",
    ]


def test_a_failed_steps_dependants_do_not_run_while_the_others_finish():
    log = Log()
    failure = ProvisionError("Could not download the engine")
    with pytest.raises(ProvisionError, match="Could not download the engine") as raised:
        log.run(
            [
                log.step("engine download", fails=failure),
                log.step("engine start", needs=["engine download"]),
                log.step("image busybox:1.36", needs=["engine start"]),
                log.step("system packages", "installed dot"),
            ]
        )
    assert raised.value is failure
    assert "start engine start" not in log.events
    assert "start image busybox:1.36" not in log.events
    assert "end system packages" in log.events, "what does not wait for the failure runs"
    said = [re.sub(r"\d+\.\d s", "T s", line) for line in log.said]
    assert sorted(said) == [
        "setup: engine download: FAILED after T s",
        "setup: system packages: installed dot (T s)",
    ]


def test_the_first_failure_is_raised_once_nothing_more_can_run():
    first_failed = threading.Event()
    log = Log()

    def first():
        first_failed.set()
        raise ProvisionError("first")

    def second():
        assert first_failed.wait(WAIT_S)
        raise ProvisionError("second")

    with pytest.raises(ProvisionError, match="first"):
        log.run([SetupStep("one", first), SetupStep("two", second)])
    assert sorted(line.split(":")[1] for line in log.said) == [" one", " two"]
    assert all("FAILED" in line for line in log.said)


def test_a_need_that_is_no_step_is_refused_before_anything_runs():
    log = Log()
    with pytest.raises(ValueError, match=r"unknown steps: \['engine'\]"):
        log.run([log.step("buildx"), log.step("image", needs=["engine"])])
    assert log.events == [] and log.said == []


def test_no_steps_is_nothing_to_do():
    log = Log()
    log.run([])
    assert log.said == []


def test_missing_base_images_wait_for_the_engine_and_the_stand_ins_they_build_on(tmp_path):
    steps = machine._image_steps(list(images.BASE_IMAGES), ("engine start",), tmp_path)
    needs = {step.name: set(step.needs) for step in steps}
    assert needs == {
        "prepare busybox:1.36": set(),
        "image busybox:1.36": {"engine start", "prepare busybox:1.36"},
        "prepare debian:bookworm-slim": set(),
        "image debian:bookworm-slim": {"engine start", "prepare debian:bookworm-slim"},
        "image gcc:12-bookworm": {"engine start", "image debian:bookworm-slim"},
        "image python:3.11-slim-bookworm": {"engine start", "image debian:bookworm-slim"},
    }
    (tmp_path / "again").mkdir()
    only_gcc = machine._image_steps([images.BY_OFFICIAL[images.GCC]], (), tmp_path / "again")
    assert [(s.name, s.needs) for s in only_gcc] == [("image gcc:12-bookworm", ())], (
        "a stand-in already there is not waited for"
    )
    unknown = machine._image_steps(None, ("engine start",), tmp_path)
    assert [(s.name, s.needs) for s in unknown] == [("base images", ("engine start",))]


@pytest.fixture
def bare_debian(monkeypatch, tmp_path):
    """A Debian machine as root with no engine, no buildx, no images, no graphviz."""
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(machine.engine, "ping", lambda: None)
    monkeypatch.setattr(machine.engine, "can_provision", lambda: True)
    monkeypatch.setattr(machine.engine, "buildx_version", lambda: None)
    monkeypatch.setattr(machine.shutil, "which", lambda tool: None)
    monkeypatch.setattr(machine.Provisioner, "unpacked", lambda self: False)
    monkeypatch.setattr(machine.Provisioner, "system_packages", staticmethod(lambda: ["iptables"]))
    monkeypatch.setattr(machine, "DOCKER_DATA", tmp_path / "no-docker-data")
    return tmp_path


def test_a_bare_machine_plans_every_step_each_after_what_it_needs(bare_debian):
    said = []
    steps = setup_steps(browser=True, work=bare_debian, say=said.append)
    needs = {step.name: set(step.needs) for step in steps}
    assert steps[0].name == "system packages"
    assert needs["system packages"] == set()
    assert needs["engine download"] == set()
    assert needs["engine start"] == {"engine download", "system packages"}
    assert needs["buildx"] == {"engine download"}
    for image in images.BASE_IMAGES:
        assert {"engine start", "buildx"} <= needs[f"image {image.official}"]
    assert said == [], "nothing is there to report"


def test_an_engine_that_answers_with_everything_gets_no_steps(monkeypatch, tmp_path):
    monkeypatch.setattr(machine.engine, "ping", lambda: {"Version": "28.5.2"})
    monkeypatch.setattr(machine.engine, "docker_host", lambda: "unix:///var/run/docker.sock")
    monkeypatch.setattr(machine.engine, "buildx_version", lambda: "0.29.1")
    monkeypatch.setattr(machine.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(machine.standins, "needed", lambda extras=(): [])
    monkeypatch.setattr(machine.images, "present", lambda name: "offline" not in name)
    said = []
    assert setup_steps(browser=True, work=tmp_path, say=said.append) == []
    assert said == [
        "setup: engine: Docker Engine 28.5.2 answers at unix:///var/run/docker.sock",
        "setup: buildx: 0.29.1",
        "setup: base images present: "
        + ", ".join(
            f"{image.official} (official)" for image in standins.wanted(standins.course_images())
        ),
    ]


def test_no_engine_where_none_may_be_installed_says_how_to_get_one(bare_debian, monkeypatch):
    monkeypatch.setattr(machine.engine, "can_provision", lambda: False)
    monkeypatch.setattr(machine.engine, "advice_no_engine", lambda: "Start Docker Engine.")
    with pytest.raises(ProvisionError, match="Start Docker Engine"):
        setup_steps(browser=False, work=bare_debian, say=lambda line: None)
