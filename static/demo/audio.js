// Microphone capture and bot-audio playback for the demo page.
//
// Two separate AudioContexts on purpose:
// - the capture context runs at the device's native rate (Firefox cannot
//   connect a microphone to a context at any other rate) and hands samples to
//   mic-worklet.js, which converts them to the 16 kHz s16le frames the
//   protocol wants;
// - the playback context is opened at the bot's `output_sample_rate` when the
//   browser allows it, so back-to-back chunks are not resampled one by one
//   (which can click at chunk edges); the browser resamples once, on output.

export const MIC_RATE = 16000;
export const MIC_FRAME_SAMPLES = 320; // 20 ms at 16 kHz = 640 bytes

const Ctx = window.AudioContext || window.webkitAudioContext;

/** Why the mic could not start, as a sentence for the caller. */
export function micErrorMessage(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
    return "Microphone access was denied — you can still type your answers.";
  }
  if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") {
    return "No microphone was found — you can still type your answers.";
  }
  if (name === "NotReadableError" || name === "AbortError") {
    return "The microphone is in use by another program — you can still type your answers.";
  }
  if (name === "Insecure") {
    return "The microphone needs a secure page (https or localhost) — you can still type your answers.";
  }
  return "The microphone could not be started — you can still type your answers.";
}

/**
 * Microphone → 20 ms frames of 16 kHz mono Int16 (as ArrayBuffers).
 * `onFrame(buffer, peak)` is called on the main thread for every frame; the
 * caller decides whether to send it (push-to-talk gates it).
 */
export class MicCapture {
  constructor({ workletUrl, onFrame, onEnded } = {}) {
    this.workletUrl = workletUrl;
    this.onFrame = onFrame || (() => {});
    this.onEnded = onEnded || (() => {});
    this.ctx = null;
    this.stream = null;
    this.node = null;
    this.source = null;
    this.flushWaiters = [];
  }

  async start() {
    if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
      const err = new Error("getUserMedia needs a secure context");
      err.name = window.isSecureContext ? "NotFoundError" : "Insecure";
      throw err;
    }
    if (!Ctx || !("AudioWorkletNode" in window)) {
      const err = new Error("AudioWorklet is not supported");
      err.name = "NotSupportedError";
      throw err;
    }
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
    });
    try {
      this.ctx = new Ctx({ latencyHint: "interactive" });
      await this.ctx.audioWorklet.addModule(this.workletUrl);
      this.source = this.ctx.createMediaStreamSource(this.stream);
      this.node = new AudioWorkletNode(this.ctx, "mic-downsampler", {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        channelCount: 1,
        channelCountMode: "explicit",
        channelInterpretation: "speakers", // the browser down-mixes stereo mics
        processorOptions: { targetRate: MIC_RATE, frameSamples: MIC_FRAME_SAMPLES },
      });
      this.node.port.onmessage = (ev) => this.#onMessage(ev.data);
      // A node must reach the destination to be pulled in every browser; its
      // output is silence, so nothing is heard (no local echo of the mic).
      const mute = this.ctx.createGain();
      mute.gain.value = 0;
      this.source.connect(this.node).connect(mute).connect(this.ctx.destination);
      if (this.ctx.state === "suspended") await this.ctx.resume();
      for (const track of this.stream.getAudioTracks()) {
        track.addEventListener("ended", () => this.onEnded());
      }
    } catch (err) {
      this.stop();
      throw err;
    }
  }

  #onMessage(msg) {
    if (!msg) return;
    if (msg.type === "frame") this.onFrame(msg.pcm, msg.peak || 0);
    else if (msg.type === "flushed") this.flushWaiters.splice(0).forEach((resolve) => resolve());
  }

  /** Post the partial frame still in the worklet (push-to-talk release). */
  flush() {
    if (!this.node) return Promise.resolve();
    return new Promise((resolve) => {
      this.flushWaiters.push(resolve);
      this.node.port.postMessage({ type: "flush" });
      setTimeout(resolve, 150); // never hang the release on a stalled worklet
    });
  }

  get active() {
    return this.node !== null;
  }

  stop() {
    this.flushWaiters.splice(0).forEach((resolve) => resolve());
    if (this.node) {
      this.node.port.onmessage = null;
      this.node.disconnect();
    }
    if (this.source) this.source.disconnect();
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    if (this.ctx) this.ctx.close().catch(() => {});
    this.ctx = this.stream = this.node = this.source = null;
  }
}

/**
 * Plays s16le mono chunks as they arrive, scheduled back to back.
 *
 * Each chunk becomes an AudioBufferSourceNode started at `nextTime`, the end
 * of the previous one, so playback starts on the first chunk while later ones
 * are still being synthesized. A small lead (LEAD_S) on the first chunk after
 * a gap absorbs network jitter without audible delay. `clear()` stops every
 * scheduled and playing source at once (barge-in).
 */
export class Player {
  static LEAD_S = 0.04;

  constructor({ onIdle, onStart } = {}) {
    this.onIdle = onIdle || (() => {});
    this.onStart = onStart || (() => {});
    this.ctx = null;
    this.rate = 0;
    this.nextTime = 0;
    this.sources = new Set();
    this.carry = null; // a dangling odd byte from the previous chunk
    this.bytesPlayed = 0;
  }

  /** Open the context; call from call.started (the page already had a click). */
  open(rate) {
    this.close();
    this.rate = rate;
    try {
      this.ctx = new Ctx({ sampleRate: rate, latencyHint: "interactive" });
    } catch {
      this.ctx = new Ctx({ latencyHint: "interactive" }); // rate unsupported: resample per chunk
    }
    return this.resume();
  }

  /** Autoplay policies may start the context suspended; resume on a gesture. */
  resume() {
    if (this.ctx && this.ctx.state === "suspended") return this.ctx.resume().catch(() => {});
    return Promise.resolve();
  }

  get suspended() {
    return !!this.ctx && this.ctx.state === "suspended";
  }

  get playing() {
    return this.sources.size > 0;
  }

  /** Seconds of audio scheduled but not yet played. */
  get queuedSeconds() {
    return this.ctx ? Math.max(0, this.nextTime - this.ctx.currentTime) : 0;
  }

  enqueue(arrayBuffer) {
    if (!this.ctx || !arrayBuffer || arrayBuffer.byteLength === 0) return;
    let bytes = new Uint8Array(arrayBuffer);
    if (this.carry) {
      const joined = new Uint8Array(bytes.length + 1);
      joined[0] = this.carry[0];
      joined.set(bytes, 1);
      bytes = joined;
      this.carry = null;
    }
    if (bytes.length % 2) {
      this.carry = bytes.slice(-1);
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    const n = bytes.length / 2;
    if (n === 0) return;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const buffer = this.ctx.createBuffer(1, n, this.rate);
    const ch = buffer.getChannelData(0);
    for (let i = 0; i < n; i++) ch[i] = view.getInt16(i * 2, true) / 32768;

    const src = this.ctx.createBufferSource();
    src.buffer = buffer;
    src.connect(this.ctx.destination);
    const now = this.ctx.currentTime;
    // Underrun (first chunk, or the network fell behind): restart just ahead of now.
    const at = this.nextTime < now + 0.005 ? now + Player.LEAD_S : this.nextTime;
    src.start(at);
    this.nextTime = at + buffer.duration;
    const wasIdle = this.sources.size === 0;
    this.sources.add(src);
    this.bytesPlayed += bytes.length;
    src.onended = () => {
      src.disconnect();
      if (this.sources.delete(src) && this.sources.size === 0) this.onIdle();
    };
    if (wasIdle) this.onStart();
  }

  /** Stop everything now: scheduled and playing (playback.clear). */
  clear() {
    const had = this.sources.size > 0;
    for (const src of this.sources) {
      src.onended = null;
      try {
        src.stop();
      } catch {
        /* not started yet in some engines */
      }
      src.disconnect();
    }
    this.sources.clear();
    this.carry = null;
    this.nextTime = 0;
    if (had) this.onIdle();
  }

  close() {
    this.clear();
    if (this.ctx) this.ctx.close().catch(() => {});
    this.ctx = null;
  }
}
