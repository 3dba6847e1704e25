// The caller demo page: wires the form, the call protocol and the audio.
//
// One call at a time. The page moves through
//   idle → starting (POST /api/calls/) → connecting (WebSocket) → live
//   (after call.started) → ended | disconnected → idle ("Start another call").
// Everything the server says is rendered as it arrives; nothing waits for a
// whole sentence or a whole turn. `window.demoState` mirrors the call for
// browser tests, which poll it instead of scraping text.

import { CallConnection, CallError, CLOSE_REASONS, listBots, startCall } from "./protocol.js";
import { MicCapture, MIC_RATE, Player, micErrorMessage } from "./audio.js";

const $ = (id) => document.getElementById(id);

const el = {
  root: $("demo"),
  form: $("call-form"),
  bot: $("bot-select"),
  botDescription: $("bot-description"),
  name: $("caller-name"),
  phone: $("caller-phone"),
  modeVad: $("mode-vad"),
  modePtt: $("mode-ptt"),
  modeFieldset: $("mode-fieldset"),
  modeHint: $("mode-hint"),
  start: $("start-call"),
  startError: $("start-error"),
  status: $("status"),
  botSpeaking: $("bot-speaking"),
  callerState: $("caller-state"),
  micState: $("mic-state"),
  micLabel: $("mic-label"),
  micLevel: $("mic-level"),
  micError: $("mic-error"),
  notice: $("notice"),
  noticeText: $("notice-text"),
  noticeDismiss: $("notice-dismiss"),
  talkArea: $("talk-area"),
  talk: $("talk-button"),
  textForm: $("text-form"),
  textInput: $("text-input"),
  textSend: $("text-send"),
  hangup: $("hangup"),
  outcome: $("outcome"),
  outcomeTitle: $("outcome-title"),
  outcomeReason: $("outcome-reason"),
  newCall: $("new-call"),
  transcript: $("transcript"),
  transcriptEmpty: $("transcript-empty"),
  answers: $("answers"),
  answersEmpty: $("answers-empty"),
  latencyEmpty: $("latency-empty"),
  latencyBody: document.querySelector("#latency tbody"),
  median: $("median-response"),
};

const MODE_HINTS = {
  vad: "The bot hears you whenever you speak and notices when you stop.",
  push_to_talk: "Hold the talk button (or the Space bar) while you speak, then let go.",
};

const OUTCOMES = {
  qualified: "Qualified",
  rejected: "Rejected",
  incomplete: "Incomplete",
  error: "Error",
  disconnected: "Disconnected",
};

// Public, test-facing view of the call (window.demoState; read by tests/browser/test_demo_page.py).
const demoState = {
  callId: null,
  status: "idle", // idle | starting | connecting | live | ended | disconnected
  outcome: null, // qualified | rejected | incomplete | error (from call.ended) | disconnected
  reason: null,
  mode: "vad",
  mic: "off", // off | starting | on | denied | unavailable
  botSpeaking: false,
  botAudioBytes: 0,
  framesSent: 0,
  answers: {},
  latency: [],
  medianResponseMs: null,
};
window.demoState = demoState;

// Private per-call state.
let call = null; // {conn, mic, player, mode, botName, ended, botTurnActive, talking, ...}

// ---------------------------------------------------------------- helpers

function setStatus(status, text) {
  demoState.status = status;
  el.root.dataset.state = status;
  el.status.dataset.status = status;
  el.status.textContent = text;
}

function show(node, visible) {
  node.hidden = !visible;
}

function humanize(key) {
  const s = String(key || "").replace(/[_-]+/g, " ").trim();
  return s ? s[0].toUpperCase() + s.slice(1) : "";
}

function humanReason(reason) {
  if (!reason) return "";
  const [code, detail] = String(reason).split(":", 2);
  const known = {
    all_answers_qualify: "Every answer met the bot's criteria.",
    caller_hangup: "You hung up before the questions were finished.",
    caller_disconnected: "The connection dropped before the questions were finished.",
    call_time_limit: "The call reached its time limit.",
    caller_silent: "No answer was heard, so the bot ended the call.",
    server_error: "The server hit an error.",
    too_many_protocol_errors: "The server received too many bad messages.",
  };
  if (code === "not_qualified" && detail) return `The answer to “${humanize(detail)}” does not qualify.`;
  if (code === "unclear" && detail) return `The answer to “${humanize(detail)}” stayed unclear.`;
  return known[code] || humanize(reason);
}

function formatMs(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return "—";
  // Cached prompts and rule-based understanding take well under a millisecond: show it.
  return v < 10 ? v.toFixed(1) : `${Math.round(v)}`;
}

function formatValue(value) {
  if (value === true) return "Yes";
  if (value === false) return "No";
  if (typeof value === "number") return value.toLocaleString();
  if (value === null || value === undefined) return "—";
  return String(value);
}

function median(values) {
  const xs = values.filter((v) => typeof v === "number" && Number.isFinite(v)).sort((a, b) => a - b);
  if (!xs.length) return null;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

function selectedMode() {
  return el.modePtt.checked ? "push_to_talk" : "vad";
}

// ---------------------------------------------------------------- notices

function showNotice(message, { kind = "notice" } = {}) {
  el.noticeText.textContent = message;
  el.notice.dataset.kind = kind;
  show(el.notice, true);
}

function hideNotice() {
  show(el.notice, false);
  el.noticeText.textContent = "";
}

function showMicError(message) {
  el.micError.textContent = message;
  show(el.micError, true);
}

// ---------------------------------------------------------------- bots

function fillBots(bots) {
  const current = el.bot.value;
  el.bot.replaceChildren();
  if (!bots.length) {
    const opt = new Option("No bots available", "");
    opt.disabled = true;
    el.bot.append(opt);
  }
  for (const bot of bots) {
    const opt = new Option(bot.name, bot.slug);
    opt.dataset.description = bot.description || "";
    el.bot.append(opt);
  }
  if (bots.some((b) => b.slug === current)) el.bot.value = current;
  updateBotDescription();
  updateStartEnabled();
}

function updateBotDescription() {
  const opt = el.bot.selectedOptions[0];
  el.botDescription.textContent = opt ? opt.dataset.description || "" : "";
}

function updateStartEnabled() {
  const idle = demoState.status === "idle";
  el.start.disabled = !idle || !el.bot.value;
}

async function refreshBots() {
  try {
    fillBots(await listBots());
  } catch {
    // Keep the server-rendered list; the start button reports any real problem.
  }
}

// ---------------------------------------------------------------- transcript / answers / latency

function updateEmptyStates() {
  show(el.transcriptEmpty, el.transcript.children.length === 0);
  show(el.answersEmpty, el.answers.children.length === 0);
  show(el.latencyEmpty, el.latencyBody.children.length === 0);
}

function transcriptLine(speaker, turn, text, { final = true } = {}) {
  const li = document.createElement("li");
  li.className = `line line-${speaker}`;
  li.dataset.speaker = speaker;
  li.dataset.turn = String(turn);
  li.dataset.final = String(final);
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = speaker === "bot" ? call?.botName || "Bot" : "You";
  const says = document.createElement("span");
  says.className = "text";
  says.textContent = text;
  li.append(who, says);
  return li;
}

function scrollTranscript() {
  el.transcript.scrollTop = el.transcript.scrollHeight;
}

function addBotLine(turn, text) {
  el.transcript.append(transcriptLine("bot", turn, text));
  updateEmptyStates();
  scrollTranscript();
}

function upsertCallerLine(turn, text, final) {
  const shown = text && text.trim() ? text : "(nothing was heard)";
  // Replace a partial transcript of the same turn instead of adding a line.
  const existing = el.transcript.querySelector(`li[data-speaker="caller"][data-turn="${CSS.escape(String(turn))}"]`);
  if (existing) {
    existing.querySelector(".text").textContent = shown;
    existing.dataset.final = String(final);
  } else {
    el.transcript.append(transcriptLine("caller", turn, shown, { final }));
  }
  updateEmptyStates();
  scrollTranscript();
}

function upsertAnswer(msg) {
  const key = String(msg.question);
  let li = el.answers.querySelector(`li[data-question="${CSS.escape(key)}"]`);
  if (!li) {
    li = document.createElement("li");
    li.className = "answer";
    li.dataset.question = key;
    li.innerHTML =
      '<span class="mark" aria-hidden="true"></span>' +
      '<span class="q"></span><span class="v"></span><span class="attempt"></span>';
    el.answers.append(li);
  }
  const ok = !!msg.understood;
  li.dataset.understood = String(ok);
  li.dataset.value = JSON.stringify(msg.value ?? null);
  li.dataset.attempt = String(msg.attempt ?? "");
  li.querySelector(".mark").textContent = ok ? "✓" : "✗";
  li.querySelector(".q").textContent = humanize(key);
  li.querySelector(".v").textContent = ok ? formatValue(msg.value) : "Not understood";
  li.querySelector(".attempt").textContent = msg.attempt ? `attempt ${msg.attempt}` : "";
  li.setAttribute(
    "aria-label",
    `${humanize(key)}: ${ok ? formatValue(msg.value) : "not understood"}${msg.attempt ? `, attempt ${msg.attempt}` : ""}`,
  );
  demoState.answers[key] = { value: msg.value ?? null, understood: ok, attempt: msg.attempt ?? null };
  updateEmptyStates();
}

function upsertLatency(msg) {
  const turn = String(msg.turn);
  let tr = el.latencyBody.querySelector(`tr[data-turn="${CSS.escape(turn)}"]`);
  if (!tr) {
    tr = document.createElement("tr");
    tr.dataset.turn = turn;
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = turn;
    tr.append(th);
    for (const stage of ["asr", "nlu", "tts_first_audio", "response"]) {
      const td = document.createElement("td");
      td.dataset.stage = stage;
      tr.append(td);
    }
    el.latencyBody.append(tr);
  }
  for (const stage of ["asr", "nlu", "tts_first_audio", "response"]) {
    const v = msg[`${stage}_ms`];
    const td = tr.querySelector(`td[data-stage="${stage}"]`);
    td.textContent = formatMs(v);
    td.dataset.ms = typeof v === "number" ? String(v) : "";
  }
  const row = { turn: msg.turn, asr_ms: msg.asr_ms ?? null, nlu_ms: msg.nlu_ms ?? null,
    tts_first_audio_ms: msg.tts_first_audio_ms ?? null, response_ms: msg.response_ms ?? null };
  const i = demoState.latency.findIndex((r) => r.turn === msg.turn);
  if (i >= 0) demoState.latency[i] = row;
  else demoState.latency.push(row);
  const m = median(demoState.latency.map((r) => r.response_ms));
  demoState.medianResponseMs = m;
  el.median.textContent = m === null ? "—" : `${Math.round(m)} ms`;
  el.median.dataset.ms = m === null ? "" : String(m);
  updateEmptyStates();
}

// ---------------------------------------------------------------- indicators

function updateSpeaking() {
  const active = !!call && (call.botTurnActive || call.player.playing);
  demoState.botSpeaking = active;
  el.botSpeaking.dataset.active = String(active);
}

function setCallerState(state) {
  const labels = { idle: "", listening: "Listening…", thinking: "Thinking…" };
  el.callerState.dataset.state = state;
  el.callerState.textContent = labels[state] ?? "";
}

function setMicState(state, label) {
  demoState.mic = state;
  el.micState.dataset.state = state;
  el.micLabel.textContent = label;
  if (state !== "on") el.micLevel.style.transform = "scaleX(0)";
}

let levelFrame = 0;
let levelPeak = 0;
function showLevel(peak) {
  if (demoState.mic !== "on") return;
  levelPeak = Math.max(levelPeak, peak);
  if (levelFrame) return;
  levelFrame = requestAnimationFrame(() => {
    levelFrame = 0;
    if (demoState.mic !== "on") return;
    // Perceptual-ish scale: speech peaks sit around 0.1–0.5.
    const v = Math.min(1, Math.sqrt(levelPeak) * 1.2);
    el.micLevel.style.transform = `scaleX(${v.toFixed(3)})`;
    levelPeak = 0;
  });
}

// ---------------------------------------------------------------- call controls

function setInCallControls(enabled) {
  el.textInput.disabled = !enabled;
  el.textSend.disabled = !enabled;
  el.hangup.disabled = !enabled;
  el.talk.disabled = !(enabled && call && call.mode === "push_to_talk" && call.mic && call.mic.active);
}

function setFormEnabled(enabled) {
  for (const node of el.form.querySelectorAll("input, select")) node.disabled = !enabled;
  updateStartEnabled();
}

function resetCallView() {
  el.transcript.replaceChildren();
  el.answers.replaceChildren();
  el.latencyBody.replaceChildren();
  el.median.textContent = "—";
  el.median.dataset.ms = "";
  show(el.outcome, false);
  el.outcome.removeAttribute("data-outcome");
  el.outcomeTitle.textContent = "";
  el.outcomeReason.textContent = "";
  show(el.micError, false);
  show(el.startError, false);
  hideNotice();
  setCallerState("idle");
  el.botSpeaking.dataset.active = "false";
  Object.assign(demoState, {
    callId: null, outcome: null, reason: null, botSpeaking: false, botAudioBytes: 0, framesSent: 0,
    answers: {}, latency: [], medianResponseMs: null,
  });
  updateEmptyStates();
}

async function onStartSubmit(ev) {
  ev.preventDefault();
  if (demoState.status !== "idle" || !el.bot.value) return;
  const mode = selectedMode();
  resetCallView();
  demoState.mode = mode;
  setFormEnabled(false);
  setStatus("starting", "Starting the call…");
  let started;
  try {
    started = await startCall({
      bot: el.bot.value,
      caller: { name: el.name.value.trim(), phone: el.phone.value.trim() },
      mode,
    });
  } catch (err) {
    const message = err instanceof CallError ? err.message : "The call could not be started.";
    el.startError.textContent = message;
    show(el.startError, true);
    setStatus("idle", "Not connected");
    setFormEnabled(true);
    el.start.focus();
    return;
  }
  openCall(started, mode);
}

function openCall(started, mode) {
  const conn = new CallConnection(started.ws_url);
  const player = new Player({ onIdle: onPlayerIdle, onStart: updateSpeaking });
  call = {
    conn, player, mode, mic: null,
    botName: started.bot?.name || el.bot.selectedOptions[0]?.textContent || "Bot",
    ended: false, live: false, botTurnActive: false, talking: false, flushing: false, holdFrames: 0,
  };
  demoState.callId = started.call_id;
  setStatus("connecting", `Connecting to ${call.botName}…`);

  const on = (type, fn) => conn.addEventListener(type, (e) => fn(e.detail));
  on("call.started", onCallStarted);
  on("audio", onBotAudio);
  on("bot.speech.started", (m) => {
    call.botTurnActive = true;
    addBotLine(m.turn, m.text || "");
    if (call.mode === "push_to_talk" && !call.talking) setCallerState("idle");
    updateSpeaking();
  });
  on("bot.speech.ended", () => {
    call.botTurnActive = false;
    updateSpeaking();
  });
  on("user.speech.started", () => setCallerState("listening"));
  on("user.speech.ended", () => setCallerState("thinking"));
  on("transcript", (m) => {
    upsertCallerLine(m.turn, m.text || "", m.final !== false);
    if (m.final !== false) setCallerState("thinking");
  });
  on("answer", upsertAnswer);
  on("latency", upsertLatency);
  on("playback.clear", (m) => {
    // Only call the line interrupted if some of it was actually cut off here;
    // the server may clear a turn whose audio this page already finished.
    const cut = call.player.playing || call.botTurnActive;
    call.player.clear();
    call.botTurnActive = false;
    const line = el.transcript.querySelector(`li[data-speaker="bot"][data-turn="${CSS.escape(String(m.turn))}"]`);
    if (line && cut) line.dataset.interrupted = "true";
    updateSpeaking();
  });
  on("error", (m) => {
    const text = m.message || "Something went wrong.";
    showNotice(m.fatal ? `The call failed: ${text}` : text, { kind: m.fatal ? "error" : "notice" });
  });
  on("call.ended", onCallEnded);
  on("close", onSocketClose);
  conn.connect();
}

async function onCallStarted(msg) {
  if (!call) return;
  call.live = true;
  demoState.callId = msg.call_id || demoState.callId;
  setStatus("live", `Connected to ${call.botName} · ${call.mode === "push_to_talk" ? "push to talk" : "hands-free"}`);
  show(el.talkArea, call.mode === "push_to_talk");
  setInCallControls(true);
  try {
    call.player.open(Number(msg.output_sample_rate) || 16000).then(() => {
      if (call && call.player.suspended) {
        showNotice("Sound is paused by the browser — click anywhere on the page to hear the bot.");
      }
    });
  } catch {
    showNotice("This browser cannot play audio here — follow the bot in the transcript.");
  }
  await startMic();
}

async function startMic() {
  const current = call;
  setMicState("starting", "Starting mic…");
  const mic = new MicCapture({
    workletUrl: el.root.dataset.micWorklet,
    onFrame: (buf, peak) => onMicFrame(current, buf, peak),
    onEnded: () => {
      if (call === current && !current.ended) {
        setMicState("unavailable", "Mic stopped");
        showMicError("The microphone stopped — you can still type your answers.");
        setInCallControls(true);
      }
    },
  });
  try {
    await mic.start();
  } catch (err) {
    if (call !== current || current.ended) return;
    setMicState(err && err.name === "NotAllowedError" ? "denied" : "unavailable", "Mic off");
    showMicError(micErrorMessage(err));
    setInCallControls(!current.ended);
    if (!current.ended) el.textInput.focus();
    return;
  }
  if (call !== current || current.ended) {
    mic.stop(); // the call ended while the permission prompt was open
    return;
  }
  current.mic = mic;
  current.conn.sendStart(MIC_RATE); // before the first audio frame, as the protocol asks
  setMicState("on", current.mode === "push_to_talk" ? "Mic ready" : "Mic on");
  setInCallControls(true);
  if (current.mode === "push_to_talk") el.talk.focus();
}

function onMicFrame(current, buffer, peak) {
  if (call !== current || current.ended || !current.live) return;
  const sending = current.mode === "vad" || current.talking || current.flushing;
  if (!sending) {
    showLevel(peak * 0.35); // dimmed level: the mic works, but nothing is sent
    return;
  }
  showLevel(peak);
  if (current.conn.sendAudio(buffer, MIC_RATE)) {
    demoState.framesSent = current.conn.framesSent;
    if (current.talking || current.flushing) current.holdFrames += 1;
  }
}

function onBotAudio(buffer) {
  if (!call) return;
  demoState.botAudioBytes += buffer.byteLength;
  call.player.enqueue(buffer);
  updateSpeaking();
}

function onPlayerIdle() {
  updateSpeaking();
  // After the call ended, the bot's last words were allowed to finish.
  if (call && call.ended && !call.player.playing) call.player.close();
}

function onCallEnded(msg) {
  if (!call) return;
  finishCall(msg.outcome || "error", msg.reason || "");
}

function finishCall(outcome, reason, { detail = "" } = {}) {
  const current = call;
  if (!current || current.ended) return;
  current.ended = true;
  current.talking = false;
  if (current.mic) current.mic.stop();
  current.conn.close();
  // Let the closing line play out (it is usually "thank you…") unless the
  // caller hung up themselves; close the audio context after.
  if (current.hungUp || !current.player.playing) current.player.close();
  setMicState(demoState.mic === "denied" ? "denied" : "off", "Mic off");
  setCallerState("idle");
  setInCallControls(false);
  show(el.talkArea, false);
  el.talk.setAttribute("aria-pressed", "false");

  demoState.outcome = outcome;
  demoState.reason = reason || null;
  setStatus(outcome === "disconnected" ? "disconnected" : "ended", outcome === "disconnected" ? "Disconnected" : "Call ended");
  el.outcome.dataset.outcome = outcome;
  el.outcomeTitle.textContent = OUTCOMES[outcome] || humanize(outcome);
  el.outcomeReason.textContent = detail || humanReason(reason);
  show(el.outcome, true);
  el.outcome.focus({ preventScroll: false });
}

function onSocketClose({ code }) {
  if (!call || call.ended) return;
  // A close without call.ended: token refused (4401/4404/4409) or the link dropped.
  const message = CLOSE_REASONS[code] && code !== 1000 ? CLOSE_REASONS[code] : "The connection to the server closed unexpectedly.";
  showNotice(message, { kind: "error" });
  finishCall("disconnected", "", { detail: message });
}

function onNewCall() {
  if (call && !call.ended) return;
  if (call) call.player.close();
  call = null;
  show(el.outcome, false);
  el.outcome.removeAttribute("data-outcome");
  setStatus("idle", "Not connected");
  setFormEnabled(true);
  el.bot.focus();
}

function onHangup() {
  if (!call || call.ended) return;
  call.hungUp = true;
  call.player.clear(); // the caller asked for silence: stop the bot now
  if (!call.conn.hangup()) {
    finishCall("incomplete", "caller_hangup");
    return;
  }
  el.hangup.disabled = true;
  setStatus("live", "Hanging up…");
  // The server answers with call.ended; if it does not, end locally.
  const current = call;
  setTimeout(() => {
    if (call === current && !current.ended) finishCall("incomplete", "caller_hangup");
  }, 4000);
}

function onTextSubmit(ev) {
  ev.preventDefault();
  const text = el.textInput.value.trim();
  if (!text || !call || call.ended || !call.live) return;
  if (call.conn.sendText(text)) {
    el.textInput.value = "";
    setCallerState("thinking");
  } else {
    showNotice("The answer could not be sent: the connection is closed.", { kind: "error" });
  }
  el.textInput.focus();
}

// ---------------------------------------------------------------- push to talk

function pressTalk() {
  if (!call || call.ended || !call.live || call.mode !== "push_to_talk" || !call.mic || call.talking) return;
  call.player.resume();
  call.talking = true;
  call.holdFrames = 0;
  el.talk.setAttribute("aria-pressed", "true");
  el.talk.querySelector(".talk-label").textContent = "Listening… release to send";
  setCallerState("listening");
}

async function releaseTalk() {
  const current = call;
  if (!current || !current.talking) return;
  current.talking = false;
  current.flushing = true;
  el.talk.setAttribute("aria-pressed", "false");
  el.talk.querySelector(".talk-label").textContent = "Hold to talk";
  await current.mic?.flush(); // the last < 20 ms of speech, then end_of_speech
  current.flushing = false;
  if (current.ended) return;
  if (current.holdFrames > 0) {
    current.conn.endOfSpeech();
    setCallerState("thinking");
  } else {
    setCallerState("idle");
  }
}

function isTypingTarget(node) {
  if (!node || node === el.talk) return false;
  return node.isContentEditable || ["INPUT", "TEXTAREA", "SELECT", "BUTTON", "A"].includes(node.tagName);
}

function bindPushToTalk() {
  el.talk.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0) return;
    ev.preventDefault();
    el.talk.setPointerCapture?.(ev.pointerId);
    pressTalk();
  });
  for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
    el.talk.addEventListener(type, () => releaseTalk());
  }
  el.talk.addEventListener("contextmenu", (ev) => ev.preventDefault()); // long press on touch
  // Space anywhere except in a form field; Space/Enter on the focused button.
  document.addEventListener("keydown", (ev) => {
    const onButton = ev.target === el.talk && (ev.code === "Space" || ev.key === "Enter");
    if (!(onButton || (ev.code === "Space" && !isTypingTarget(ev.target)))) return;
    if (!call || call.mode !== "push_to_talk" || call.ended) return;
    ev.preventDefault();
    if (!ev.repeat) pressTalk();
  });
  document.addEventListener("keyup", (ev) => {
    if (ev.code !== "Space" && !(ev.target === el.talk && ev.key === "Enter")) return;
    if (!call || !call.talking) return;
    ev.preventDefault();
    releaseTalk();
  });
  // Releasing outside the window (alt-tab while holding) must not leave the mic open.
  window.addEventListener("blur", () => releaseTalk());
}

// ---------------------------------------------------------------- init

function init() {
  el.form.addEventListener("submit", onStartSubmit);
  el.bot.addEventListener("change", updateBotDescription);
  for (const radio of [el.modeVad, el.modePtt]) {
    radio.addEventListener("change", () => {
      demoState.mode = selectedMode();
      el.modeHint.textContent = MODE_HINTS[demoState.mode];
    });
  }
  el.textForm.addEventListener("submit", onTextSubmit);
  el.hangup.addEventListener("click", onHangup);
  el.newCall.addEventListener("click", onNewCall);
  el.noticeDismiss.addEventListener("click", () => {
    hideNotice();
    el.textInput.disabled ? el.start.focus() : el.textInput.focus();
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !el.notice.hidden) hideNotice();
  });
  // Browsers may keep audio suspended until a gesture; any click resumes it.
  document.addEventListener("pointerdown", () => {
    if (call && call.player.suspended) call.player.resume().then(() => !call?.player.suspended && hideNotice());
  });
  bindPushToTalk();
  // Leaving the page mid-call: tell the server instead of letting it time out.
  window.addEventListener("pagehide", () => {
    if (call && !call.ended) {
      call.conn.hangup();
      call.conn.close();
    }
  });

  demoState.mode = selectedMode();
  el.modeHint.textContent = MODE_HINTS[demoState.mode];
  updateBotDescription();
  updateStartEnabled();
  updateEmptyStates();
  setStatus("idle", "Not connected");
  refreshBots();
}

init();
