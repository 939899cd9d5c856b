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
    td((h.scanner || h.executor || {}).version || "-"), td(lastCycle(h.executor)),
  ]), "no heartbeat yet", 5);
  const fleet = doc.fleet.map((b) => `${b.role}: ${b.state}`).join(" · ");
  document.getElementById("fleet").textContent = fleet ? `fleet services: ${fleet}` : "";
}

async function refreshContainers() {
  const doc = await load("/api/containers");
  fill("containers", doc.containers.map((c) => {
    const labels = el("td");
    for (const [k, v] of Object.entries(c.labels)) {
      labels.appendChild(el("span", `${k.replace("com.centurylinklabs.watchtower.", "")}=${v}`, "label"));
    }
    const row = [
      td(c.host), td(c.name), badge(c.state), td(c.image, "mono"),
      td(short(c.image_id), "mono"), td(short(c.digest), "mono"), labels, td(c.detail),
    ];
    row[1].dataset.container = c.name;
    return row;
  }), "no inventory yet: the containers show after the first cycle", 8);
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
      method: "POST", headers: { Authorization: `Bearer ${tokenValue()}` },
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
    row[0].dataset.rollout = r.rollout_id;
    row[5].title = Object.entries(r.hosts).map(([h, s]) => `${h}: ${s}`).join("\n");
    if (acting) row.push(actionsCell(r));
    return row;
  }), empty, acting ? 9 : 8);
}

async function refreshRollouts() {
  lastRollouts = await load("/api/rollouts");
  renderRollouts();
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

function follow() {
  const list = document.getElementById("events");
  const state = document.getElementById("stream-state");
  const source = new EventSource("/api/events");
  source.onopen = () => { state.textContent = "(live)"; };
  source.onerror = () => { state.textContent = "(reconnecting)"; };
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
        method: "POST", headers: { Authorization: `Bearer ${token.value}` },
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
  triggerButton();
  rolloutButtons();
  follow();
  refreshAll();
  setInterval(refreshAll, 5000);  // liveness ages even when nothing happens
});
