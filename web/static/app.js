// jobledger dashboard: confirmations for action buttons, live rows from the event stream,
// the chain verification's progress. Every page works without this file except the live parts.
"use strict";

const csrf = () => document.body.dataset.csrf || "";

// --- actions: confirm, then POST with the session's CSRF token --------------------------------
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-action]");
  if (!link) return;
  event.preventDefault();
  const { action, handle, back } = link.dataset;
  if (!window.confirm(`${action[0].toUpperCase()}${action.slice(1)} ${handle}?`)) return;
  const form = document.createElement("form");
  form.method = "post";
  form.action = `/actions/${encodeURIComponent(action)}/${encodeURIComponent(handle)}`;
  for (const [name, value] of [["csrf", csrf()], ["back", back || location.pathname + location.search]]) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.append(input);
  }
  document.body.append(form);
  form.submit();
});

// --- live: an EventSource on /v1/events that resumes from the last position it saw --------------
function follow(query, after, onEvent) {
  const status = document.getElementById("live");
  const source = new EventSource(`/v1/events?after=${after}${query ? "&" + query : ""}`);
  const say = (text, on) => {
    if (!status) return;
    status.textContent = text;
    status.className = `live ${on ? "on" : "off"}`;
  };
  source.onopen = () => say("live", true);
  source.onerror = () => say("reconnecting…", false); // the browser retries with Last-Event-ID
  source.onmessage = null;
  const handler = (message) => {
    const record = JSON.parse(message.data);
    const position = document.getElementById("position");
    if (position) position.textContent = record.position;
    onEvent(record);
  };
  for (const name of ["Submitted", "Started", "ProgressUpdated", "DetailLogged", "StopRequested",
    "Completed", "Deleted", "IdempotencyKeyClaimed", "Scheduled", "Paused", "Resumed", "Fired",
    "ScheduleDeleted", "ScheduleCompleted", "TokenIssued", "TokenRevoked"]) {
    source.addEventListener(name, handler);
  }
  return source;
}

function ago(iso) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m ago`;
  return `${Math.floor(seconds / 86400)}d${Math.floor((seconds % 86400) / 3600)}h ago`;
}

// A ProgressUpdated event shown in its run's row: bar, percentage, message, server, last update.
function showProgress(row, record) {
  const fields = record.fields;
  const bar = row.querySelector("progress");
  if (bar) {
    bar.value = fields.progress;
    bar.textContent = `${fields.progress}%`;
  }
  const set = (name, text) => {
    const cell = row.querySelector(`[data-field="${name}"]`);
    if (cell) cell.textContent = text;
  };
  set("progress", `${fields.progress}%`);
  set("progressMessage", fields.progressMessage || "");
  if (fields.serverName) set("serverName", fields.serverName);
  const updated = row.querySelector('[data-field="lastUpdate"]');
  if (updated) {
    updated.dataset.time = record.timestamp;
    updated.textContent = ago(record.timestamp);
  }
  row.classList.remove("stalled");
}

function activeList(table) {
  const body = table.tBodies[0];
  const rows = new Map();
  for (const row of body.querySelectorAll("tr[data-handle]")) rows.set(row.dataset.handle, row);
  const refreshed = new Map(); // handle -> when its row was last fetched (the ETA moves slowly)
  const latest = new Map(); // handle -> its newest ProgressUpdated record seen on the stream
  const pending = new Set();
  const count = () => {
    const counter = document.getElementById("run-count");
    if (counter) counter.textContent = rows.size;
    const empty = body.querySelector("tr.empty");
    if (empty) empty.hidden = rows.size > 0;
  };
  const remove = (handle) => {
    const row = rows.get(handle);
    if (row) row.remove();
    rows.delete(handle);
    latest.delete(handle);
    count();
  };
  // One run's row as the server renders it, with this page's filters (none: it left the list).
  const refresh = async (handle, position) => {
    if (pending.has(handle)) return;
    pending.add(handle);
    refreshed.set(handle, Date.now());
    try {
      const query = new URLSearchParams(table.dataset.filters);
      query.set("jobHandle", handle);
      query.set("minPosition", position);
      const answer = await fetch(`/fragments/active-rows?${query}`, { headers: { accept: "text/html" } });
      if (!answer.ok) return;
      const holder = document.createElement("tbody");
      holder.innerHTML = await answer.text();
      const fresh = holder.querySelector("tr[data-handle]");
      const old = rows.get(handle);
      // Progress that came on the stream while the row was fetched is newer than the row.
      const newer = latest.get(handle);
      if (fresh && newer && newer.position > Number(fresh.dataset.position)) showProgress(fresh, newer);
      if (!fresh) {
        remove(handle);
      } else if (old) {
        old.replaceWith(fresh);
        rows.set(handle, fresh);
      } else {
        fresh.classList.add("flash");
        body.append(fresh);
        rows.set(handle, fresh);
        count();
      }
    } finally {
      pending.delete(handle);
    }
  };
  follow(table.dataset.live, table.dataset.position, (record) => {
    const handle = record.handle;
    const row = rows.get(handle);
    switch (record.event) {
      case "Completed":
      case "Deleted":
        remove(handle);
        break;
      case "ProgressUpdated":
        latest.set(handle, record);
        if (!row) break;
        showProgress(row, record);
        if (Date.now() - (refreshed.get(handle) || 0) > 5000) refresh(handle, record.position);
        break;
      default: // Submitted, Started, StopRequested: the row appears or changes state
        refresh(handle, record.position);
    }
  });
  setInterval(() => {
    for (const cell of body.querySelectorAll('[data-field="lastUpdate"][data-time]')) {
      if (cell.dataset.time) cell.textContent = ago(cell.dataset.time);
    }
  }, 5000);
}

function eventLog(table) {
  const body = table.tBodies[0];
  const cell = (text) => {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  };
  follow(table.dataset.live, table.dataset.position, (record) => {
    const row = document.createElement("tr");
    row.className = "flash";
    const time = new Date(record.timestamp);
    const fields = Object.entries(record.fields)
      .filter(([, value]) => value !== null && value !== "" && value !== false)
      .map(([key, value]) => `${key}=${typeof value === "object" ? (Array.isArray(value) ? `[${value.length}]` : Object.keys(value)[0]) : value}`)
      .join(" ");
    const link = document.createElement("td");
    if (record.handle) {
      const a = document.createElement("a");
      a.href = `/runs/${encodeURIComponent(record.handle)}`;
      a.textContent = record.handle;
      link.append(a);
    }
    const numbered = cell(record.position);
    numbered.className = "num";
    const company = cell(record.companyHandle || "");
    company.className = "wide";
    const summary = cell(fields.length > 160 ? fields.slice(0, 159) + "…" : fields);
    summary.className = "wide fields";
    row.append(numbered, cell(time.toISOString().slice(11, 19)), cell(record.event), link, company, summary);
    const empty = body.querySelector("tr.empty");
    if (empty) empty.remove();
    body.prepend(row);
    while (body.rows.length > 500) body.deleteRow(-1);
  });
}

function verification(box) {
  const bar = document.getElementById("verify-progress");
  const text = document.getElementById("verify-text");
  const poll = async () => {
    const answer = await fetch("/audit/verification");
    if (!answer.ok) return;
    const state = await answer.json();
    bar.max = state.total || 1;
    bar.value = state.checked;
    text.textContent = state.text;
    if (state.running) {
      setTimeout(poll, 300);
    } else {
      box.dataset.running = "false";
      const button = document.querySelector("#verify-form button");
      if (button) button.disabled = false;
    }
  };
  poll();
}

document.addEventListener("DOMContentLoaded", () => {
  const active = document.getElementById("active");
  if (active && active.dataset.live !== undefined) activeList(active);
  const events = document.getElementById("events");
  if (events && events.dataset.live !== undefined) eventLog(events);
  const box = document.getElementById("verification");
  if (box && box.dataset.running === "true") verification(box);
});
