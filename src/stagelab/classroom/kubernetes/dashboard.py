"""The instructor's dashboard in a Kubernetes classroom: the single-server dashboard's page and
login (classroom/dashboard.py), with its board read from the cluster (board.board_from_pods).

It runs in the hub's pod, from the learner image (config.yaml: hub.extraContainers), as the
JupyterHub service `dashboard`: `python -m stagelab.classroom.kubernetes.dashboard --course
/opt/stagelab/course --instructor instructor`. Each refresh it asks the hub for the users, the
Kubernetes API for the learners' pods (with the hub pod's service account, which may list pods
in its namespace: the chart's hub Role), and each running server for its learner's progress
record (the service's token carries `access:servers`). Progress last seen is kept while a
server is stopped. Kubernetes' API from a pod:
kubernetes.io/docs/tasks/run-application/access-api-from-pod/
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from urllib.parse import quote

from jupyterhub.services.auth import HubOAuthenticated
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.web import RequestHandler, authenticated

from ...course import Course
from ...labs import all_labs
from ..dashboard import hub_users, serve
from ..layout import INSTRUCTOR
from .board import (
    POD_SELECTOR,
    attempts_from_contents,
    board_from_pods,
    learners_on_hub,
    pods_by_learner,
    progress_url,
)
from .layout import KUBERNETES_DASHBOARD_MODULE

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
REQUEST_TIMEOUT_S = 5


async def learner_pods() -> dict[str, dict]:
    """Return the learners' pods by user name, from the Kubernetes API."""
    namespace = (SERVICE_ACCOUNT / "namespace").read_text().strip()
    # Read on every call: a projected service account token is replaced before it expires.
    token = (SERVICE_ACCOUNT / "token").read_text().strip()
    url = (
        f"https://{os.environ['KUBERNETES_SERVICE_HOST']}:"
        f"{os.environ['KUBERNETES_SERVICE_PORT']}/api/v1/namespaces/{namespace}/pods"
        f"?labelSelector={quote(POD_SELECTOR)}"
    )
    answer = await AsyncHTTPClient().fetch(
        HTTPRequest(
            url,
            headers={"Authorization": f"Bearer {token}"},
            ca_certs=str(SERVICE_ACCOUNT / "ca.crt"),
            request_timeout=REQUEST_TIMEOUT_S,
        )
    )
    return pods_by_learner(json.loads(answer.body))


async def learner_attempts(url: str) -> list[dict] | None:
    """Return the attempts the learner's server serves ([] with no record yet), or None when
    the server does not answer."""
    request = HTTPRequest(
        url,
        request_timeout=REQUEST_TIMEOUT_S,
        headers={"Authorization": f"token {os.environ['JUPYTERHUB_API_TOKEN']}"},
    )
    try:
        answer = await AsyncHTTPClient().fetch(request)
    except HTTPClientError as error:
        return [] if error.code == 404 else None
    except OSError:
        return None
    return attempts_from_contents(json.loads(answer.body))


class PodBoardHandler(HubOAuthenticated, RequestHandler):
    """The board as JSON, for the page of classroom/dashboard.py.

    Its application's settings give `course` (the Course whose labs are the columns),
    `instructors` (names that are not rows) and `last_seen` (each learner's attempts as last
    read from their server, kept while it is stopped).
    """

    @authenticated
    async def get(self):
        """Answer with board.board_from_pods() for the hub's learners."""
        course, instructors = self.settings["course"], self.settings["instructors"]
        last_seen = self.settings["last_seen"]
        users = await hub_users()
        pods = await learner_pods()
        by_name = {user["name"]: user for user in users}
        for name in learners_on_hub(users, instructors):
            url = progress_url(pods.get(name), by_name[name])
            attempts = await learner_attempts(url) if url else None
            if attempts is not None:
                last_seen[name] = attempts
        data = board_from_pods(users, pods, last_seen, all_labs(course.labs), instructors)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.write(json.dumps(data))


def main(argv: list[str] | None = None) -> None:
    """Serve the Kubernetes classroom's dashboard: `--course DIR` is the course folder whose
    labs are the columns (default: the course found, course.py), `--instructor NAME` (repeated)
    the hub users who are not learners (default: instructor)."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {KUBERNETES_DASHBOARD_MODULE}", description=__doc__
    )
    parser.add_argument("--course", type=Path, help="the course folder (notebooks/, labs/)")
    parser.add_argument("--instructor", action="append", dest="instructors", metavar="NAME")
    args = parser.parse_args(argv)
    serve(
        PodBoardHandler,
        course=Course.find(args.course),
        instructors=set(args.instructors or [INSTRUCTOR]),
        last_seen={},
    )


if __name__ == "__main__":
    main()
