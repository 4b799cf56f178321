"""The instructor's dashboard on Kubernetes, as data: a row per learner from the hub, the
learner's pod and the progress record their server serves.

On one server the dashboard reads homes and engine pid files (stagelab.classroom.board); in a
cluster each learner's files live in their own pod. So the dashboard (kubernetes/dashboard.py)
asks the Kubernetes API for the learners' pods, reads whether each pod's engine container is
ready, and fetches ~/.stagelab/progress.jsonl through the learner's own server (Jupyter
Server's contents API, with the dashboard's `access:servers` scope). This module turns those
answers into the rows the page shows; it does no I/O.
"""

from __future__ import annotations

from ...labs.attempts import parse_attempts
from ..board import lab_columns, lab_progress, server_state

# The sidecar container's name in config.yaml (singleuser.extraContainers).
ENGINE_CONTAINER = "engine"
# KubeSpawner's single-user server port (KubeSpawner.port, default 8888), and the label it
# selects its pods by (kubespawner/spawner.py, PodReflector).
SERVER_PORT = 8888
POD_SELECTOR = "component=singleuser-server"
# KubeSpawner annotates each pod with its user's unescaped name.
USERNAME_ANNOTATION = "hub.jupyter.org/username"
PROGRESS_PATH = ".stagelab/progress.jsonl"


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


def progress_url(pod: dict | None, hub_user: dict | None) -> str | None:
    """Return the contents-API URL of the learner's progress record on their pod's server.

    None unless the hub says the server is ready and the pod has an address. The path is
    the server's own (`/user/NAME/`, from the hub's user model); Jupyter Server's REST API:
    GET {base}api/contents/{path}?type=file&format=text&content=1.
    """
    server = ((hub_user or {}).get("servers") or {}).get("", {})
    address = ((pod or {}).get("status") or {}).get("podIP")
    if not server.get("ready") or not address or not server.get("url"):
        return None
    if ":" in address:
        address = f"[{address}]"  # an IPv6 address in a URL (RFC 3986)
    return (
        f"http://{address}:{SERVER_PORT}{server['url']}api/contents/{PROGRESS_PATH}"
        "?type=file&format=text&content=1"
    )


def attempts_from_contents(answer: dict | None) -> list[dict]:
    """Return the attempts in a contents-API answer for the progress record ([] for none)."""
    if not answer or answer.get("type") != "file" or not isinstance(answer.get("content"), str):
        return []
    return parse_attempts(answer["content"].encode())[0]


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
    each learner's attempts (missing: none seen, their server is stopped), `labs` stagelab
    Lab objects. A row: name, server, engine ("up", "starting", "down"), pod, last_activity,
    labs ({number: lab_progress row}).
    """
    by_name = {user.get("name"): user for user in hub_users}
    rows = []
    for name in learners_on_hub(hub_users, instructors):
        pod = pods.get(name)
        rows.append(
            {
                "name": name,
                "server": server_state(by_name[name]),
                "engine": engine_state(pod),
                "pod": ((pod or {}).get("metadata") or {}).get("name"),
                "last_activity": by_name[name].get("last_activity"),
                "labs": lab_progress(attempts.get(name, [])),
            }
        )
    return {"labs": lab_columns(labs), "learners": rows}
