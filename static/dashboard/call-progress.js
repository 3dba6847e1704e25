// Live progress of one phone call on its dashboard page (plain ES module, no build step).
// The server broadcasts `lead.updated` on the leads socket when the carrier reports the
// line's state (ringing, answered, ...) and when the call starts or ends; this shows the
// state in words and reloads the page once the call has ended, to show its answers.

const el = document.getElementById("call-progress");
const WORDS = {
  queued: "dialling…", initiated: "dialling…", ringing: "ringing…", answered: "answered",
  "in-progress": "on the line", completed: "call ended", busy: "line busy", "no-answer": "no answer",
  failed: "call failed", canceled: "cancelled",
};

function show(state, text) {
  el.dataset.state = state;
  el.textContent = text;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/ws/dashboard/leads/`);
  socket.addEventListener("message", (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    if (message.type !== "lead.updated" || message.call_id !== el.dataset.callId) return;
    if (message.status === "ended") {
      show("live", "call ended");
      setTimeout(() => location.reload(), 800);
    } else if (message.progress && WORDS[message.progress]) {
      show("live", WORDS[message.progress]);
    } else if (message.status === "active") {
      show("live", "on the line");
    }
  });
  socket.addEventListener("close", () => setTimeout(connect, 3000));
}

if (el) connect();
