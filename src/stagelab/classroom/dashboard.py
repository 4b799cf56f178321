"""The instructor's dashboard: a JupyterHub service behind the hub's login.

Run by the hub as `python -m stagelab.classroom.dashboard` (hubconfig.services). Only accounts
granted `access:services!service=dashboard` (the instructor's role, hubconfig.roles) get past
HubOAuthenticated. The page shows one row per learner (server, engine, last activity, criteria
passed per lab) and refreshes itself every few seconds from `api/board`, which
board.board_from_accounts builds from the hub's REST API and each learner's progress record.
The Kubernetes classroom serves the same page with its own board (kubernetes/dashboard.py).
JupyterHub gives a service its address, prefix and token in JUPYTERHUB_* variables; the
pattern is JupyterHub's whoami-oauth service example.
"""

from __future__ import annotations

import asyncio
import json
import os
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.ioloop import IOLoop
from tornado.web import Application, RequestHandler, authenticated

from ..course import Course
from ..labs import all_labs
from .board import board_from_accounts
from .settings import HubSettings

DEFAULT_PREFIX = "/services/dashboard/"
REFRESH_MS = 5000

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>stagelab classroom</title>
<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: left; }
td.done { background: #d7f5d7; } td.tried { background: #fdf1cf; }
td.up, td.running { color: #176217; } td.down, td.stopped { color: #888; }
</style></head>
<body><h1>stagelab classroom</h1>
<p>Signed in as <strong id="me"></strong>. Refreshed every %(seconds)d s;
last: <span id="updated">never</span>.</p>
<table id="board"><thead><tr id="head"></tr></thead><tbody id="rows"></tbody></table>
<script>
const hubPrefix = %(hub_prefix)s;
document.getElementById("me").textContent = %(me)s;
function cell(row, text, css) {
  const td = row.insertCell(); td.textContent = text; if (css) td.className = css; return td;
}
async function refresh() {
  // A fetch (not a navigation) must carry the hub's XSRF token (JupyterHub 4.1 and later).
  const answer = await fetch("api/board", {credentials: "same-origin",
                                           headers: {"X-XSRFToken": %(xsrf)s}});
  if (!answer.ok) {
    document.getElementById("updated").textContent = "failed (" + answer.status + ")";
    return;
  }
  const data = await answer.json();
  const head = document.getElementById("head"); head.innerHTML = "";
  for (const title of ["learner", "server", "engine", "last activity"])
    head.appendChild(document.createElement("th")).textContent = title;
  for (const lab of data.labs)
    head.appendChild(document.createElement("th")).textContent = lab.slug;
  const rows = document.getElementById("rows"); rows.innerHTML = "";
  for (const learner of data.learners) {
    const row = rows.insertRow(); row.dataset.learner = learner.name;
    const name = row.insertCell(), link = document.createElement("a");
    link.href = hubPrefix + "user/" + encodeURIComponent(learner.name) + "/";
    link.textContent = learner.name; name.appendChild(link);
    cell(row, learner.server, learner.server);
    cell(row, learner.engine, learner.engine);
    cell(row, learner.last_activity || "-");
    for (const lab of data.labs) {
      const done = learner.labs[lab.number];
      const td = done ? cell(row, done.best + "/" + done.total + " (" + done.attempts +
                             (done.attempts == 1 ? " check)" : " checks)"),
                             done.done ? "done" : "tried")
                      : cell(row, "-");
      td.dataset.lab = lab.number;
    }
  }
  document.getElementById("updated").textContent = new Date().toLocaleTimeString();
}
refresh(); setInterval(refresh, %(refresh_ms)d);
</script></body></html>
"""


async def hub_users() -> list:
    """Return the hub's user models, asked with this service's own token."""
    request = HTTPRequest(
        url_path_join(os.environ["JUPYTERHUB_API_URL"], "users"),
        headers={"Authorization": f"token {os.environ['JUPYTERHUB_API_TOKEN']}"},
    )
    answer = await AsyncHTTPClient().fetch(request)
    return json.loads(answer.body)


class PageHandler(HubOAuthenticated, RequestHandler):
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
                "me": json.dumps(me),
                "xsrf": json.dumps(xsrf),
                "hub_prefix": json.dumps(os.environ.get("JUPYTERHUB_BASE_URL", "/")),
            }
        )


class BoardHandler(HubOAuthenticated, RequestHandler):
    """The board as JSON: labs, and a row per learner of the class (the hub's settings)."""

    @authenticated
    async def get(self):
        """Answer with board.board_from_accounts() for the class's learners."""
        settings: HubSettings = self.settings["classroom"]
        users = await hub_users()
        accounts = [settings.layout.account(name) for name in settings.learners]
        labs = all_labs(Course.find(settings.course).labs)
        data = await asyncio.to_thread(board_from_accounts, accounts, users, labs)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.write(json.dumps(data))


def serve(board_handler: type[RequestHandler], **handler_settings) -> None:
    """Serve the dashboard on the address the hub gave this service (JUPYTERHUB_SERVICE_URL,
    under JUPYTERHUB_SERVICE_PREFIX) until stopped; `board_handler` answers api/board and finds
    `handler_settings` in its self.settings."""
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", DEFAULT_PREFIX)
    app = Application(
        [
            (prefix, PageHandler),
            (url_path_join(prefix, "api/board"), board_handler),
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
        ],
        cookie_secret=os.urandom(32),
        **handler_settings,
    )
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    app.listen(url.port, url.hostname)
    IOLoop.current().start()


def main() -> None:
    """Serve the single-server classroom's dashboard, for the class of the hub's settings."""
    serve(BoardHandler, classroom=HubSettings.read())


if __name__ == "__main__":
    main()
