"""A learner's or instructor's side of the hub, over HTTP(S): log in, start a server, run code.

Only public interfaces: the hub's login form and REST API
(https://jupyterhub.readthedocs.io/en/stable/reference/rest-api.html), the single-user
server's kernels API and the Jupyter messaging protocol over its websocket
(https://jupyter-client.readthedocs.io/en/stable/messaging.html). On a class with a domain,
each user's server is on its own origin, NAME.DOMAIN (JupyterHub's subdomain_host).
"""

from __future__ import annotations

import json
import time
import uuid

import requests
import websocket


class HubSession:
    """One person's browser-less session with the hub at `base`; `domain` when each user's
    server has an origin of its own; `verify` the CA file for TLS (True: the system's)."""

    def __init__(self, base: str, name: str, domain: str = "", verify: str | bool = True):
        self.base = base.rstrip("/")
        self.name = name
        self.domain = domain
        self.verify = verify
        self.http = requests.Session()
        # The environment's CA bundle (REQUESTS_CA_BUNDLE) would win over `verify` otherwise.
        self.http.trust_env = False
        self.http.verify = verify
        self.token: str | None = None

    def xsrf(self) -> str:
        """Return the hub's XSRF cookie's value (its name has a __Host- prefix on a domain)."""
        return next(
            (cookie.value for cookie in self.http.cookies if cookie.name.endswith("_xsrf")), ""
        )

    def login(self, password: str) -> requests.Response:
        """Post the login form; return the answer (302 on success, 403 on a wrong password)."""
        self.http.get(f"{self.base}/hub/login", timeout=30)
        return self.http.post(
            f"{self.base}/hub/login?next=",
            allow_redirects=False,
            timeout=60,
            data={"username": self.name, "password": password, "_xsrf": self.xsrf()},
        )

    def make_token(self) -> str:
        """Ask the hub for an API token of this user (after login), and keep it."""
        answer = self.http.post(
            f"{self.base}/hub/api/users/{self.name}/tokens",
            headers={"X-XSRFToken": self.xsrf()},
            json={"note": "stagelab classroom test", "expires_in": 3600},
            timeout=30,
        )
        answer.raise_for_status()
        self.token = answer.json()["token"]
        return self.token

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        """Call the hub's REST API with this user's token."""
        return requests.request(
            method,
            f"{self.base}/hub/api{path}",
            timeout=60,
            headers={"Authorization": f"token {self.token}"},
            verify=self.verify,
            **kwargs,
        )

    def origin(self, user: str | None = None) -> str:
        """Return the origin of a user's server: NAME.DOMAIN on a class with a domain, else the
        hub's own."""
        if not self.domain:
            return self.base
        scheme, rest = self.base.split("://", 1)
        return f"{scheme}://{user or self.name}.{rest}"

    def start_server(self, timeout: float = 240) -> dict:
        """Start this user's server through the API and wait until the hub says it is ready."""
        answer = self.api("POST", f"/users/{self.name}/server")
        assert answer.status_code in (201, 202, 400), (answer.status_code, answer.text)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.api("GET", f"/users/{self.name}").json()
            if model.get("servers", {}).get("", {}).get("ready"):
                return model
            time.sleep(1)
        raise AssertionError(f"{self.name}'s server did not become ready in {timeout} s")

    def server(
        self, method: str, path: str, user: str | None = None, **kwargs
    ) -> requests.Response:
        """Call a single-user server's API (this user's, or `user`'s) with this user's token."""
        return requests.request(
            method,
            f"{self.origin(user)}/user/{user or self.name}/api{path}",
            headers={"Authorization": f"token {self.token}"},
            allow_redirects=False,
            timeout=60,
            verify=self.verify,
            **kwargs,
        )

    def kernel(self) -> Kernel:
        """Start a Python kernel in this user's server and connect to it."""
        answer = self.server("POST", "/kernels", json={"name": "python3"})
        answer.raise_for_status()
        return Kernel(self, answer.json()["id"])


class Kernel:
    """A kernel in a single-user server, driven over its websocket."""

    def __init__(self, session: HubSession, kernel_id: str):
        self.session, self.id = session, kernel_id
        url = (
            session.origin().replace("http", "ws", 1)
            + f"/user/{session.name}/api/kernels/{kernel_id}/channels"
        )
        options = {"ca_certs": session.verify} if isinstance(session.verify, str) else {}
        self.socket = websocket.create_connection(
            url, header=[f"Authorization: token {session.token}"], timeout=900, sslopt=options
        )
        self.session_id = uuid.uuid4().hex

    def execute(self, code: str, timeout: float = 900) -> tuple[str, list[str]]:
        """Run code; return (its status "ok" or "error", the text it printed or raised)."""
        msg_id = uuid.uuid4().hex
        self.socket.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "username": "test",
                        "session": self.session_id,
                        "version": "5.3",
                        "date": "",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "buffers": [],
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": True,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                }
            )
        )
        output: list[str] = []
        status, idle = None, False
        deadline = time.monotonic() + timeout
        # The reply (shell channel) may come before the output (iopub): the kernel's "idle"
        # status on iopub says all output for this request has been sent.
        while time.monotonic() < deadline and (status is None or not idle):
            message = json.loads(self.socket.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                output.append(content["text"])
            elif kind == "error":
                output.append(f"{content['ename']}: {content['evalue']}")
            elif kind == "execute_reply":
                status = content["status"]
            elif kind == "status" and content.get("execution_state") == "idle":
                idle = True
        if status is None or not idle:
            raise AssertionError(f"no reply within {timeout} s to:\n{code[:300]}")
        return status, output

    def close(self) -> None:
        """Close the websocket and shut the kernel down."""
        self.socket.close()
        self.session.server("DELETE", f"/kernels/{self.id}")
