"""The Kubernetes dashboard's rows, from hub users, pods and posted progress (pure logic).

The documents below have the shapes of the Kubernetes API's PodList (core/v1) and JupyterHub's
GET /hub/api/users and GET /hub/api/user, reduced to the fields that are read.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

from stagelab.classroom.board import MAX_RECORD_BYTES
from stagelab.classroom.kubernetes.board import (
    board_from_pods,
    engine_state,
    learners_on_hub,
    pods_by_learner,
    posted_attempts,
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


def test_posted_attempts_go_under_the_tokens_owner_never_a_name_in_the_body():
    attempt = {"lab": "02", "time": "2026-11-29T10:00:00Z", "passed": 1, "total": 3}
    other = {**attempt, "user": "learner02"}  # a name in the body changes nothing
    body = "\n".join([json.dumps(attempt), "not json", '{"no": "lab"}', json.dumps(other)])
    owner = {"kind": "user", "name": "learner01"}
    assert posted_attempts(owner, body.encode(), {"instructor"}) == (
        "learner01",
        [attempt, other],
    )
    assert posted_attempts(owner, b"", {"instructor"}) == ("learner01", [])


def test_posts_from_no_user_a_service_an_instructor_or_too_big_are_refused():
    body = b'{"lab": "02", "time": "t", "passed": 1, "total": 3}'
    instructors = {"instructor"}
    assert posted_attempts(None, body, instructors) is None  # the hub knows no such token
    assert posted_attempts({"kind": "service", "name": "dashboard"}, body, instructors) is None
    assert posted_attempts({"kind": "user", "name": "instructor"}, body, instructors) is None
    assert posted_attempts({"kind": "user", "name": ""}, body, instructors) is None
    learner = {"kind": "user", "name": "learner01"}
    assert posted_attempts(learner, b"x" * (MAX_RECORD_BYTES + 1), instructors) is None


def test_the_board_has_a_row_per_learner_and_leaves_out_instructors_and_services():
    users = [
        hub_user("learner02", ready=None),
        hub_user("learner01"),
        hub_user("instructor"),
        hub_user("dashboard", kind="service"),
    ]
    assert learners_on_hub(users, {"instructor"}) == ["learner01", "learner02"]
    criteria = [SimpleNamespace(key=key, title=key.title()) for key in ("a", "b", "c")]
    labs = [SimpleNamespace(number="02", slug="02-shrink-it", criteria=criteria)]
    data = board_from_pods(
        users,
        {"learner01": pod("learner01", engine={"ready": True, "state": {"running": {}}})},
        {"learner01": [{"lab": "02", "time": "t", "passed": 3, "total": 3}]},
        labs,
        {"instructor"},
    )
    assert data["labs"] == [
        {
            "number": "02",
            "slug": "02-shrink-it",
            "criteria": 3,
            "keys": [{"key": key, "title": key.title()} for key in ("a", "b", "c")],
        }
    ]
    # The heatmap: every criterion of lab 02 passed by learner01, by no one else.
    assert data["totals"]["02"]["a"] == {"passed": 1, "failing": 0, "stuck": 0}
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
