"""The dashboard's page (dashboard.py serves it, on one server and on Kubernetes): the class
heatmap, a learner's lab in one click, grades to download, each learner's use.

Everything a learner can influence (names, lab numbers, file names and contents, attempt
times, criteria names) reaches the page as JSON data and is put in it with textContent, never
innerHTML; the only markup is this template's. The page asks for the board every REFRESH_MS
(no reload): rows are learners, columns each lab's criteria (heatmap.py), a cell's colour says
not tried / failing / passed, its text the failing checks in a row and the minutes since the
first of them; a learner stuck on a criterion is flagged. A row's name links to the learner's
server only when the board gives its URL (per-user origins). A lab's cell opens a panel with
the learner's last checks, files and their difference from the starter, when the board offers
it (`details`: the single server's dashboard); `usage` and `grades` likewise.
"""

REFRESH_MS = 3000
USAGE_REFRESH_MS = 30000

STYLE = """
body { font: 11px sans-serif; margin: 0.5em; }
h1 { font-size: 1.2em; margin: 0 0 0.3em; } p { margin: 0.2em 0; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0 2px; text-align: center; white-space: nowrap; }
td.name { max-width: 8em; overflow: hidden; text-overflow: ellipsis; }
thead th { position: sticky; top: 0; background: #fff; } tr#keys th { top: 1.3em; }
td.name { text-align: left; } th.lab { background: #eef; }
td.passed { background: #bfe8bf; } td.failing { background: #fbe2a8; }
td.stuck { background: #ee8080; }
td.c { font-size: 10px; padding: 0 1px; letter-spacing: -0.3px; }
td.untried { background: #fafafa; }
td.done { background: #bfe8bf; } td.tried { background: #fdf1cf; }
td.down, td.stopped, td.error { color: #a40000; }
span.flag { color: #a40000; font-weight: bold; }
td[data-opens] { cursor: pointer; } tfoot td { background: #eee; font-size: 0.9em; }
#details { position: fixed; top: 0; right: 0; width: 48%; height: 100%; overflow: auto;
  background: #fff; border-left: 2px solid #888; padding: 0.6em; box-sizing: border-box; }
#details pre { background: #f6f6f6; padding: 0.4em; max-height: 20em; overflow: auto;
  text-align: left; white-space: pre-wrap; }
"""

SCRIPT = r"""
document.getElementById("me").textContent = %(me)s;
// A fetch (not a navigation) must carry the hub's XSRF token (JupyterHub 4.1 and later).
const headers = {"X-XSRFToken": %(xsrf)s};
function add(parent, tag, text, css) {
  const node = parent.appendChild(document.createElement(tag));
  if (text !== undefined) node.textContent = text;
  if (css) node.className = css;
  return node;
}
function cell(row, text, css) {
  const td = row.insertCell(); td.textContent = text; if (css) td.className = css; return td;
}
function minutes(seconds) { return seconds === null ? "?" : Math.floor(seconds / 60); }
async function getJson(path) {
  const answer = await fetch(path, {credentials: "same-origin", headers});
  return answer.ok ? {data: await answer.json()} : {status: answer.status};
}
async function details(name, lab) {
  const section = document.getElementById("details");
  const body = document.getElementById("details-body");
  section.hidden = false; body.textContent = "reading...";
  document.getElementById("details-title").textContent = name + ", lab " + lab;
  const got = await getJson("api/learner/" + encodeURIComponent(name) + "/" +
                            encodeURIComponent(lab));
  body.textContent = "";
  if (!got.data) { body.textContent = "could not read it (" + got.status + ")"; return; }
  const report = got.data;
  const titles = {};
  for (const one of report.criteria || []) titles[one.key] = one;
  add(body, "h3", "last checks (as " + name + " saw them)");
  const checks = add(body, "ul");
  for (const attempt of report.attempts) {
    const item = add(checks, "li", attempt.time + ": " + attempt.passed + "/" +
                     attempt.total + " criteria pass");
    const failed = Array.isArray(attempt.failed) ? attempt.failed : [];
    if (Array.isArray(attempt.messages) && attempt.messages.length) {
      add(item, "pre", attempt.messages.map(String).join("\n"), "messages");
      continue;
    }
    const list = add(item, "ul");
    for (const key of failed) {
      const known = titles[String(key)];
      add(list, "li", known ? "FAIL " + known.title + " (hint: " + known.hint + ")"
                            : "FAIL " + String(key));
    }
  }
  if (!report.attempts.length) add(checks, "li", "none yet");
  add(body, "h3", "files" + (report.more_files ? " (" + report.more_files + " more)" : ""));
  for (const file of report.files) {
    add(body, "h4", file.path + " (" + file.bytes + " bytes" + (file.cut ? ", cut" : "") + ")");
    add(body, "pre", file.text === null ? "(not text)" : file.text);
    if (file.diff !== undefined)
      add(body, "pre", file.diff === null ? "(not text: no difference shown)" :
          file.diff === "" ? "(the same as the starter's)" : file.diff, "diff");
  }
  for (const gone of report.starter_only || []) add(body, "p", "deleted from the starter: " + gone);
}
function drawHead(data) {
  const labs = document.getElementById("labs"), keys = document.getElementById("keys");
  labs.textContent = ""; keys.textContent = "";
  for (const title of ["learner", "server", "hints"]) add(labs, "th", title).rowSpan = 2;
  for (const lab of data.labs) {
    const th = add(labs, "th", lab.slug, "lab"); th.colSpan = 1 + (lab.keys || []).length;
    add(keys, "th", "lab").title = "criteria passed at best / in all, and checks";
    (lab.keys || []).forEach((one, index) => {
      const th = add(keys, "th", String(index + 1)); th.title = one.key + ": " + one.title;
    });
  }
}
function drawCell(row, learner, lab, one) {
  const c = learner.heatmap.cells[lab.number][one.key];
  const failing = c.failing_checks + "\u00d7" + minutes(c.failing_s) + "m";
  const text = c.state === "passed" ? "\u2713" : c.state === "failing" ? failing : "";
  const css = c.stuck ? "stuck" : c.state === "not tried" ? "untried" : c.state;
  const td = cell(row, text, css + " c");
  td.dataset.lab = lab.number; td.dataset.criterion = one.key;
  td.title = learner.name + ", lab " + lab.number + ", " + one.title + ": " + c.state +
    (c.checks ? ", " + c.checks + " checks" : "") +
    (c.state === "failing" ? ", failing for " + minutes(c.failing_s) + " min" : "");
  return td;
}
function drawRow(rows, learner, data) {
  const row = rows.insertRow(); row.dataset.learner = learner.name;
  const name = cell(row, "", "name");
  if (learner.server_url) {
    const link = add(name, "a", learner.name); link.href = learner.server_url;
    link.target = "_blank"; link.rel = "noopener noreferrer";
  } else add(name, "span", learner.name);
  if (learner.error) { cell(row, learner.error, "error").colSpan = 200; return []; }
  const stuck = learner.heatmap.stuck;
  name.title = learner.name;
  if (stuck.length) add(name, "span", " \u26a0", "flag").title = "stuck on " + stuck.join(", ");
  if (stuck.length) row.dataset.stuck = stuck.join(" ");
  const status = learner.engine === "up" ? learner.server : "engine " + learner.engine;
  cell(row, status, learner.engine === "up" ? learner.server : "down").title =
    "server " + learner.server + ", engine " + learner.engine;
  const hints = Object.values(learner.heatmap.hints).reduce((a, b) => a + b, 0);
  cell(row, hints ? String(hints) : "").title = JSON.stringify(learner.heatmap.hints);
  for (const lab of data.labs) {
    const done = Object.hasOwn(learner.labs, lab.number) ? learner.labs[lab.number] : null;
    const tds = [done ? cell(row, done.best + "/" + done.total, done.done ? "done" : "tried")
                      : cell(row, "-")];
    tds[0].dataset.lab = lab.number;
    if (done) tds[0].title = done.attempts + (done.attempts == 1 ? " check" : " checks");
    for (const one of lab.keys || []) tds.push(drawCell(row, learner, lab, one));
    if (done && data.details) for (const td of tds) {
      td.dataset.opens = "details"; td.onclick = () => details(learner.name, lab.number);
    }
  }
  return stuck.length ? [learner.name] : [];
}
function drawTotals(data, count) {
  const foot = document.getElementById("totals"); foot.textContent = "";
  const row = foot.insertRow();
  cell(row, "passed, of " + count, "name").colSpan = 3;
  for (const lab of data.labs) {
    cell(row, "");
    for (const one of lab.keys || []) {
      const total = data.totals[lab.number][one.key];
      const td = cell(row, String(total.passed));
      td.title = total.passed + " of " + count + " past " + one.title + " (lab " + lab.number +
        "); " + total.failing + " failing, " + total.stuck + " stuck";
    }
  }
}
async function refresh() {
  const got = await getJson("api/board");
  if (!got.data) {
    document.getElementById("updated").textContent = "failed (" + got.status + ")";
    return;
  }
  const data = got.data;
  drawHead(data);
  const rows = document.getElementById("rows"); rows.textContent = "";
  const stuck = [];
  for (const learner of data.learners) stuck.push(...drawRow(rows, learner, data));
  drawTotals(data, data.learners.length);
  document.getElementById("stuck").textContent = stuck.length ?
    stuck.length + ": " + stuck.join(", ") : "no one";
  const rule = data.stuck_rule;
  document.getElementById("rule").textContent = rule.attempts + " failing checks in a row or " +
    rule.minutes + " minutes";
  document.getElementById("updated").textContent = new Date().toLocaleTimeString();
}
function size(bytes) { return bytes === null ? "-" : (bytes / 1048576).toFixed(0) + " MiB"; }
async function usage() {
  const got = await getJson("api/usage");
  if (!got.data) return;
  const body = document.getElementById("usage-rows"); body.textContent = "";
  for (const one of got.data.learners) {
    const row = body.insertRow(); row.dataset.usage = one.name;
    cell(row, one.name, "name");
    for (const kind of ["images", "containers", "build_cache"]) {
      const found = one.engine ? one.engine[kind] : null;
      cell(row, found ? found.count + " (" + size(found.bytes) + ")" : "engine down");
    }
    cell(row, size(one.memory_bytes));
    cell(row, one.cpu_percent === null ? "-" : one.cpu_percent.toFixed(0) + " %%");
  }
  document.getElementById("usage").hidden = false;
}
document.getElementById("close").onclick = () => {
  document.getElementById("details").hidden = true;
};
// The next request waits for the answer to the last: a slow server is not asked twice at once.
function every(step, ms) {
  const run = async () => { try { await step(); } finally { setTimeout(run, ms); } };
  run();
}
every(refresh, %(refresh_ms)d);
if (%(usage)s) every(usage, %(usage_ms)d);
"""

PAGE = (
    """<!doctype html>
<html><head><meta charset="utf-8"><title>stagelab classroom</title>
<style>"""
    + STYLE.replace("%", "%%")
    + """</style></head>
<body><h1>stagelab classroom</h1>
<p>Signed in as <strong id="me"></strong>. Updated every %(seconds)d s, last:
<span id="updated">never</span>. Stuck (<span id="rule"></span>): <span id="stuck"></span>.
%(grades)s</p>
<p>Cells: criteria by number (hover for the title); &#x2713; passed, N&#xd7; Mm: failing N
checks in a row, for M minutes; red and &#x26a0;: stuck.
Click a lab's cell for the learner's work.</p>
<table id="board"><thead><tr id="labs"></tr><tr id="keys"></tr></thead>
<tbody id="rows"></tbody><tfoot id="totals"></tfoot></table>
<section id="usage" hidden><h2>each learner's use</h2><table><thead><tr><th>learner</th>
<th>images</th><th>containers</th><th>build cache</th><th>memory</th><th>CPU</th></tr></thead>
<tbody id="usage-rows"></tbody></table></section>
<section id="details" hidden><button id="close">close</button><h2 id="details-title"></h2>
<div id="details-body"></div></section>
<script>"""
    + SCRIPT
    + """</script></body></html>
"""
)

GRADES_LINKS = (
    'Grades: <a href="api/grades?format=csv" download>CSV</a>, '
    '<a href="api/grades?format=canvas" download>Canvas</a>, '
    '<a href="api/grades?format=moodle" download>Moodle</a>.'
)
