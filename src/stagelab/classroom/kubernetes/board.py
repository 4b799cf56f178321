"""The instructor's dashboard on Kubernetes, as data: a row per learner from the hub, the
learner's pod and the attempts their checks posted.

On one server the dashboard reads homes and engine pid files (stagelab.classroom.board); in a
cluster each learner's files live in their own pod, and the dashboard has no access to any
learner's server (a learner's own config could capture a token sent there). So the flow goes
the other way: each lab check in a learner's pod posts the learner's progress record to the
dashboard (labs/attempts.post_progress), with the learner's own server token, and the
dashboard asks the hub whose token it is (kubernetes/dashboard.py). The dashboard also asks
the Kubernetes API for the learners' pods and reads whether each pod's engine container is
ready. This module turns those answers into the rows the page shows; it does no I/O.
"""

from __future__ import annotations

from ...labs.attempts import parse_attempts
from ..board import MAX_RECORD_BYTES, Moment, board_document, lab_progress, server_state
from ..heatmap import lab_criteria_of, learner_heatmap

# The sidecar container's name in config.yaml (singleuser.extraContainers).
ENGINE_CONTAINER = "engine"
# KubeSpawner's single-user server port (KubeSpawner.port, default 8888), and the label it
# selects its pods by (kubespawner/spawner.py, PodReflector).
SERVER_PORT = 8888
POD_SELECTOR = "component=singleuser-server"
# Where a learner's check posts their progress record (config.yaml: singleuser.extraEnv).
ATTEMPTS_PATH = "api/attempts"
# KubeSpawner annotates each pod with its user's unescaped name.
USERNAME_ANNOTATION = "hub.jupyter.org/username"


def pods_by_learner(pod_list: dict) -> dict[str, dict]:
    """Map user names to their pods, from a Kubernetes PodList (GET .../pods as JSON)."""
    pods = {}
    for pod in pod_list.get("items") or []:
        name = ((pod.get("metadata") or {}).get("annotations") or {}).get(USERNAME_ANNOTATION)
        if name:
            pods[name] = pod
    return pods


def engine_state(pod: dict | None) -> str:
    """Return "up" when the pod's engine container is ready, "starting" while it runs but is
    not ready yet (its readiness probe: `docker version`), else "down"."""
    statuses = ((pod or {}).get("status") or {}).get("containerStatuses") or []
    for status in statuses:
        if status.get("name") == ENGINE_CONTAINER:
            if status.get("ready"):
                return "up"
            return "starting" if "running" in (status.get("state") or {}) else "down"
    return "down"


def posted_attempts(
    token_owner: dict | None, body: bytes, instructors: set[str]
) -> tuple[str, list[dict]] | None:
    """Return whose attempts a POST to api/attempts carries, and the attempts, or None when
    it is refused: the token is no user's (the hub's GET /hub/api/user answer `token_owner`
    is None, or a service's), the user is an instructor, or the body is over MAX_RECORD_BYTES.
    The name is the hub's, never the body's: a learner can only post their own attempts.
    Lines that are not attempts are skipped (labs.attempts.parse_attempts)."""
    if not token_owner or token_owner.get("kind", "user") != "user":
        return None
    name = token_owner.get("name")
    if not isinstance(name, str) or not name or name in instructors:
        return None
    if len(body) > MAX_RECORD_BYTES:
        return None
    return name, parse_attempts(body)[0]


def learners_on_hub(hub_users: list[dict], instructors: set[str]) -> list[str]:
    """Return the hub's users who are not instructors, sorted: the rows of the board."""
    return sorted(
        user["name"]
        for user in hub_users
        if user.get("kind", "user") == "user" and user.get("name") not in instructors
    )


def board_from_pods(
    hub_users: list[dict],
    pods: dict[str, dict],
    attempts: dict[str, list[dict]],
    labs: list,
    instructors: set[str],
) -> dict:
    """Return the dashboard's data, in the single-server board's shape (labs, learners:
    board.board_from_accounts).

    `hub_users` is the hub's GET /hub/api/users answer, `pods` pods_by_learner(), `attempts`
    each learner's attempts as last posted (missing: none posted since the dashboard
    started), `labs` stagelab Lab objects. A row: name, server, engine ("up", "starting",
    "down"), pod, last_activity, labs ({number: lab_progress row}).
    """
    by_name = {user.get("name"): user for user in hub_users}
    moment = Moment(lab_criteria_of(labs))
    rows = []
    for name in learners_on_hub(hub_users, instructors):
        pod = pods.get(name)
        mine = attempts.get(name, [])
        rows.append(
            {
                "name": name,
                "server": server_state(by_name[name]),
                "engine": engine_state(pod),
                "pod": ((pod or {}).get("metadata") or {}).get("name"),
                "last_activity": by_name[name].get("last_activity"),
                "labs": lab_progress(mine),
                "heatmap": learner_heatmap(moment.lab_criteria, mine, [], moment.now, moment.rule),
            }
        )
    return board_document(labs, rows, moment)
