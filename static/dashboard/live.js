// Live lead updates for the dashboard list (plain ES module, no build step).
// The server renders each row (dashboard/_lead_row.html); this only swaps HTML,
// keeps qualified leads on top, refreshes callback countdowns and reconnects
// with exponential backoff.

const table = document.querySelector("table.leads");
const rows = document.getElementById("lead-rows");
const indicator = document.getElementById("live-indicator");
const MAX_BACKOFF_MS = 30000;
let backoff = 1000;

function setState(state, text) {
  if (!indicator) return;
  indicator.dataset.state = state;
  indicator.textContent = text;
}

function rowFromHtml(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  return template.content.querySelector("tr");
}

// Qualified rows go first, others right after the last qualified one (newest first in each group).
function insertRow(row) {
  rows.querySelector("tr.empty")?.remove();
  if (row.dataset.outcome === "qualified") {
    rows.prepend(row);
    return;
  }
  const firstOther = [...rows.querySelectorAll("tr.lead")].find((r) => r.dataset.outcome !== "qualified");
  rows.insertBefore(row, firstOther ?? null);
}

// The "N calls" header follows the rows that arrive live.
function countOneMore() {
  const el = document.getElementById("lead-count");
  if (!el) return;
  const n = (Number.parseInt(el.dataset.count, 10) || 0) + 1;
  el.dataset.count = String(n);
  el.textContent = `${n} call${n === 1 ? "" : "s"}`;
}

function applyUpdate(message) {
  const row = rowFromHtml(message.html);
  if (!row) return;
  const existing = document.getElementById(row.id);
  const canInsert = table?.dataset.liveInserts === "1";
  if (existing) {
    const sameGroup = (existing.dataset.outcome === "qualified") === (row.dataset.outcome === "qualified");
    if (sameGroup) existing.replaceWith(row);
    else { existing.remove(); insertRow(row); }
  } else if (canInsert) {
    insertRow(row);
    countOneMore();
  } else {
    return; // filtered or later page: leave the list as the agent asked for it
  }
  row.classList.add("flash");
  setTimeout(() => row.classList.remove("flash"), 2600);
}

function minutesText(minutes) {
  minutes = Math.max(minutes, 1);
  if (minutes < 90) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}

// Same wording as dashboard.leads.callback_of, recomputed so a page left open stays right.
function refreshCallbacks() {
  const now = Date.now();
  for (const el of document.querySelectorAll(".callback[data-due]")) {
    const seconds = (Date.parse(el.dataset.due) - now) / 1000;
    const overdue = seconds < 0;
    const text = overdue
      ? `⚠ overdue by ${minutesText(Math.floor(-seconds / 60))}`
      : `due in ${minutesText(Math.ceil(seconds / 60))}`;
    el.textContent = text;
    el.classList.toggle("overdue", overdue);
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/ws/dashboard/leads/`);
  setState("connecting", "connecting…");
  socket.addEventListener("open", () => {
    backoff = 1000;
    setState("live", "live");
  });
  socket.addEventListener("message", (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    if (message.type === "lead.updated" && message.html) applyUpdate(message);
  });
  // A refused handshake (session expired) also lands here; the backoff keeps retries cheap.
  socket.addEventListener("close", () => {
    setState("offline", "offline, reconnecting…");
    const delay = backoff * (0.75 + Math.random() * 0.5);
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    setTimeout(connect, delay);
  });
}

if (rows) {
  connect();
  refreshCallbacks();
  setInterval(refreshCallbacks, 30000);
}
