// Vigil's dashboard: reads the JSON API of the page's own server and fills the tables.
// Every name, label and message is user data: it is set with textContent, never as markup.
"use strict";

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function when(at) {
  if (!at) return "-";
  const d = new Date(at * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function short(id) {
  return (id || "").replace(/^sha256:/, "").slice(0, 12);
}

function fill(tableId, rows, empty, columns) {
  const body = document.querySelector(`#${tableId} tbody`);
  const cells = rows.map((row) => {
    const tr = el("tr");
    for (const cell of row) tr.appendChild(cell);
    return tr;
  });
  if (!cells.length) {
    const tr = el("tr");
    const td = el("td", empty, "muted");
    td.colSpan = columns;
    tr.appendChild(td);
    cells.push(tr);
  }
  body.replaceChildren(...cells);
}

function td(text, cls) { return el("td", text, cls); }

function badge(state) {
  const cell = el("td");
  cell.appendChild(el("span", state, `badge state-${state}`));
  cell.dataset.state = state;
  return cell;
}

async function load(path) {
  const answer = await fetch(path, { cache: "no-store" });
  if (!answer.ok) throw new Error(`${path}: ${answer.status}`);
  return answer.json();
}

function liveCell(beat) {
  if (!beat) return td("never seen", "live-other");
  return td(beat.state, beat.state === "alive" ? "live-alive" : "live-other");
}

function lastCycle(beat) {
  const last = beat && beat.last_report;
  if (!last) return "no cycle yet";
  const counts = Object.entries(last.counts).map(([s, n]) => `${n} ${s.replace("_", " ")}`);
  return `${when(last.finished_at)} ${last.failed ? "FAILED" : "ok"}: ${counts.join(", ") || "nothing"}`;
}

async function refreshHosts() {
  const doc = await load("/api/hosts");
  fill("hosts", doc.hosts.map((h) => [
    td(h.host), liveCell(h.scanner), liveCell(h.executor),
    td((h.scanner || h.executor || {}).version || "-"),
    td((h.scanner || {}).engine || (h.executor || {}).engine || "-"), td(lastCycle(h.executor)),
  ]), "no heartbeat yet", 6);
  const fleet = doc.fleet.map((b) => `${b.role}: ${b.state}`).join(" · ");
  document.getElementById("fleet").textContent = fleet ? `fleet services: ${fleet}` : "";
}

// ---- containers: find (filter, sort, group, counts) and act on one ------------------

const STATES = ["stale", "held", "failed", "unverified", "current", "updated", "unknown"];
let lastContainers = [];
const finder = { state: "", host: "", text: "", group: "", sort: "host", desc: false };
const notes = {};  // host/name -> what the row's last action said at once (until the server's)

function rowKey(c) { return `${c.host}/${c.name}`; }

function matches(c) {
  if (finder.state && c.state !== finder.state) return false;
  if (finder.host && c.host !== finder.host) return false;
  const text = finder.text.trim().toLowerCase();
  return !text || c.name.toLowerCase().includes(text) || c.image.toLowerCase().includes(text);
}

function compare(a, b) {
  const key = finder.sort;
  const x = String(a[key] ?? ""), y = String(b[key] ?? "");
  const order = x < y ? -1 : x > y ? 1 : (rowKey(a) < rowKey(b) ? -1 : 1);
  return finder.desc ? -order : order;
}

function renderCounts() {
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const c of lastContainers) counts[c.state] = (counts[c.state] || 0) + 1;
  const box = document.getElementById("counts");
  const buttons = STATES.map((s) => {
    const b = el("button", `${counts[s]} ${s}`, `badge state-${s}${finder.state === s ? " on" : ""}`);
    b.type = "button";
    b.dataset.count = s;
    return b;
  });
  box.replaceChildren(...buttons);
  const hosts = [...new Set(lastContainers.map((c) => c.host))].sort();
  const select = document.getElementById("f-host");
  if (select.options.length - 1 !== hosts.length) {
    select.replaceChildren(el("option", "every host"), ...hosts.map((h) => el("option", h)));
    select.options[0].value = "";
    select.value = finder.host;
  }
}

function containerActions(c) {
  const cell = el("td", null, "actions");
  const act = (label, action, cls) => {
    const b = el("button", label, cls);
    b.type = "button";
    b.dataset.act = action;
    b.dataset.host = c.host;
    b.dataset.name = c.name;
    cell.appendChild(b);
  };
  act("Update now", "update");
  act("Check now", "check", "plain");
  if (c.skipped) {
    act("Stop skipping", "unskip", "plain");
  } else {
    const how = el("select");
    how.dataset.skipFor = rowKey(c);
    how.setAttribute("aria-label", "skip for");
    for (const [value, label] of [["", "this build"], ["1d", "1 day"], ["7d", "7 days"]]) {
      const o = el("option", label);
      o.value = value;
      how.appendChild(o);
    }
    act("Skip", "skip", "plain");
    cell.insertBefore(how, cell.lastChild);
  }
  return cell;
}

function containerRow(c, acting) {
  const labels = el("td");
  for (const [k, v] of Object.entries(c.labels)) {
    labels.appendChild(el("span", `${k.replace("com.centurylinklabs.watchtower.", "")}=${v}`, "label"));
  }
  const why = td(c.detail);
  // What happens next, and when (in the page's time zone): "updated at the next cycle 12:05".
  if (c.next) why.appendChild(el("span", `next: ${c.next}${c.next_at ? " " + when(c.next_at) : ""}`, "note next"));
  const note = c.action || notes[rowKey(c)];
  if (note && note !== c.detail) why.appendChild(el("span", note, "note action-note"));
  if (c.rollout) {
    const link = rolloutLink(c.rollout, `rollout ${c.rollout}`);
    link.classList.add("note");
    why.appendChild(link);
  }
  const name = el("td");
  const opener = el("button", c.name, "link");
  opener.type = "button";
  opener.dataset.history = rowKey(c);
  opener.title = "its history";
  name.appendChild(opener);
  const row = [
    td(c.host), name, badge(c.state), td(c.image, "mono"),
    td(short(c.image_id), "mono"), td(short(c.digest), "mono"), labels, why,
  ];
  row[1].dataset.container = c.name;
  if (acting) row.push(containerActions(c));
  const tr = el("tr");
  tr.dataset.key = rowKey(c);
  for (const cell of row) tr.appendChild(cell);
  return tr;
}

// ---- a container's history: its last results, from the audit stream, on a click -----

const histories = {};  // host/name -> the last answer, while its history is open

function historyRow(key, columns) {
  const tr = el("tr", null, "history");
  tr.dataset.historyOf = key;
  const cell = el("td");
  cell.colSpan = columns;
  const doc = histories[key];
  if (doc && doc.image && Object.keys(doc.image).length) cell.appendChild(imageLabels(doc.image));
  if (!doc) {
    cell.appendChild(el("span", "reading its history...", "muted"));
  } else if (!doc.history.length) {
    cell.appendChild(el("span", "no report about it yet", "muted"));
  } else {
    const table = el("table", null, "history");
    const head = el("tr");
    for (const h of ["when", "cycle", "result", "image"]) head.appendChild(el("th", h));
    table.appendChild(head);
    for (const h of doc.history) {
      const line = el("tr");
      line.dataset.status = h.status;
      line.append(td(when(h.at)), td(h.scan_id.slice(0, 8), "mono"), td(h.line), td(h.image, "mono"));
      table.appendChild(line);
    }
    cell.appendChild(table);
  }
  tr.appendChild(cell);
  return tr;
}

// The image's OCI labels: its source (a link only when the server found an http(s) URL;
// set as an attribute, never as markup), version and revision.
function imageLabels(image) {
  const line = el("p", null, "oci");
  line.appendChild(el("span", "image: ", "muted"));
  if (image.source) {
    line.appendChild(el("span", "source ", "muted"));
    if (image.source_link) {
      const a = el("a", image.source);
      a.href = image.source_link;
      a.rel = "noopener noreferrer";
      a.target = "_blank";
      a.dataset.oci = "source";
      line.appendChild(a);
    } else {
      line.appendChild(el("span", image.source, "mono"));
    }
    line.append(" ");
  }
  for (const key of ["version", "revision"]) {
    if (!image[key]) continue;
    line.appendChild(el("span", `${key} `, "muted"));
    const value = el("span", image[key], "mono");
    value.dataset.oci = key;
    line.append(value, " ");
  }
  return line;
}

async function readHistory(key) {
  const [host, name] = key.split("/");
  const path = `/api/containers/${encodeURIComponent(host)}/${encodeURIComponent(name)}/history`;
  try {
    const doc = await load(path);
    if (key in histories) histories[key] = doc;
  } catch (err) {
    if (key in histories) histories[key] = { history: [], error: err.message };
  }
}

async function toggleHistory(key) {
  if (key in histories) {
    delete histories[key];
    renderContainers();
    return;
  }
  histories[key] = null;
  renderContainers();
  await readHistory(key);
  renderContainers();
}

// At most this many rows are built at a time: 2,000 rows cost a second of style and layout
// (bench/dashboard_page.py); the counts, filters and sort still cover every container.
const PAGE_ROWS = 200;
let rowLimit = PAGE_ROWS;

function renderContainers() {
  const acting = canAct();
  document.querySelector("#containers .actions-col").hidden = !acting;
  const columns = acting ? 9 : 8;
  renderCounts();
  const shown = lastContainers.filter(matches).sort(compare);
  const rows = [];
  let group = null;
  const groupOf = (c) => (finder.group === "image" ? c.image : c.host);
  const ordered = finder.group
    ? shown.slice().sort((a, b) => (groupOf(a) < groupOf(b) ? -1 : groupOf(a) > groupOf(b) ? 1 : 0))
    : shown;
  const sizes = new Map();
  if (finder.group) for (const c of ordered) sizes.set(groupOf(c), (sizes.get(groupOf(c)) || 0) + 1);
  const built = ordered.slice(0, rowLimit);
  for (const c of built) {
    if (finder.group && groupOf(c) !== group) {
      group = groupOf(c);
      const tr = el("tr", null, "group");
      const cell = el("td", `${finder.group} ${group} (${sizes.get(group)})`);
      cell.colSpan = columns;
      tr.appendChild(cell);
      rows.push(tr);
    }
    rows.push(containerRow(c, acting));
    if (rowKey(c) in histories) rows.push(historyRow(rowKey(c), columns));
  }
  if (ordered.length > built.length) {
    const tr = el("tr", null, "more");
    const cell = el("td", `${ordered.length - built.length} more `, "muted");
    cell.colSpan = columns;
    const more = el("button", `show ${Math.min(PAGE_ROWS, ordered.length - built.length)} more`, "plain");
    more.type = "button";
    more.id = "more-rows";
    const all = el("button", "show all", "plain");
    all.type = "button";
    all.id = "all-rows";
    cell.append(more, " ", all);
    tr.appendChild(cell);
    rows.push(tr);
  }
  if (!rows.length) {
    const tr = el("tr");
    const cell = el("td", lastContainers.length
      ? "no container matches" : "no inventory yet: the containers show after the first cycle", "muted");
    cell.colSpan = columns;
    tr.appendChild(cell);
    rows.push(tr);
  }
  document.querySelector("#containers tbody").replaceChildren(...rows);
  document.getElementById("shown").textContent = built.length < shown.length
    ? `(${built.length} shown, ${shown.length} match, ${lastContainers.length} in all)`
    : `(${shown.length} of ${lastContainers.length})`;
  for (const th of document.querySelectorAll("#containers th[data-sort]")) {
    th.classList.toggle("sorted", th.dataset.sort === finder.sort);
    th.classList.toggle("desc", th.dataset.sort === finder.sort && finder.desc);
  }
}

async function refreshContainers() {
  const doc = await load("/api/containers");
  await Promise.all(Object.keys(histories).map(readHistory));  // the open ones, anew
  lastContainers = doc.containers;
  renderContainers();
  // For bench/dashboard_page.py: when the first answer's rows were in the page, and when
  // the frame showing them was painted (a task queued from the frame's rAF runs after it).
  if (!performance.getEntriesByName("containers-rendered").length) {
    performance.mark("containers-rendered");
    requestAnimationFrame(() => setTimeout(() => performance.mark("containers-painted"), 0));
  }
}

async function containerCommand(host, name, action, skipFor) {
  const key = `${host}/${name}`;
  const words = { update: "asking for an update", check: "checking", skip: "skipping", unskip: "stopping the skip" };
  notes[key] = `${words[action]}...`;
  const found = lastContainers.find((c) => rowKey(c) === key);
  if (found) { found.action = ""; renderContainers(); }
  const query = action === "skip" && skipFor ? `?for=${encodeURIComponent(skipFor)}` : "";
  try {
    const answer = await fetch(
      `/api/containers/${encodeURIComponent(host)}/${encodeURIComponent(name)}/${action}${query}`,
      { method: "POST", headers: authHeaders() },
    );
    const doc = await answer.json();
    notes[key] = doc.action || `refused (${answer.status}): ${doc.error}`;
  } catch (err) {
    notes[key] = `failed: ${err.message}`;
  }
  await refreshContainers().catch(() => {});
  // The server's word on the row from now on (it drops a check's note once a report says more).
  const now = lastContainers.find((c) => rowKey(c) === key);
  if (now && now.action) delete notes[key];
}

function containerControls() {
  const form = document.getElementById("finder");
  form.addEventListener("submit", (e) => e.preventDefault());
  const bind = (id, key, event) => document.getElementById(id).addEventListener(event, (e) => {
    finder[key] = e.target.value;
    renderContainers();
  });
  bind("f-state", "state", "change");
  bind("f-host", "host", "change");
  bind("f-text", "text", "input");
  bind("f-group", "group", "change");
  document.getElementById("counts").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-count]");
    if (!b) return;
    finder.state = finder.state === b.dataset.count ? "" : b.dataset.count;
    document.getElementById("f-state").value = finder.state;
    renderContainers();
  });
  document.querySelector("#containers thead").addEventListener("click", (e) => {
    const th = e.target.closest("th[data-sort]");
    if (!th) return;
    if (finder.sort === th.dataset.sort) finder.desc = !finder.desc;
    else { finder.sort = th.dataset.sort; finder.desc = false; }
    renderContainers();
  });
  document.querySelector("#containers tbody").addEventListener("click", (e) => {
    if (e.target.id === "more-rows" || e.target.id === "all-rows") {
      rowLimit = e.target.id === "all-rows" ? Infinity : rowLimit + PAGE_ROWS;
      renderContainers();
      return;
    }
    const opener = e.target.closest("button[data-history]");
    if (opener) {
      toggleHistory(opener.dataset.history);
      return;
    }
    const b = e.target.closest("button[data-act]");
    if (!b || !canAct()) return;
    const { act, host, name } = b.dataset;
    const how = b.parentElement.querySelector("select[data-skip-for]");
    containerCommand(host, name, act, how ? how.value : "");
  });
}

async function refreshCycles() {
  const doc = await load("/api/cycles");
  fill("cycles", doc.cycles.map((c) => {
    const counts = Object.entries(c.counts).map(([s, n]) => `${n} ${s.replace("_", " ")}`);
    const outcome = c.failed ? `FAILED${c.problems.length ? ": " + c.problems.join("; ") : ""}` : "ok";
    return [td(when(c.finished_at)), td(c.host), td(c.scan_id.slice(0, 8), "mono"),
      td(counts.join(", ") || "nothing"), td(outcome, c.failed ? "live-other" : "")];
  }), "no cycle yet", 5);
}

const canAct = () => document.body.dataset.canTrigger === "true";
let confirming = null;  // the rollout whose Abort was clicked once: it asks again
let lastRollouts = { exists: false, rollouts: [] };

// A typed token goes as the header; else a signed-in user's session cookie goes with the
// page's CSRF token (auth_guard: the server refuses a cookie without it).
function authHeaders() {
  const typed = tokenValue();
  const csrf = document.body.dataset.csrf;
  const headers = typed || !csrf ? { Authorization: `Bearer ${typed}` } : {};
  if (csrf) headers["X-CSRF-Token"] = csrf;
  return headers;
}

function signedIn() {
  const { user, role, csrf } = document.body.dataset;
  if (!user) return;
  document.getElementById("user").textContent = `signed in as ${user} (${role})`;
  document.getElementById("signed-in").hidden = false;
  if (role === "operator") document.getElementById("token").hidden = true;
  document.getElementById("sign-out").addEventListener("click", async () => {
    await fetch("/auth/logout", { method: "POST", headers: { "X-CSRF-Token": csrf } });
    window.location.assign("/auth/signed-out");
  });
}

function tokenValue() {
  const token = document.getElementById("token").value;
  sessionStorage.setItem("vigil-dashboard-token", token);
  return token;
}

async function rolloutCommand(id, action) {
  const result = document.getElementById("rollout-result");
  result.textContent = `asking the rollout-coordinator to ${action} ${id}...`;
  try {
    const answer = await fetch(`/api/rollouts/${encodeURIComponent(id)}/${action}`, {
      method: "POST", headers: authHeaders(),
    });
    const doc = await answer.json();
    result.textContent = answer.ok
      ? `rollout ${id} ${{ approve: "approved", resume: "resumed", abort: "aborted" }[action]}: now ${doc.rollouts[0].state}`
      : `refused (${answer.status}): ${doc.error}`;
  } catch (err) {
    result.textContent = `failed: ${err.message}`;
  }
  soon();
}

function button(label, action, id, cls) {
  const b = el("button", label, cls);
  b.type = "button";
  b.dataset.action = action;
  b.dataset.rollout = id;
  return b;
}

function actionsCell(r) {
  const cell = el("td", null, "actions");
  if (confirming === r.rollout_id && r.actions.includes("abort")) {
    cell.appendChild(el("span", "put every host back? ", "muted"));
    cell.appendChild(button("Yes, abort", "confirm-abort", r.rollout_id, "danger"));
    cell.appendChild(button("Cancel", "cancel", r.rollout_id, "plain"));
    return cell;
  }
  const labels = { approve: "Approve", resume: "Resume", abort: "Abort" };
  for (const action of r.actions) {
    cell.appendChild(button(labels[action], action, r.rollout_id, action === "abort" ? "danger" : ""));
  }
  return cell;
}

function renderRollouts() {
  const doc = lastRollouts;
  const acting = canAct();
  document.querySelector("#rollouts .actions-col").hidden = !acting;
  const empty = doc.error ? `no rollouts readable (${doc.error})` : "no rollouts";
  fill("rollouts", (doc.exists ? doc.rollouts : []).map((r) => {
    const hosts = `${r.done} done, ${r.pending} pending, ${r.failed} failed`;
    const row = [
      td(r.rollout_id, "mono"), td(r.image, "mono"), td(r.build, "mono"), badge(r.state),
      td(r.waves ? `${r.wave}/${r.waves}` : "-"), td(hosts), td(r.waits_for),
      td(r.soak_ends_at ? when(r.soak_ends_at) : "-"),
    ];
    row[0].replaceChildren(rolloutLink(r.rollout_id, r.rollout_id));
    row[0].dataset.rollout = r.rollout_id;
    row[5].title = Object.entries(r.hosts).map(([h, s]) => `${h}: ${s}`).join("\n");
    if (acting) row.push(actionsCell(r));
    return row;
  }), empty, acting ? 9 : 8);
}

async function refreshRollouts() {
  lastRollouts = await load("/api/rollouts");
  renderRollouts();
  if (openRollout) await readRolloutPage();
}

// ---- a rollout's page: its waves, each host's state, the soak's countdown, every step ----
// Reached from the rollouts list and from a container's row; its address is #rollout=ID.

let openRollout = "";
let rolloutDoc = null;

function rolloutLink(id, text) {
  const b = el("button", text, "link mono");
  b.type = "button";
  b.dataset.openRollout = id;
  b.title = "the rollout's page";
  return b;
}

async function readRolloutPage() {
  const id = openRollout;
  try {
    const doc = await load(`/api/rollouts/${encodeURIComponent(id)}`);
    if (id === openRollout) rolloutDoc = doc;
  } catch (err) {
    if (id === openRollout) rolloutDoc = { error: err.message };
  }
  renderRolloutPage();
}

function soakText(doc, now) {
  const r = doc.rollout;
  if (r.soak_ends_at) {
    const left = Math.max(0, Math.ceil(r.soak_ends_at - now));
    return left > 0
      ? `soak of wave ${r.wave} ends in ${left} s (at ${when(r.soak_ends_at)}), then wave ${r.wave + 1} of ${r.waves}`
      : `soak of wave ${r.wave} ended at ${when(r.soak_ends_at)}: wave ${r.wave + 1} starts`;
  }
  return `soak: ${doc.soak_s} s after each wave${r.state === "done" ? " (every wave done)" : ""}`;
}

function tickSoak() {
  if (!rolloutDoc || rolloutDoc.error) return;
  document.getElementById("rollout-soak").textContent = soakText(rolloutDoc, Date.now() / 1000);
}

function renderRolloutPage() {
  const page = document.getElementById("rollout-page");
  page.hidden = !openRollout;
  if (!openRollout) return;
  document.getElementById("rollout-id").textContent = openRollout;
  const summary = document.getElementById("rollout-summary");
  const doc = rolloutDoc;
  if (!doc || doc.error) {
    summary.textContent = doc ? `cannot read it: ${doc.error}` : "reading the rollout...";
    document.getElementById("rollout-soak").textContent = "";
    fill("rollout-waves", [], "-", 3);
    fill("rollout-steps", [], "-", 5);
    return;
  }
  const r = doc.rollout;
  summary.replaceChildren(
    el("span", r.image, "mono"), " @ ", el("span", r.build, "mono"), " ",
    el("span", r.state, `badge state-${r.state}`),
    ` wave ${r.waves ? r.wave : 0} of ${r.waves}; hosts ${r.done} done, ${r.pending} pending, ${r.failed} failed`,
    r.waits_for ? `; waits for ${r.waits_for}` : "", doc.reason ? ` (${doc.reason})` : "",
  );
  summary.dataset.state = r.state;
  tickSoak();
  fill("rollout-waves", doc.waves.map((w) => {
    const hosts = el("td");
    for (const h of w.hosts) {
      const item = el("span", null, "wave-host");
      item.dataset.host = h.host;
      item.dataset.state = h.state;
      item.title = [h.status, h.containers.join(", "), h.error, when(h.at)].filter(Boolean).join("\n");
      item.append(h.host, " ", el("span", h.state, `badge state-${h.state}`));
      if (h.error) item.appendChild(el("span", h.error, "note"));
      hosts.appendChild(item);
    }
    const state = badge(w.state);
    return [td(`wave ${w.number}`), state, hosts];
  }), "no waves (no host runs the image)", 3);
  fill("rollout-steps", doc.steps.map((s) => [
    td(when(s.at)), td(s.step.replace(/_/g, " ")), td(s.wave), td(s.hosts.join(", ")), td(s.detail),
  ]), "no step in the audit stream read so far", 5);
}

async function showRollout(id) {
  openRollout = id;
  rolloutDoc = null;
  if (id) history.replaceState(null, "", `#rollout=${encodeURIComponent(id)}`);
  else history.replaceState(null, "", location.pathname);
  renderRolloutPage();
  if (!id) return;
  document.getElementById("rollout-page").scrollIntoView({ block: "start" });
  await readRolloutPage();
}

function rolloutPageControls() {
  document.addEventListener("click", (e) => {
    const link = e.target.closest("button[data-open-rollout]");
    if (link) showRollout(link.dataset.openRollout);
  });
  document.getElementById("rollout-close").addEventListener("click", () => showRollout(""));
  const asked = /^#rollout=([A-Za-z0-9_-]{1,64})$/.exec(location.hash);
  if (asked) showRollout(asked[1]);
  setInterval(tickSoak, 1000);  // the countdown, between the server's answers
}

function rolloutButtons() {
  document.querySelector("#rollouts tbody").addEventListener("click", (click) => {
    const b = click.target.closest("button[data-action]");
    if (!b || !canAct()) return;
    const { action, rollout } = b.dataset;
    if (action === "abort") confirming = rollout;  // asks again in the row
    else if (action === "cancel") confirming = null;
    else {
      confirming = null;
      rolloutCommand(rollout, action === "confirm-abort" ? "abort" : action);
    }
    renderRollouts();
  });
}

async function refreshAll() {
  const parts = [refreshHosts(), refreshContainers(), refreshCycles(), refreshRollouts()];
  const results = await Promise.allSettled(parts);
  const failed = results.filter((r) => r.status === "rejected");
  document.getElementById("updated-at").textContent = failed.length
    ? `could not reach the dashboard (${failed[0].reason.message})`
    : `updated ${when(Date.now() / 1000)}`;
}

let pending = null;
function soon() {  // many events in a burst: one reload
  if (pending) return;
  pending = setTimeout(() => { pending = null; refreshAll(); }, 300);
}

// The event stream: the page follows it live; when it drops (Vigil restarted, the network)
// a banner says so until it is back, and the page reconnects on its own (EventSource does,
// every 2 s as the server's retry says; a stream the browser gave up on is opened anew).
let source = null;
let dropped = false;

function streamLost() {
  dropped = true;
  document.getElementById("stream-state").textContent = "(reconnecting)";
  const banner = document.getElementById("banner");
  banner.textContent = "Lost the connection to Vigil: reconnecting... The page shows what it had.";
  banner.hidden = false;
  if (source && source.readyState === EventSource.CLOSED) {
    source = null;
    setTimeout(follow, 2000);
  }
}

function streamBack() {
  document.getElementById("stream-state").textContent = "(live)";
  document.getElementById("banner").hidden = true;
  // The server sends its recent events again on each connection: show them once.
  document.getElementById("events").replaceChildren();
  if (dropped) { dropped = false; refreshAll(); }
}

function follow() {
  const list = document.getElementById("events");
  source = new EventSource("/api/events");
  source.onopen = streamBack;
  source.onerror = streamLost;
  source.addEventListener("audit", (message) => {
    const event = JSON.parse(message.data);
    list.insertBefore(el("li", event.line), list.firstChild);
    while (list.children.length > 200) list.removeChild(list.lastChild);
    if (event.kind !== "progress") soon();
  });
  source.addEventListener("checked", soon);
}

function triggerButton() {
  if (document.body.dataset.canTrigger !== "true") return;  // read-only: no buttons
  const form = document.getElementById("trigger-form");
  const token = document.getElementById("token");
  const result = document.getElementById("trigger-result");
  token.value = sessionStorage.getItem("vigil-dashboard-token") || "";
  form.hidden = false;
  form.addEventListener("submit", async (submit) => {
    submit.preventDefault();
    sessionStorage.setItem("vigil-dashboard-token", token.value);
    result.textContent = "asking...";
    try {
      const answer = await fetch("/api/trigger", {
        method: "POST", headers: authHeaders(),
      });
      const doc = await answer.json();
      result.textContent = answer.ok
        ? `cycle ${doc.scan_id.slice(0, 8)} asked of ${doc.hosts.join(", ")}`
        : `refused: ${doc.error}`;
    } catch (err) {
      result.textContent = `failed: ${err.message}`;
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  containerControls();
  signedIn();
  triggerButton();
  rolloutButtons();
  rolloutPageControls();
  follow();
  refreshAll();
  setInterval(refreshAll, 5000);  // liveness ages even when nothing happens
});
