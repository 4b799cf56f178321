"""Build checks, targets and outline through `--call`, on the real engine."""

import subprocess

import pytest

import stagelab as sl
from stagelab import calls, engine

pytestmark = pytest.mark.engine

CLEAN = """\
FROM busybox:1.36 AS base
RUN echo base > /base.txt

FROM base AS release
COPY app.txt /app.txt
"""

MISCASED = """\
FROM busybox:1.36 as base
RUN echo base > /base.txt

FROM base AS release
COPY app.txt /app.txt
"""

# The comment before a FROM becomes the target's description when it starts with the name.
DESCRIBED = """\
ARG GREETING=hello
# base is the shared start
FROM busybox:1.36 AS base
ARG GREETING
# WHO says who is greeted
ARG WHO=world
RUN echo "$GREETING $WHO" > /greeting

FROM base AS release
ARG FLAVOUR=plain
COPY app.txt /app.txt
"""


@pytest.fixture(scope="module", autouse=True)
def _engine(docker_engine):
    return docker_engine


@pytest.fixture
def no_engine(monkeypatch):
    """Point stagelab at an address where no engine answers; undo it afterwards."""

    def switch_off():
        monkeypatch.delenv("STAGELAB_RECORD", raising=False)
        monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
        engine.docker_host.cache_clear()

    yield switch_off
    monkeypatch.undo()
    engine.docker_host.cache_clear()


def test_a_clean_dockerfile_has_no_warnings():
    assert sl.check(CLEAN, files={"app.txt": "app\n"}) == []


def test_from_as_casing_is_reported_with_its_line_and_doc_page():
    warnings = sl.check(MISCASED, files={"app.txt": "app\n"})
    assert [(w.rule, w.line) for w in warnings] == [("FromAsCasing", 1)]
    assert warnings[0].url.startswith("https://docs.docker.com/")
    assert "FromAsCasing (line 1)" in str(warnings[0])


def test_check_of_a_context_directory(tmp_path):
    (tmp_path / "Dockerfile").write_text(MISCASED)
    (tmp_path / "app.txt").write_text("app\n")
    assert [w.rule for w in sl.check(tmp_path)] == ["FromAsCasing"]


def test_check_names_the_unknown_instruction_and_its_line():
    with pytest.raises(sl.DockerfileError) as raised:
        sl.check("FROM busybox:1.36\nRUNN echo typo\n")
    assert raised.value.line == 2
    assert "RUNN" in str(raised.value)


def test_targets_lists_every_named_stage_with_default_and_description():
    report = sl.call(DESCRIBED, "targets", files={"app.txt": "app\n"})
    by_name = {t["name"]: t for t in report["targets"]}
    assert list(by_name) == ["base", "release"]
    assert by_name["release"].get("default") is True
    assert by_name["base"]["description"] == "is the shared start"
    assert by_name["base"]["base"] == "busybox:1.36"
    assert "sources" not in report


def test_outline_lists_the_build_args_a_target_uses():
    release = sl.call(DESCRIBED, "outline", files={"app.txt": "app\n"})
    assert release["name"] == "release"
    # release is built FROM base, so base's build args are release's too.
    assert {a["name"] for a in release["args"]} == {"FLAVOUR", "GREETING", "WHO"}
    base = sl.call(DESCRIBED, "outline", target="base", files={"app.txt": "app\n"})
    args = {a["name"]: a for a in base["args"]}
    assert set(args) == {"GREETING", "WHO"}
    assert args["GREETING"]["value"] == "hello"
    assert args["WHO"]["description"] == "says who is greeted"


def test_outline_shows_a_build_arg_given_on_the_command_line():
    base = sl.call(
        DESCRIBED, "outline", target="base", build_args={"WHO": "class"}, files={"app.txt": "app\n"}
    )
    assert {a["name"]: a.get("value") for a in base["args"]}["WHO"] == "class"


def test_text_format_is_what_buildx_prints():
    text = sl.call(DESCRIBED, "targets", format="text", files={"app.txt": "app\n"})
    assert text.splitlines()[0].split() == ["TARGET", "DESCRIPTION"]
    assert "release (default)" in text
    checked = sl.call(MISCASED, "check", format="text", files={"app.txt": "app\n"})
    assert "WARNING: FromAsCasing" in checked
    assert "stagelab-context" not in checked  # the temporary folder's path is hidden


def test_unknown_target_and_method_get_short_messages():
    with pytest.raises(sl.DockerfileError):
        sl.call(CLEAN, "outline", target="nope", files={"app.txt": "app\n"})
    with pytest.raises(ValueError, match="method must be one of"):
        calls.call(CLEAN, "lint")


def test_features_says_this_engine_has_checks_and_call():
    assert sl.features() == {
        "heredocs": True,
        "named contexts": True,
        "--check": True,
        "--call": True,
    }


def test_a_recorded_check_replays_with_no_engine(tmp_path, monkeypatch, no_engine):
    monkeypatch.setenv("STAGELAB_RECORDINGS", str(tmp_path))
    monkeypatch.setenv("STAGELAB_RECORD", "1")
    recorded = sl.check(MISCASED, files={"app.txt": "app\n"})
    outline = sl.call(DESCRIBED, "outline", target="base", files={"app.txt": "app\n"})
    assert sl.features()["--check"] is True
    no_engine()
    assert sl.check(MISCASED, files={"app.txt": "app\n"}) == recorded
    assert sl.call(DESCRIBED, "outline", target="base", files={"app.txt": "app\n"}) == outline
    assert sl.features()["--check"] is True
    # Another context is another question: no recording, and the advice says how to get one.
    with pytest.raises(sl.EngineUnavailable, match="make recordings"):
        sl.check(MISCASED, files={"app.txt": "changed\n"})


def test_with_no_engine_and_no_recording_nothing_is_supported(tmp_path, monkeypatch, no_engine):
    monkeypatch.setenv("STAGELAB_RECORDINGS", str(tmp_path))
    no_engine()
    assert not any(sl.features().values())


def test_a_buildx_without_call_gets_advice_not_a_parse_error():
    older = subprocess.CompletedProcess(
        ["docker", "buildx", "build"],
        1,
        stdout="",
        stderr="unknown flag: --call\nSee 'docker buildx build --help'.\n",
    )
    with pytest.raises(sl.StagelabError, match=r"buildx 0\.15 or later"):
        calls.call_report("check", "json", older.args, older)
