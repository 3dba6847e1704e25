"""Silero VAD (v6, ONNX) for the server's own endpointing and barge-in detection.

The model file ships inside faster-whisper, so there is nothing to download.
Silero is recurrent: each call needs its own LSTM state and its own 64-sample
audio context (the tail of the previous window, which the model sees in front
of every 512-sample window), while the InferenceSession is shared by the whole
process. One intra-op thread: a window costs well under a millisecond and
parallelising it would only contend with Whisper and Piper for the 2 cores.

Why a batch across calls: a window costs about 80 µs run alone but about 45 µs
in a batch of 16 or more, and under load the VAD was the largest share of a
worker's CPU per audio frame (bench/load: 300 push-to-talk calls went from
p95 2.4 s to a third of a second with the VAD taken out). The model as shipped
runs its LSTM over the rows of its input as *time* with a batch of one; loaded
here, one Transpose is changed so the rows are *calls* (batch) and each call's
state rides along in `h`/`c` (`batched_model`). Every call's windows that arrive
within `BATCH_WAIT_S` (10 ms) then go through one `session.run` (`_Batcher`); at
300 calls a batch holds about 16 windows. The probabilities are the same as
window-by-window runs (tested). Long stretches of digital near-silence (a muted
or noise-suppressed microphone while the caller listens) skip the model.
"""
from __future__ import annotations

import asyncio
import threading
import weakref
from pathlib import Path

import numpy as np

from calls.audio import window_rms
from calls.providers.base import ProviderError, VADProvider, VADStream

WINDOW_SAMPLES = 512  # at 16 kHz: 32 ms
CONTEXT_SAMPLES = 64
_STATE_SHAPE = (1, 1, 128)
QUIET_DBFS = -60.0  # a window quieter than this is silence (a muted or noise-suppressed microphone)
QUIET_RMS = 32768 * 10 ** (QUIET_DBFS / 20)
QUIET_WINDOWS = 8  # after this many quiet windows in a row (256 ms) the model is skipped
BATCH_WAIT_S = 0.01  # windows wait this long for other calls' windows to share a model run


def default_model_path() -> Path:
    import faster_whisper

    return Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"


def batched_model(path: str) -> bytes:
    """The Silero v6 graph with its rows read as a batch of calls instead of a time series.

    As shipped: input [rows, 576] → encoder [rows, 128, 1] → Transpose(0, 2, 1) →
    LSTM input [seq=rows, batch=1, 128] with state [1, 1, 128]. Changed: Transpose(2, 0, 1)
    → [seq=1, batch=rows, 128] with state [1, rows, 128]. The decoder after the LSTM
    (Transpose(1, 2, 0), a 1-wide Conv, Sigmoid) then yields one probability per row."""
    import onnx

    model = onnx.load(path)
    graph = model.graph
    producers = {out: node for node in graph.node for out in node.output}
    lstms = [n for n in graph.node if n.op_type == "LSTM"]
    feed = producers.get(lstms[0].input[0]) if len(lstms) == 1 else None
    perm = next((a for a in feed.attribute if a.name == "perm"), None) if feed is not None and feed.op_type == "Transpose" else None
    if perm is None or list(perm.ints) != [0, 2, 1]:
        raise ProviderError(f"unexpected Silero VAD graph in {path}: cannot batch it across calls", provider="silero", permanent=True)
    perm.ints[:] = [2, 0, 1]
    for value in list(graph.input) + list(graph.output):
        if value.name in ("h", "c", "hn", "cn"):
            dim = value.type.tensor_type.shape.dim[1]
            dim.ClearField("dim_value")
            dim.dim_param = "calls"
    del graph.value_info[:]  # shapes inferred for a batch of one
    return model.SerializeToString()


class SileroStream(VADStream):
    """One caller's detector: recurrent state + audio context, over the shared session."""

    def __init__(self, vad: SileroVAD) -> None:
        self._vad = vad
        self.reset()

    _pending = 0  # submissions not yet answered
    _quiet_run = 0  # quiet windows in a row, up to now

    def reset(self) -> None:
        self._h = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros((1, CONTEXT_SAMPLES), dtype=np.float32)

    def probability(self, window: bytes) -> float:
        samples = np.frombuffer(window, dtype="<i2")
        if samples.size != WINDOW_SAMPLES:
            raise ValueError(f"VAD window must be {WINDOW_SAMPLES} samples (got {samples.size})")
        return float(_run(self._vad.session, [self], [samples.reshape(1, WINDOW_SAMPLES)])[0][0])

    async def probabilities(self, pcm: bytes) -> list[float]:
        """Every call's windows of the next few milliseconds go through the model together.

        Once a stream has had QUIET_WINDOWS windows under QUIET_DBFS in a row (a muted or
        noise-suppressed microphone, a caller listening), further quiet windows are
        silence without asking the model: probability 0, and the stream starts afresh
        (as a new call would) when sound comes back. Shorter gaps, between words, go
        through the model, which smooths them as it was trained to."""
        samples = np.frombuffer(pcm, dtype="<i2")
        if samples.size % WINDOW_SAMPLES:
            raise ValueError(f"VAD audio must be whole windows of {WINDOW_SAMPLES} samples (got {samples.size})")
        windows = samples.reshape(-1, WINDOW_SAMPLES)
        if not len(windows):
            return []
        quiet = (window_rms(windows) < QUIET_RMS).tolist()
        skip: list[bool] = []  # (plain lists: a call submits one or two windows at a time)
        run = self._quiet_run
        for q in quiet:
            run = run + 1 if q else 0
            skip.append(run > QUIET_WINDOWS)
        self._quiet_run = run
        if True not in skip or self._pending:  # (a stream with windows in flight is not reset under them)
            return await self._submit(windows)
        out = [0.0] * len(windows)
        i = 0
        while i < len(windows):  # runs of skipped and of modelled windows, in order
            j = i
            while j < len(windows) and skip[j] == skip[i]:
                j += 1
            if skip[i]:  # silence: probability 0, and the stream starts afresh when sound comes back
                self.reset()
            else:  # sound, or a short gap, before, between or after the silences
                out[i:j] = await self._submit(windows[i:j])
            i = j
        return out

    async def _submit(self, windows: np.ndarray) -> list[float]:
        self._pending += 1
        try:
            return await self._vad.batcher().submit(self, windows)
        finally:
            self._pending -= 1


def _run(session: object, streams: list[SileroStream], windows: list[np.ndarray]) -> list[np.ndarray]:
    """Run each stream's windows (int16 [n_i, 512]) in order, all streams side by side:
    round r takes the r-th window of every stream that has one. Updates each stream's
    state and context; returns each stream's probabilities."""
    out = [np.empty(len(w), dtype=np.float32) for w in windows]
    rounds = max(len(w) for w in windows)
    for r in range(rounds):
        live = [i for i, w in enumerate(windows) if len(w) > r] if rounds > 1 else list(range(len(windows)))
        audio = np.stack([windows[i][r] for i in live]).astype(np.float32) / 32768.0
        rows = np.concatenate([np.concatenate([streams[i]._context for i in live]), audio], axis=1)
        h = np.concatenate([streams[i]._h for i in live], axis=1)
        c = np.concatenate([streams[i]._c for i in live], axis=1)
        probs, h, c = session.run(None, {"input": rows, "h": h, "c": c})  # type: ignore[attr-defined]
        probs = np.asarray(probs).reshape(-1)
        for k, i in enumerate(live):
            stream = streams[i]
            stream._h, stream._c = h[:, k : k + 1], c[:, k : k + 1]
            stream._context = audio[k : k + 1, -CONTEXT_SAMPLES:]
            out[i][r] = probs[k]
    return out


class _Batcher:
    """The windows submitted to one event loop within BATCH_WAIT_S, run together."""

    def __init__(self, session: object) -> None:
        self.session = session
        self._jobs: dict[SileroStream, tuple[list[np.ndarray], list[asyncio.Future[list[float]]]]] = {}
        self._scheduled = False

    def submit(self, stream: SileroStream, windows: np.ndarray) -> asyncio.Future[list[float]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[float]] = loop.create_future()
        parts, futures = self._jobs.setdefault(stream, ([], []))
        parts.append(windows)  # a stream's later audio in the same pass queues behind its earlier audio
        futures.append(future)
        if not self._scheduled:
            self._scheduled = True
            loop.call_later(BATCH_WAIT_S, self._run)
        return future

    def _run(self) -> None:
        self._scheduled = False
        jobs, self._jobs = self._jobs, {}
        streams = list(jobs)
        try:
            results = _run(self.session, streams, [np.concatenate(jobs[s][0]) for s in streams])
        except Exception as exc:  # the model failed: every caller waiting hears of it
            error = ProviderError(f"Silero VAD failed: {exc}", provider="silero")
            for _, futures in jobs.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(error)
            return
        for stream, probs in zip(streams, results):
            parts, futures = jobs[stream]
            start = 0
            for part, future in zip(parts, futures):
                if not future.done():  # a cancelled waiter (the call ended) just drops its share
                    future.set_result(probs[start : start + len(part)].tolist())
                start += len(part)


class SileroVAD(VADProvider):
    """Process-wide Silero model; `new_stream()` per call."""

    name = "silero"
    sample_rate = 16000
    window_samples = WINDOW_SAMPLES

    _sessions: dict[str, object] = {}
    _lock = threading.Lock()
    _batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Batcher]] = weakref.WeakKeyDictionary()

    def __init__(self, model_path: str | Path | None = None) -> None:
        self.model_path = str(model_path or default_model_path())
        self.session = self._load(self.model_path)

    @classmethod
    def _load(cls, path: str):  # -> onnxruntime.InferenceSession
        with cls._lock:
            session = cls._sessions.get(path)
            if session is None:
                import onnxruntime

                opts = onnxruntime.SessionOptions()
                opts.inter_op_num_threads = 1
                opts.intra_op_num_threads = 1
                opts.enable_cpu_mem_arena = False
                opts.log_severity_level = 4
                try:
                    model = batched_model(path)
                    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"], sess_options=opts)
                except ProviderError:
                    raise
                except Exception as exc:  # missing/corrupt model file
                    raise ProviderError(f"cannot load Silero VAD from {path}: {exc}", provider=cls.name, permanent=True) from exc
                cls._sessions[path] = session
            return session

    def batcher(self) -> _Batcher:
        """This event loop's batcher over the shared session."""
        per_model = self._batchers.setdefault(asyncio.get_running_loop(), {})
        batcher = per_model.get(self.model_path)
        if batcher is None:
            batcher = per_model[self.model_path] = _Batcher(self.session)
        return batcher

    def new_stream(self) -> SileroStream:
        return SileroStream(self)

    async def warmup(self) -> None:
        stream = self.new_stream()
        stream.probability(bytes(2 * WINDOW_SAMPLES))
