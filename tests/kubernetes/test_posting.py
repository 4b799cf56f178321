"""A learner's lab check posts their progress record to the class's dashboard (Kubernetes),
with their server's own token: labs.attempts.post_progress against a real local HTTP server.
"""

from __future__ import annotations

import http.server
import threading

import pytest

from stagelab.labs.attempts import DASHBOARD_URL_ENV, POSTED_BYTES, TOKEN_ENV, post_progress


class _Dashboard(http.server.BaseHTTPRequestHandler):
    """Keeps what each POST carried; answers with the server's `status`."""

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        self.server.received.append((self.headers["Authorization"], self.rfile.read(length)))
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def dashboard():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Dashboard)
    server.received, server.status = [], 204
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _environ(server) -> dict[str, str]:
    url = f"http://127.0.0.1:{server.server_address[1]}/services/dashboard/api/attempts"
    return {DASHBOARD_URL_ENV: url, TOKEN_ENV: "the-servers-token"}


def test_the_record_goes_to_the_dashboard_with_the_servers_token(dashboard, tmp_path):
    record = tmp_path / "progress.jsonl"
    record.write_bytes(b'{"lab": "01", "time": "t", "passed": 1, "total": 2}\n')
    assert post_progress(record, _environ(dashboard)) == ""
    assert dashboard.received == [("token the-servers-token", record.read_bytes())]


def test_a_long_record_sends_its_last_whole_lines(dashboard, tmp_path):
    record = tmp_path / "progress.jsonl"
    line = b'{"lab": "01", "time": "t", "passed": 1, "total": 2}\n'
    record.write_bytes(line * (POSTED_BYTES // len(line) + 10))
    assert post_progress(record, _environ(dashboard)) == ""
    (sent,) = [body for _, body in dashboard.received]
    assert len(sent) <= POSTED_BYTES and sent.startswith(line) and sent.endswith(line)


def test_a_refusal_or_no_dashboard_is_a_note_never_an_error(dashboard, tmp_path):
    record = tmp_path / "progress.jsonl"
    record.write_bytes(b"")
    dashboard.status = 403
    note = post_progress(record, _environ(dashboard))
    assert note.startswith("(Your instructor's dashboard did not get this check")
    gone = {**_environ(dashboard), DASHBOARD_URL_ENV: "http://127.0.0.1:9/api/attempts"}
    assert "did not get this check" in post_progress(record, gone)
    # Outside a Kubernetes classroom nothing is posted.
    assert post_progress(record, {TOKEN_ENV: "t"}) == ""
    assert post_progress(record, {}) == ""
