"""The dashboard's page (dashboard.py serves it, on one server and on Kubernetes).

Everything a learner can influence (names, lab numbers, file names and contents, attempt
times) reaches the page as JSON data and is put in it with textContent, never innerHTML; the
only markup is this template's. A row's name links to the learner's server only when the board
gives its URL (per-user origins). A lab cell with attempts opens a panel with the learner's
files and last checks, when the board offers it (`details`: the single server's dashboard).
"""

REFRESH_MS = 5000

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>stagelab classroom</title>
<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: left; }
td.done { background: #d7f5d7; } td.tried { background: #fdf1cf; }
td.up, td.running { color: #176217; } td.down, td.stopped { color: #888; }
td.error { color: #a40000; } td[data-opens] { cursor: pointer; text-decoration: underline; }
#details pre { background: #f6f6f6; padding: 0.6em; max-height: 24em; overflow: auto; }
</style></head>
<body><h1>stagelab classroom</h1>
<p>Signed in as <strong id="me"></strong>. Refreshed every %(seconds)d s;
last: <span id="updated">never</span>.</p>
<table id="board"><thead><tr id="head"></tr></thead><tbody id="rows"></tbody></table>
<section id="details" hidden><h2 id="details-title"></h2><div id="details-body"></div></section>
<script>
document.getElementById("me").textContent = %(me)s;
// A fetch (not a navigation) must carry the hub's XSRF token (JupyterHub 4.1 and later).
const headers = {"X-XSRFToken": %(xsrf)s};
function cell(row, text, css) {
  const td = row.insertCell(); td.textContent = text; if (css) td.className = css; return td;
}
function add(parent, tag, text) {
  const node = parent.appendChild(document.createElement(tag));
  if (text !== undefined) node.textContent = text;
  return node;
}
async function details(name, lab) {
  const section = document.getElementById("details");
  const body = document.getElementById("details-body");
  section.hidden = false; body.textContent = "reading...";
  document.getElementById("details-title").textContent = name + ", lab " + lab;
  const answer = await fetch("api/learner/" + encodeURIComponent(name) + "/" +
                             encodeURIComponent(lab), {credentials: "same-origin", headers});
  body.textContent = "";
  if (!answer.ok) { body.textContent = "could not read it (" + answer.status + ")"; return; }
  const report = await answer.json();
  add(body, "h3", "last checks");
  const checks = add(body, "ul");
  for (const attempt of report.attempts)
    add(checks, "li", attempt.time + ": " + attempt.passed + "/" + attempt.total +
        (attempt.failed && attempt.failed.length ? ", failed: " + attempt.failed.join(", ") : ""));
  if (!report.attempts.length) add(checks, "li", "none yet");
  add(body, "h3", "files" + (report.more_files ? " (" + report.more_files + " more)" : ""));
  for (const file of report.files) {
    add(body, "h4", file.path + " (" + file.bytes + " bytes" + (file.cut ? ", cut" : "") + ")");
    add(body, "pre", file.text === null ? "(not text)" : file.text);
  }
}
async function refresh() {
  const answer = await fetch("api/board", {credentials: "same-origin", headers});
  if (!answer.ok) {
    document.getElementById("updated").textContent = "failed (" + answer.status + ")";
    return;
  }
  const data = await answer.json();
  const head = document.getElementById("head"); head.textContent = "";
  for (const title of ["learner", "server", "engine", "last activity"]) add(head, "th", title);
  for (const lab of data.labs) add(head, "th", lab.slug);
  const rows = document.getElementById("rows"); rows.textContent = "";
  for (const learner of data.learners) {
    const row = rows.insertRow(); row.dataset.learner = learner.name;
    const name = row.insertCell();
    if (learner.server_url) {
      const link = add(name, "a", learner.name); link.href = learner.server_url;
      link.target = "_blank"; link.rel = "noopener noreferrer";
    } else name.textContent = learner.name;
    if (learner.error) {
      cell(row, learner.error, "error").colSpan = 3 + data.labs.length;
      continue;
    }
    cell(row, learner.server, learner.server);
    cell(row, learner.engine, learner.engine);
    cell(row, learner.last_activity || "-");
    for (const lab of data.labs) {
      const done = Object.hasOwn(learner.labs, lab.number) ? learner.labs[lab.number] : null;
      const td = done ? cell(row, done.best + "/" + done.total + " (" + done.attempts +
                             (done.attempts == 1 ? " check)" : " checks)"),
                             done.done ? "done" : "tried")
                      : cell(row, "-");
      td.dataset.lab = lab.number;
      if (done && data.details) {
        td.dataset.opens = "details";
        td.onclick = () => details(learner.name, lab.number);
      }
    }
  }
  document.getElementById("updated").textContent = new Date().toLocaleTimeString();
}
refresh(); setInterval(refresh, %(refresh_ms)d);
</script></body></html>
"""
