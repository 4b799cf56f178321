"""The Kubernetes dashboard's rows, from hub users, pods and progress records (pure logic).

The documents below have the shapes of the Kubernetes API's PodList (core/v1), JupyterHub's
GET /hub/api/users and Jupyter Server's contents model, reduced to the fields that are read.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

from stagelab.classroom.kubernetes.board import (
    attempts_from_contents,
    board_from_pods,
    engine_state,
    learners_on_hub,
    pods_by_learner,
    progress_url,
)


def pod(user: str, ip: str | None = "10.1.2.3", engine: dict | None = None) -> dict:
    statuses = [{"name": "notebook", "ready": True, "state": {"running": {}}}]
    if engine is not None:
        statuses.append({"name": "engine", **engine})
    return {
        "metadata": {"name": f"jupyter-{user}", "annotations": {"hub.jupyter.org/username": user}},
        "status": {"podIP": ip, "containerStatuses": statuses},
    }


def hub_user(name: str, ready: bool = True, kind: str = "user") -> dict:
    servers = {"": {"ready": ready, "url": f"/user/{name}/"}} if ready is not None else {}
    return {"kind": kind, "name": name, "servers": servers, "last_activity": "2026-11-29T10:00:00Z"}


def test_pods_are_found_by_their_users_unescaped_name():
    found = pods_by_learner(
        {"items": [pod("learner01"), pod("learner.02"), {"metadata": {"name": "other"}}]}
    )
    assert sorted(found) == ["learner.02", "learner01"]
    assert pods_by_learner({"items": None}) == {}


def test_the_engine_is_up_only_when_its_container_is_ready():
    assert engine_state(pod("a", engine={"ready": True, "state": {"running": {}}})) == "up"
    assert engine_state(pod("a", engine={"ready": False, "state": {"running": {}}})) == "starting"
    assert engine_state(pod("a", engine={"ready": False, "state": {"waiting": {}}})) == "down"
    assert engine_state(pod("a")) == "down"
    assert engine_state(None) == "down"


def test_progress_is_read_from_the_learners_own_server():
    assert progress_url(pod("learner01"), hub_user("learner01")) == (
        "http://10.1.2.3:8888/user/learner01/api/contents/.stagelab/progress.jsonl"
        "?type=file&format=text&content=1"
    )
    assert progress_url(pod("learner01", ip="fd00::5"), hub_user("learner01")).startswith(
        "http://[fd00::5]:8888/user/learner01/"
    )
    assert progress_url(pod("learner01"), hub_user("learner01", ready=False)) is None
    assert progress_url(pod("learner01", ip=None), hub_user("learner01")) is None
    assert progress_url(None, hub_user("learner01")) is None


def test_a_contents_answer_gives_the_attempts_it_holds():
    attempt = {"lab": "02", "time": "2026-11-29T10:00:00Z", "passed": 1, "total": 3}
    lines = [attempt, "not json", {"no": "lab"}]
    content = "\n".join(json.dumps(line) if isinstance(line, dict) else line for line in lines)
    assert attempts_from_contents({"type": "file", "format": "text", "content": content}) == [
        attempt
    ]
    assert attempts_from_contents({"type": "directory", "content": []}) == []
    assert attempts_from_contents(None) == []


def test_the_board_has_a_row_per_learner_and_leaves_out_instructors_and_services():
    users = [
        hub_user("learner02", ready=None),
        hub_user("learner01"),
        hub_user("instructor"),
        hub_user("dashboard", kind="service"),
    ]
    assert learners_on_hub(users, {"instructor"}) == ["learner01", "learner02"]
    labs = [SimpleNamespace(number="02", slug="02-shrink-it", criteria=[1, 2, 3])]
    data = board_from_pods(
        users,
        {"learner01": pod("learner01", engine={"ready": True, "state": {"running": {}}})},
        {"learner01": [{"lab": "02", "time": "t", "passed": 3, "total": 3}]},
        labs,
        {"instructor"},
    )
    assert data["labs"] == [{"number": "02", "slug": "02-shrink-it", "criteria": 3}]
    first, second = data["learners"]
    assert (first["name"], first["server"], first["engine"], first["pod"]) == (
        "learner01",
        "running",
        "up",
        "jupyter-learner01",
    )
    assert first["labs"]["02"]["done"] is True
    assert (second["name"], second["server"], second["engine"], second["pod"], second["labs"]) == (
        "learner02",
        "stopped",
        "down",
        None,
        {},
    )
