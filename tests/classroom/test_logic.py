"""The classroom's pure logic: names, passwords, what a home gets, the dashboard's summaries."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest

from stagelab.classroom import accounts, board, hubconfig
from stagelab.classroom.class_lock import holding_class, lock_file
from stagelab.classroom.layout import Account, ClassroomError, ClassroomLayout, learner_names
from stagelab.classroom.preflight import PreflightItem, failed
from stagelab.labs.attempts import parse_attempts

ROOT = Path(__file__).resolve().parents[2]


def test_learner_names_are_numbered_from_01():
    assert learner_names(3) == ["learner01", "learner02", "learner03"]
    for wrong in (0, 100, -2):
        with pytest.raises(ClassroomError, match="--learners"):
            learner_names(wrong)


def test_passwords_are_long_distinct_and_unambiguous():
    made = {accounts.new_password() for _ in range(200)}
    assert len(made) == 200
    for password in made:
        groups = password.split("-")
        assert [len(group) for group in groups] == [4, 4, 4]
        assert set("".join(groups)) <= set(accounts.PASSWORD_ALPHABET)
    assert not set("01ilo") & set(accounts.PASSWORD_ALPHABET)


def test_a_home_gets_the_course_files_and_no_one_s_work(tmp_path):
    labs = tmp_path / "labs"
    lab = labs / "01-fix-the-pipeline"
    for name in (
        "starter/Dockerfile",
        "solution/Dockerfile",
        "checks.py",
        "task.ipynb",
        "task.md",
        "Dockerfile",
        ".backups/1/Dockerfile",
        "__pycache__/x.pyc",
    ):
        (lab / name).parent.mkdir(parents=True, exist_ok=True)
        (lab / name).write_text(name)
    (labs / "README.md").write_text("labs")
    copy = tmp_path / "copy"
    shutil.copytree(labs, copy, ignore=accounts._course_only)
    kept = sorted(str(path.relative_to(copy)) for path in copy.rglob("*") if path.is_file())
    assert kept == [
        "01-fix-the-pipeline/checks.py",
        "01-fix-the-pipeline/solution/Dockerfile",
        "01-fix-the-pipeline/starter/Dockerfile",
        "01-fix-the-pipeline/task.ipynb",
        "01-fix-the-pipeline/task.md",
        "README.md",
    ]


def _account(home: Path) -> Account:
    return ClassroomLayout.under(home / "class").account_of(
        "learner01", os.getuid(), os.getgid(), home
    )


def test_progress_is_summarised_per_lab(tmp_path):
    lines = [
        {"lab": "01", "passed": 2, "total": 4, "time": "t1"},
        {"lab": "01", "passed": 4, "total": 4, "time": "t2"},
        {"lab": "02", "passed": 1, "total": 5, "time": "t3"},
        {"lab": "01", "passed": 3, "total": 4, "time": "t4"},
    ]
    record = ("\n".join(json.dumps(line) for line in lines) + "\nnot json\n[1, 2]\n").encode()
    row = board.learner_row(_account(tmp_path), None, record, board.Moment({"01": ["a"]}))
    assert row["labs"] == {
        "01": {"best": 4, "last": 3, "total": 4, "time": "t4", "attempts": 3, "done": True},
        "02": {"best": 1, "last": 1, "total": 5, "time": "t3", "attempts": 1, "done": False},
    }
    assert row["skipped"] == 2 and row["server_url"] is None


HOSTILE_LINES = [
    b"[" * 200_000,  # nesting that overflows a recursive parser
    b'{"lab": "01", "time": "t", "passed": ' + b"9" * 5000 + b', "total": 4}',
    b'{"lab": "01", "time": "t", "passed": NaN, "total": 4}',
    b'{"lab": "01", "time": "t", "passed": 1e999, "total": 4}',
    b'{"lab": "01", "time": "' + b"x" * 100_000 + b'", "passed": 1, "total": 4}',
    b"\xff\xfe not utf-8",
    b'{"lab": "' + b"L" * 500 + b'", "time": "t", "passed": 1, "total": 4}',
    b'{"lab": "01", "time": "t", "passed": true, "total": 4}',
]


def test_a_hostile_progress_line_is_skipped_and_never_raises():
    good = b'{"lab": "01", "time": "t", "passed": 4, "total": 4}'
    attempts, skipped = parse_attempts(b"\n".join([*HOSTILE_LINES, good]))
    assert attempts == [{"lab": "01", "time": "t", "passed": 4, "total": 4}]
    assert skipped == len(HOSTILE_LINES)


def test_one_learners_record_can_fail_only_their_row(tmp_path):
    learners = [
        ClassroomLayout.under(tmp_path).account_of(name, os.getuid(), os.getgid(), tmp_path)
        for name in ("learner01", "learner02", "learner03")
    ]
    good = b'{"lab": "01", "time": "t", "passed": 4, "total": 4}\n'

    def read(account):
        if account.name == "learner02":
            return b"\n".join(HOSTILE_LINES)
        if account.name == "learner03":
            raise OSError("the read as learner03 did not end")
        return good

    data = board.board_from_accounts(learners, [], [], read)
    rows = {row["name"]: row for row in data["learners"]}
    assert rows["learner01"]["labs"]["01"]["done"]
    assert rows["learner02"]["labs"] == {} and rows["learner02"]["skipped"] == len(HOSTILE_LINES)
    assert rows["learner03"]["error"].startswith("progress record unreadable")
    assert data["details"] is True
    json.dumps(data)  # the answer serialises


def test_only_a_per_user_origin_gives_a_row_a_link():
    on_one_origin = {"servers": {"": {"ready": True, "url": "/user/learner01/"}}}
    assert board.server_link(on_one_origin) is None
    own = "https://learner01.class.example.org/user/learner01/"
    assert board.server_link({"servers": {"": {"full_url": own}}}) == own


@pytest.mark.parametrize(
    "model, state",
    [
        (None, "stopped"),
        ({"servers": {}}, "stopped"),
        ({"servers": {"": {"ready": True}}}, "running"),
        ({"servers": {"": {"ready": False, "pending": "spawn"}}}, "pending"),
        ({"pending": "spawn", "servers": {}}, "pending"),
    ],
)
def test_server_state_from_the_hub_user_model(model, state):
    assert board.server_state(model) == state


def test_a_preflight_item_says_how_to_fix_only_when_missing():
    assert PreflightItem("x", True, fix="do y").line() == "[ok] x"
    assert PreflightItem("x", False, "why", "do y").line() == "[MISSING] x: why\n      fix: do y"
    note = PreflightItem("x", False, "why", "do y", required=False)
    assert note.line().startswith("[note] x: why") and failed([note]) == []


def test_the_hub_config_and_services_are_where_the_hub_looks():
    # The config the hub loads, its spawner and the dashboard are modules of the package.
    package = ROOT / "src" / "stagelab" / "classroom"
    for name in ("jupyterhub_config.py", "hubconfig.py", "spawner.py", "dashboard.py"):
        assert (package / name).is_file()
    spawner_module, spawner_class = hubconfig.SPAWNER_CLASS.rsplit(".", 1)
    assert importlib.util.find_spec(spawner_module).origin == str(package / "spawner.py")
    assert f"class {spawner_class}(" in (package / "spawner.py").read_text()
    assert importlib.util.find_spec(hubconfig.DASHBOARD_MODULE).origin == str(
        package / "dashboard.py"
    )
    # Top-level classroom/ keeps what other tools read: pip's and npm's pins.
    for name in ("requirements.txt", "package.json"):
        assert (ROOT / "classroom" / name).is_file()
    assert not list((ROOT / "classroom").glob("*.py"))
    pins = (ROOT / "classroom" / "requirements.txt").read_text()
    assert "jupyterhub==" in pins and "jupyterhub-idle-culler==" in pins
    proxy = json.loads((ROOT / "classroom" / "package.json").read_text())
    assert proxy["dependencies"]["configurable-http-proxy"].count(".") == 2


def test_one_command_at_a_time_changes_a_class(tmp_path):
    """A second `up` or `down` while one holds the class stops at once, saying which holds it;
    the lock is free again when the first ends."""
    layout = ClassroomLayout.under(tmp_path)
    with holding_class(layout, "down --purge"):
        with pytest.raises(ClassroomError, match=r"another `stagelab classroom down --purge "):
            with holding_class(layout, "up"):
                pass
    with holding_class(layout, "up"):
        assert "up (pid" in lock_file(layout).read_text()
