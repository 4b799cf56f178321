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
from .board import board_from_accounts
from .dashboard_page import GRADES_LINKS, PAGE, REFRESH_MS, USAGE_REFRESH_MS
from .grades import GRADE_LAYOUTS, grades_csv
from .heatmap import StuckRule
from .learner_runs import as_learner_command, class_attempts, read_record, run_as_learner
from .settings import HubSettings
from .usage import learner_usage

DEFAULT_PREFIX = "/services/dashboard/"
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
                "grades": GRADES_LINKS if self.settings.get("offers_grades") else "",
                "usage": "true" if self.settings.get("offers_usage") else "false",
                "usage_ms": USAGE_REFRESH_MS,
            }
        )


def _script_json(value: str) -> str:
    """Return `value` as a JavaScript string literal safe inside a <script> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


class BoardHandler(HubOAuthenticated, SecuredHandler):
    """The board as JSON: labs, and a row per learner of the class (the hub's settings)."""

    @authenticated
    async def get(self):
        """Answer with board.board_from_accounts() for the class's learners."""
        settings: HubSettings = self.settings["classroom"]
        users = await hub_users()
        accounts = [settings.layout.account(name) for name in settings.learners]
        labs = all_labs(Course.find(settings.course).labs)
        rule = StuckRule(settings.stuck_checks, settings.stuck_minutes)
        data = await asyncio.to_thread(
            board_from_accounts,
            accounts,
            users,
            labs,
            lambda one: read_record(settings.layout, one),
            rule,
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


class GradesHandler(HubOAuthenticated, SecuredHandler):
    """The class's grades as a CSV download (grades.py), from each learner's record read as
    them; `?format=` csv (default), canvas or moodle."""

    @authenticated
    async def get(self):
        """Answer with grades.grades_csv() as an attachment; 400 for an unknown format."""
        settings: HubSettings = self.settings["classroom"]
        layout = self.get_query_argument("format", "csv")
        if layout not in GRADE_LAYOUTS:
            raise HTTPError(400, reason=f"format is one of {', '.join(GRADE_LAYOUTS)}")
        labs = all_labs(Course.find(settings.course).labs)
        found, _ = await asyncio.to_thread(class_attempts, settings.layout, settings.learners)
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="grades-{layout}.csv"')
        self.write(grades_csv(labs, found, layout))


class UsageHandler(HubOAuthenticated, SecuredHandler):
    """Each learner's use as JSON: {learners: [usage.learner_usage rows]}."""

    @authenticated
    async def get(self):
        """Answer with every learner's usage, asked for all of them at once."""
        settings: HubSettings = self.settings["classroom"]
        accounts = [settings.layout.account(name) for name in settings.learners]
        rows = await asyncio.gather(
            *(asyncio.to_thread(learner_usage, settings.layout, one) for one in accounts)
        )
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps({"learners": rows}))


# Optional routes of serve(), by the name of the handler setting that gives each.
OPTIONAL_ROUTES = {
    "learner_handler": r"api/learner/([a-z0-9]+)/(\d\d)",
    "attempts_handler": "api/attempts",
    "grades_handler": "api/grades",
    "usage_handler": "api/usage",
}


def serve(board_handler: type[RequestHandler], **handler_settings) -> None:
    """Serve the dashboard on the address the hub gave this service (JUPYTERHUB_SERVICE_URL,
    under JUPYTERHUB_SERVICE_PREFIX) until stopped; `board_handler` answers api/board and finds
    `handler_settings` in its self.settings. A `learner_handler` in them answers
    api/learner/NAME/LAB, an `attempts_handler` takes POST api/attempts, a `grades_handler`
    answers api/grades and a `usage_handler` api/usage (the page then offers them)."""
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", DEFAULT_PREFIX)
    optional = {name: handler_settings.pop(name, None) for name in OPTIONAL_ROUTES}
    routes = [
        (prefix, PageHandler),
        (url_path_join(prefix, "api/board"), board_handler),
        (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
    ]
    for name, handler in optional.items():
        if handler is not None:
            routes.append((url_path_join(prefix, OPTIONAL_ROUTES[name]), handler))
    handler_settings.update(
        offers_grades=optional["grades_handler"] is not None,
        offers_usage=optional["usage_handler"] is not None,
    )
    # xheaders: the proxy says when the browser came over HTTPS, and cookies are then Secure.
    app = Application(routes, cookie_secret=os.urandom(32), **handler_settings)
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    app.listen(url.port, url.hostname, xheaders=True)
    IOLoop.current().start()


def main() -> None:
    """Serve the single-server classroom's dashboard, for the class of the hub's settings."""
    serve(
        BoardHandler,
        classroom=HubSettings.read(),
        learner_handler=LearnerHandler,
        grades_handler=GradesHandler,
        usage_handler=UsageHandler,
    )


if __name__ == "__main__":
    main()
