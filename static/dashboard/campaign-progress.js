// Live counts of a campaign page (plain ES module, no build step): asks the page's
// progress.json every few seconds while the tab is visible and updates the numbers and
// the state badge in place. Polling, not a socket: see dashboard/campaign_views.py.

const grid = document.getElementById("campaign-progress");
const indicator = document.getElementById("live-indicator");
const MAX_BACKOFF_MS = 60000;

function setState(state, text) {
  if (!indicator) return;
  indicator.dataset.state = state;
  indicator.textContent = text;
}

function apply(progress) {
  for (const [state, count] of Object.entries(progress.counts)) {
    const el = grid.querySelector(`.count[data-state="${state}"]`);
    if (el && el.textContent !== String(count)) {
      el.textContent = String(count);
      el.parentElement.classList.add("flash");
      setTimeout(() => el.parentElement.classList.remove("flash"), 1500);
    }
  }
  document.getElementById("progress-done").textContent = String(progress.done);
  document.getElementById("progress-total").textContent = String(progress.total);
  const badge = document.getElementById("campaign-state");
  if (badge && !badge.classList.contains(`campaign-${progress.state}`)) {
    badge.className = `badge campaign-${progress.state}`;
    badge.textContent = progress.state_label;
  }
  // The buttons that apply to the state now (a colleague may have paused it).
  for (const form of document.querySelectorAll("form.state-action")) {
    form.hidden = !form.dataset.states.split(" ").includes(progress.state);
  }
}

if (grid) {
  const every = (Number.parseInt(grid.dataset.pollSeconds, 10) || 3) * 1000;
  let delay = every;
  let timer = null;
  let busy = false; // a request in flight or a poll scheduled: never two loops

  async function poll() {
    timer = null;
    if (document.visibilityState !== "visible") { busy = false; return; } // resumed by visibilitychange
    busy = true;
    try {
      const response = await fetch(grid.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      apply(await response.json());
      setState("live", "live");
      delay = every;
    } catch (error) {
      setState("offline", "reconnecting…");
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);
    }
    timer = setTimeout(poll, delay);
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !busy) poll();
  });
  poll();
}
