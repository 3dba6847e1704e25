// AudioWorkletProcessor: microphone → 16 kHz mono s16le frames of 20 ms.
//
// Runs on the audio rendering thread so capture never stutters when the page
// is busy. The AudioContext runs at the device's own rate (usually 44.1 or
// 48 kHz; Firefox refuses to connect a mic to a context at another rate), so
// this processor does the conversion the protocol needs itself:
//   1. mix all input channels down to mono;
//   2. low-pass below the target Nyquist (two biquads = 4th-order
//      Butterworth at 0.45 × target rate) so that speech energy above 8 kHz
//      does not fold back as aliasing;
//   3. linear-interpolation resampling to the target rate;
//   4. Float32 → Int16 and chunking into fixed frames (320 samples = 640
//      bytes = 20 ms at 16 kHz), each posted to the main thread as a
//      transferable ArrayBuffer (no copy).
// Messages in: {type: "flush"} posts the partial frame (push-to-talk release)
// then {type: "flushed"}. Messages out: {type: "frame", pcm, peak}.

class Biquad {
  constructor(cutoff, rate, q) {
    const w0 = (2 * Math.PI * cutoff) / rate;
    const cos = Math.cos(w0);
    const alpha = Math.sin(w0) / (2 * q);
    const a0 = 1 + alpha;
    this.b0 = (1 - cos) / 2 / a0;
    this.b1 = (1 - cos) / a0;
    this.b2 = this.b0;
    this.a1 = (-2 * cos) / a0;
    this.a2 = (1 - alpha) / a0;
    this.x1 = this.x2 = this.y1 = this.y2 = 0;
  }

  run(buf) {
    let { x1, x2, y1, y2 } = this;
    const { b0, b1, b2, a1, a2 } = this;
    for (let i = 0; i < buf.length; i++) {
      const x = buf[i];
      const y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
      x2 = x1;
      x1 = x;
      y2 = y1;
      y1 = y;
      buf[i] = y;
    }
    // Flush denormals so a silent mic does not slow the filter down.
    if (Math.abs(y1) < 1e-20) y1 = 0;
    if (Math.abs(y2) < 1e-20) y2 = 0;
    Object.assign(this, { x1, x2, y1, y2 });
  }
}

class MicDownsampler extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = (options && options.processorOptions) || {};
    this.inRate = sampleRate; // global in AudioWorkletGlobalScope: the context's rate
    this.outRate = opts.targetRate || 16000;
    this.frameSamples = opts.frameSamples || 320;
    this.step = this.inRate / this.outRate; // input samples per output sample
    // Only filter when actually decimating; upsampling (8 kHz device) needs none.
    this.filters =
      this.inRate > this.outRate
        ? [new Biquad(0.45 * this.outRate, this.inRate, 0.5412), new Biquad(0.45 * this.outRate, this.inRate, 1.3066)]
        : [];
    this.mono = new Float32Array(128);
    this.t = 0; // position of the next output sample, in input samples; -1 = `prev`
    this.prev = 0; // last filtered input sample of the previous block
    this.frame = new Int16Array(this.frameSamples);
    this.fill = 0;
    this.peak = 0;
    this.port.onmessage = (ev) => {
      if (ev.data && ev.data.type === "flush") {
        this.post(this.fill);
        this.port.postMessage({ type: "flushed" });
      }
    };
  }

  post(count) {
    if (count <= 0) return;
    const out = count === this.frameSamples ? this.frame : this.frame.slice(0, count);
    this.port.postMessage({ type: "frame", pcm: out.buffer, peak: this.peak }, [out.buffer]);
    if (out === this.frame) this.frame = new Int16Array(this.frameSamples);
    this.fill = 0;
    this.peak = 0;
  }

  push(sample) {
    const s = sample < -1 ? -1 : sample > 1 ? 1 : sample;
    const a = s < 0 ? -s : s;
    if (a > this.peak) this.peak = a;
    this.frame[this.fill++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    if (this.fill === this.frameSamples) this.post(this.fill);
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0 || input[0].length === 0) return true; // no mic yet
    const n = input[0].length;
    if (this.mono.length !== n) this.mono = new Float32Array(n);
    const x = this.mono;
    if (input.length === 1) {
      x.set(input[0]);
    } else {
      x.fill(0);
      for (const ch of input) for (let i = 0; i < n; i++) x[i] += ch[i];
      for (let i = 0; i < n; i++) x[i] /= input.length;
    }
    for (const f of this.filters) f.run(x);

    let t = this.t;
    while (t <= n - 1) {
      const i = Math.floor(t);
      const frac = t - i;
      const a = i < 0 ? this.prev : x[i];
      const b = i + 1 < n ? x[i + 1] : a;
      this.push(a + (b - a) * frac);
      t += this.step;
    }
    this.t = t - n;
    this.prev = x[n - 1];
    return true; // keep running while the node is connected
  }
}

registerProcessor("mic-downsampler", MicDownsampler);
