// A small client for the call protocol (docs/protocol.md).
//
// Kept free of any DOM/UI code so the same module can drive the demo page, a
// browser test, or a customer's own page: the HTTP half (list bots, start a
// call) returns plain data or throws a CallError carrying a message that can
// be shown to a person as is; the WebSocket half is an EventTarget that
// re-dispatches each server JSON message as an event named after its `type`
// ("call.started", "answer", ...) and each binary frame as an "audio" event.

/** An error whose `message` is fit to show to the caller. */
export class CallError extends Error {
  constructor(message, { code = "", status = 0 } = {}) {
    super(message);
    this.name = "CallError";
    this.code = code;
    this.status = status;
  }
}

const UNREACHABLE = "The server is unreachable";

// Errors are JSON `{"error": {"code", "message"}}` by contract; anything else
// (a proxy's HTML 502 page, say) still gets a readable sentence.
async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    /* not JSON */
  }
  const err = body && typeof body === "object" ? body.error : null;
  if (err && typeof err.message === "string" && err.message) {
    return new CallError(err.message, { code: err.code || "", status: response.status });
  }
  return new CallError(`The server answered ${response.status} ${response.statusText}`.trim(), {
    status: response.status,
  });
}

async function request(url, init) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", ...init });
  } catch {
    // fetch only rejects on network failure (server down, DNS, CORS, offline).
    throw new CallError(UNREACHABLE, { code: "network" });
  }
  if (!response.ok) throw await errorFrom(response);
  try {
    return await response.json();
  } catch {
    throw new CallError("The server sent an unreadable answer", { code: "bad_response", status: response.status });
  }
}

/** GET /api/bots/ → [{slug, name, description}] */
export async function listBots() {
  const data = await request("/api/bots/", { headers: { Accept: "application/json" } });
  return Array.isArray(data?.bots) ? data.bots : [];
}

/**
 * POST /api/calls/ → {call_id, ws_url, bot:{slug,name}}
 * @param {{bot: string, caller?: {name: string, phone: string}, mode?: "vad"|"push_to_talk"}} body
 */
export async function startCall(body) {
  return request("/api/calls/", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
}

/** Resolve the server's relative ws_url against this page: same host, ws: or wss:. */
export function resolveWsUrl(wsUrl, base = window.location.href) {
  const url = new URL(wsUrl, base);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  return url.toString();
}

// Close codes the protocol gives a meaning to; shown when the socket drops.
export const CLOSE_REASONS = {
  1000: "The call ended.",
  1006: "The connection to the server was lost.",
  1011: "The server hit an error and ended the call.",
  4400: "The server ended the call after a protocol error.",
  4401: "The call link is invalid or has expired.",
  4404: "The server does not know this call.",
  4409: "This call is already connected elsewhere or has finished.",
};

/**
 * One call's WebSocket.
 *
 * Events: "open"; "close" (detail: {code, reason, wasClean}); "audio"
 * (detail: ArrayBuffer of s16le PCM); "message" (detail: every JSON message)
 * plus one event per message type, e.g. "call.started" (detail: the message).
 */
export class CallConnection extends EventTarget {
  constructor(wsUrl) {
    super();
    this.url = resolveWsUrl(wsUrl);
    this.ws = null;
    this.startSent = false;
    this.bytesSent = 0;
    this.framesSent = 0;
  }

  connect() {
    const ws = new WebSocket(this.url);
    // ArrayBuffer, not Blob: audio can be decoded synchronously on arrival.
    ws.binaryType = "arraybuffer";
    ws.addEventListener("open", () => this.#emit("open", null));
    ws.addEventListener("message", (ev) => this.#onMessage(ev));
    ws.addEventListener("close", (ev) =>
      this.#emit("close", { code: ev.code, reason: ev.reason, wasClean: ev.wasClean }),
    );
    // "error" is always followed by "close", which carries the useful code.
    this.ws = ws;
    return this;
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #onMessage(ev) {
    if (ev.data instanceof ArrayBuffer) {
      this.#emit("audio", ev.data);
      return;
    }
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return; // the server only sends JSON text frames; ignore anything else
    }
    if (!msg || typeof msg.type !== "string") return;
    this.#emit("message", msg);
    this.#emit(msg.type, msg);
  }

  sendJSON(obj) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  /** Declare the input sample rate; the protocol wants it before any audio. */
  sendStart(sampleRate = 16000) {
    if (this.startSent) return true;
    this.startSent = this.sendJSON({ type: "start", sample_rate: sampleRate });
    return this.startSent;
  }

  /** Send one binary frame of s16le mono PCM (even length, ≤ 64 KiB). */
  sendAudio(buffer, sampleRate = 16000) {
    if (!this.isOpen || !buffer || buffer.byteLength === 0) return false;
    if (!this.startSent) this.sendStart(sampleRate);
    // Back-pressure: if the network stalls, drop audio rather than queue
    // seconds of it and answer late; 1 MiB ≈ 30 s of 16 kHz speech.
    if (this.ws.bufferedAmount > 1 << 20) return false;
    this.ws.send(buffer);
    this.framesSent += 1;
    this.bytesSent += buffer.byteLength;
    return true;
  }

  endOfSpeech() {
    return this.sendJSON({ type: "end_of_speech" });
  }

  sendText(text) {
    return this.sendJSON({ type: "text", text });
  }

  hangup() {
    return this.sendJSON({ type: "hangup" });
  }

  close(code = 1000) {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) {
      try {
        this.ws.close(code);
      } catch {
        /* already closing */
      }
    }
  }
}
