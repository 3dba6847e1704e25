"""Silero VAD (v6, ONNX) for the server's own endpointing and barge-in detection.

The model file ships inside faster-whisper, so there is nothing to download.
Silero is recurrent: each call needs its own LSTM state and its own 64-sample
audio context (the tail of the previous window, which the model sees in front
of every 512-sample window), while the InferenceSession is shared by the whole
process. One intra-op thread: a window costs well under a millisecond and
parallelising it would only contend with Whisper and Piper for the 2 cores.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from calls.providers.base import ProviderError, VADProvider, VADStream

WINDOW_SAMPLES = 512  # at 16 kHz: 32 ms
CONTEXT_SAMPLES = 64
_STATE_SHAPE = (1, 1, 128)


def default_model_path() -> Path:
    import faster_whisper

    return Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"


class SileroStream(VADStream):
    """One caller's detector: recurrent state + audio context, over the shared session."""

    def __init__(self, vad: SileroVAD) -> None:
        self._vad = vad
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros((1, CONTEXT_SAMPLES), dtype=np.float32)

    def probability(self, window: bytes) -> float:
        samples = np.frombuffer(window, dtype="<i2")
        if samples.size != WINDOW_SAMPLES:
            raise ValueError(f"VAD window must be {WINDOW_SAMPLES} samples (got {samples.size})")
        audio = (samples.astype(np.float32) / 32768.0).reshape(1, WINDOW_SAMPLES)
        batch = np.concatenate([self._context, audio], axis=1)
        out, self._h, self._c = self._vad.session.run(None, {"input": batch, "h": self._h, "c": self._c})
        self._context = audio[:, -CONTEXT_SAMPLES:]
        return float(np.asarray(out).reshape(-1)[0])


class SileroVAD(VADProvider):
    """Process-wide Silero model; `new_stream()` per call."""

    name = "silero"
    sample_rate = 16000
    window_samples = WINDOW_SAMPLES

    _sessions: dict[str, object] = {}
    _lock = threading.Lock()

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
                    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"], sess_options=opts)
                except Exception as exc:  # missing/corrupt model file
                    raise ProviderError(f"cannot load Silero VAD from {path}: {exc}", provider=cls.name, permanent=True) from exc
                cls._sessions[path] = session
            return session

    def new_stream(self) -> SileroStream:
        return SileroStream(self)

    async def warmup(self) -> None:
        stream = self.new_stream()
        stream.probability(bytes(2 * WINDOW_SAMPLES))
