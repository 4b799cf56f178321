"""The instructor's dashboard in a Kubernetes classroom: the single-server dashboard's page and
login (classroom/dashboard.py), with its board read from the cluster (board.board_from_pods).

It runs in a deployment of its own, from the learner image (classroom/kubernetes/dashboard.yaml),
as the JupyterHub service `dashboard`: `python -m stagelab.classroom.kubernetes.dashboard --course
/opt/stagelab/course --instructor instructor`. Each refresh it asks the hub for the users and
the Kubernetes API for the learners' pods (with its own service account, whose Role may list
pods in its namespace and do nothing else). Its token has no access to any server: each
learner's lab check posts their progress record to `api/attempts` with the learner's own
token (labs/attempts.post_progress), the dashboard asks the hub whose token it is
(GET /hub/api/user, which any token may ask) and keeps the attempts under that name
(board.posted_attempts), also while the server is stopped. Kubernetes' API from a pod:
kubernetes.io/docs/tasks/run-application/access-api-from-pod/
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from urllib.parse import quote

from jupyterhub.services.auth import HubAuth, HubOAuthenticated
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.web import HTTPError, RequestHandler, authenticated

from ...course import Course
from ...labs import all_labs
from ..dashboard import hub_users, serve
from ..layout import INSTRUCTOR
from .board import POD_SELECTOR, board_from_pods, pods_by_learner, posted_attempts
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


class AttemptsHandler(RequestHandler):
    """POST api/attempts: a learner's progress record, sent by their own lab check with their
    own token (`Authorization: token ...`); the hub says whose token it is. No cookie is read
    here, so no other site can post for a learner. Its application's settings give
    `hub_auth` (a HubAuth), `instructors` and `last_seen`."""

    async def post(self):
        """Keep the posted attempts under the token owner's name; 204, or 403 when refused."""
        kind, _, token = self.request.headers.get("Authorization", "").partition(" ")
        if kind.lower() not in ("token", "bearer") or not token.strip():
            raise HTTPError(401, reason="Send your own token: Authorization: token ...")
        owner = await self.settings["hub_auth"].user_for_token(
            token.strip(), use_cache=False, sync=False
        )
        accepted = posted_attempts(owner, self.request.body, self.settings["instructors"])
        if accepted is None:
            raise HTTPError(403, reason="Only a learner of the class may post their attempts")
        name, attempts = accepted
        self.settings["last_seen"][name] = attempts
        self.set_status(204)


class PodBoardHandler(HubOAuthenticated, RequestHandler):
    """The board as JSON, for the page of classroom/dashboard.py.

    Its application's settings give `course` (the Course whose labs are the columns),
    `instructors` (names that are not rows) and `last_seen` (each learner's attempts as last
    posted by their checks, AttemptsHandler).
    """

    @authenticated
    async def get(self):
        """Answer with board.board_from_pods() for the hub's learners."""
        course, instructors = self.settings["course"], self.settings["instructors"]
        last_seen = self.settings["last_seen"]
        users = await hub_users()
        pods = await learner_pods()
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
        attempts_handler=AttemptsHandler,
        hub_auth=HubAuth(),
    )


if __name__ == "__main__":
    main()
