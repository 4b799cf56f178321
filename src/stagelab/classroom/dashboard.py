"""The instructor's dashboard: a JupyterHub service behind the hub's login.

Run by the hub as `python -m stagelab.classroom.dashboard` (hubconfig.services), as root, on
127.0.0.1 at a port only root may bind. Only accounts granted
`access:services!service=dashboard` (the instructor's role, hubconfig.roles) get past
HubOAuthenticated. The page shows one row per learner (server, engine, last activity, criteria
passed per lab) and refreshes itself every few seconds from `api/board`; a lab's cell opens
what the instructor needs to see of that learner's lab: their files and their last checks
(`api/learner/NAME/LAB`). Both are read as that learner (learner_runs.py), never by root, and
the page shows every learner string as text (textContent), never as markup; its
Content-Security-Policy allows no other script, frame or image. On one origin nothing here
links into a learner's server (no role a person holds can open one); with per-user origins a
learner's name links to their server, on its own origin.
The Kubernetes classroom serves the same page with its own board (kubernetes/dashboard.py).
JupyterHub gives a service its address, prefix and token in JUPYTERHUB_* variables; the
pattern is JupyterHub's whoami-oauth service example.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.ioloop import IOLoop
from tornado.web import Application, HTTPError, RequestHandler, authenticated

from ..course import Course
from ..labs import all_labs
from .board import MAX_RECORD_BYTES, board_from_accounts
from .dashboard_page import PAGE, REFRESH_MS
from .layout import Account
from .learner_runs import as_learner_command, progress_command, run_as_learner
from .settings import HubSettings

DEFAULT_PREFIX = "/services/dashboard/"
READ_TIMEOUT_S = 20
REPORT_TIMEOUT_S = 60
LAB_NUMBER = re.compile(r"^\d\d$")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


async def hub_users() -> list:
    """Return the hub's user models, asked with this service's own token."""
    request = HTTPRequest(
        url_path_join(os.environ["JUPYTERHUB_API_URL"], "users"),
        headers={"Authorization": f"token {os.environ['JUPYTERHUB_API_TOKEN']}"},
    )
    answer = await AsyncHTTPClient().fetch(request)
    return json.loads(answer.body)


class SecuredHandler(RequestHandler):
    """A handler whose every answer carries SECURITY_HEADERS."""

    def set_default_headers(self):
        """Set SECURITY_HEADERS on the answer."""
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)


class PageHandler(HubOAuthenticated, SecuredHandler):
    """The dashboard page (the instructor's only)."""

    @authenticated
    def get(self):
        """Serve the page; its script fetches the board."""
        me = self.get_current_user()["name"]
        xsrf = self.xsrf_token
        xsrf = xsrf.decode() if isinstance(xsrf, bytes) else xsrf
        self.write(
            PAGE
            % {
                "seconds": REFRESH_MS // 1000,
                "refresh_ms": REFRESH_MS,
                "me": _script_json(me),
                "xsrf": _script_json(xsrf),
            }
        )


def _script_json(value: str) -> str:
    """Return `value` as a JavaScript string literal safe inside a <script> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


def read_record(settings: HubSettings, account: Account) -> bytes:
    """Return the learner's progress record, read as the learner (b"" when they have none).

    Raises OSError when the read cannot run or does not end within READ_TIMEOUT_S.
    """
    try:
        done = run_as_learner(
            settings.layout, account, progress_command(account, MAX_RECORD_BYTES), READ_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        raise OSError(f"reading {account.name}'s record took over {READ_TIMEOUT_S} s") from None
    return done.stdout if done.returncode == 0 else b""


class BoardHandler(HubOAuthenticated, SecuredHandler):
    """The board as JSON: labs, and a row per learner of the class (the hub's settings)."""

    @authenticated
    async def get(self):
        """Answer with board.board_from_accounts() for the class's learners."""
        settings: HubSettings = self.settings["classroom"]
        users = await hub_users()
        accounts = [settings.layout.account(name) for name in settings.learners]
        labs = all_labs(Course.find(settings.course).labs)
        data = await asyncio.to_thread(
            board_from_accounts, accounts, users, labs, lambda one: read_record(settings, one)
        )
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(data))


class LearnerHandler(HubOAuthenticated, SecuredHandler):
    """One learner's lab, as JSON: their files and last checks (as_learner.report), read as
    the learner."""

    @authenticated
    async def get(self, name: str, lab: str):
        """Answer with as_learner's report of lab `lab` of learner `name`; 404 for a name not
        in the class or a lab that is not two digits, 502 when the read fails."""
        settings: HubSettings = self.settings["classroom"]
        if name not in settings.learners or not LAB_NUMBER.match(lab):
            raise HTTPError(404)
        account = settings.layout.account(name)
        command = as_learner_command(settings.layout, "report", lab)
        try:
            done = await asyncio.to_thread(
                run_as_learner, settings.layout, account, command, REPORT_TIMEOUT_S
            )
            report = json.loads(done.stdout) if done.returncode == 0 else None
        except (OSError, ValueError, subprocess.TimeoutExpired):
            report = None
        if not isinstance(report, dict):
            raise HTTPError(502, reason=f"Could not read {name}'s lab {lab}")
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(report))


def serve(board_handler: type[RequestHandler], **handler_settings) -> None:
    """Serve the dashboard on the address the hub gave this service (JUPYTERHUB_SERVICE_URL,
    under JUPYTERHUB_SERVICE_PREFIX) until stopped; `board_handler` answers api/board and finds
    `handler_settings` in its self.settings. A `learner_handler` in them answers
    api/learner/NAME/LAB, an `attempts_handler` takes POST api/attempts."""
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", DEFAULT_PREFIX)
    learner_handler = handler_settings.pop("learner_handler", None)
    attempts_handler = handler_settings.pop("attempts_handler", None)
    routes = [
        (prefix, PageHandler),
        (url_path_join(prefix, "api/board"), board_handler),
        (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
    ]
    if learner_handler is not None:
        routes.append((url_path_join(prefix, r"api/learner/([a-z0-9]+)/(\d\d)"), learner_handler))
    if attempts_handler is not None:
        routes.append((url_path_join(prefix, "api/attempts"), attempts_handler))
    # xheaders: the proxy says when the browser came over HTTPS, and cookies are then Secure.
    app = Application(routes, cookie_secret=os.urandom(32), **handler_settings)
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    app.listen(url.port, url.hostname, xheaders=True)
    IOLoop.current().start()


def main() -> None:
    """Serve the single-server classroom's dashboard, for the class of the hub's settings."""
    serve(BoardHandler, classroom=HubSettings.read(), learner_handler=LearnerHandler)


if __name__ == "__main__":
    main()
