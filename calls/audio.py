"""PCM helpers shared by the pipeline, the engines and the tests.

Everything that crosses a provider boundary or the WebSocket is raw PCM s16le
mono (see calls/providers/base.py), so these helpers work on `bytes` and use
numpy/soxr underneath: no ffmpeg, no temporary files, no per-call processes.
Streaming matters here: caller audio arrives in 10-200 ms frames and bot audio
leaves as it is synthesized, so the resampler and the chunker keep state
between pieces instead of needing the whole utterance.
"""
from __future__ import annotations

import io
import math
import wave
from os import PathLike
from pathlib import Path

import numpy as np
import soxr

SAMPLE_WIDTH = 2  # bytes per s16le sample
_SILENCE_DBFS = -120.0


def _to_int16(pcm: bytes | bytearray | memoryview) -> np.ndarray:
    """View s16le bytes as int16 samples (drops a dangling odd byte)."""
    usable = len(pcm) - len(pcm) % SAMPLE_WIDTH
    return np.frombuffer(memoryview(pcm)[:usable], dtype="<i2")


class StreamResampler:
    """Resamples a continuous s16le stream piece by piece without clicks at the seams.

    `process()` may return less (or more) than the proportional amount for a
    piece: soxr keeps a few milliseconds of filter history. `flush()` returns
    the tail once the stream is over; the resampler must not be used after it.
    When both rates are equal it is a zero-cost passthrough.
    """

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = int(from_rate)
        self.to_rate = int(to_rate)
        self._stream = (
            None
            if self.from_rate == self.to_rate
            else soxr.ResampleStream(self.from_rate, self.to_rate, 1, dtype="int16", quality="HQ")
        )
        self._odd = b""  # a half sample left over from the previous piece

    @property
    def passthrough(self) -> bool:
        return self._stream is None

    def process(self, pcm: bytes) -> bytes:
        data = self._odd + bytes(pcm) if self._odd else bytes(pcm)
        cut = len(data) - len(data) % SAMPLE_WIDTH
        self._odd = data[cut:]
        data = data[:cut]
        if self._stream is None or not data:
            return data
        return self._stream.resample_chunk(_to_int16(data)).tobytes()

    def flush(self) -> bytes:
        self._odd = b""
        if self._stream is None:
            return b""
        return self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True).tobytes()


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Resample a whole s16le mono clip."""
    if from_rate == to_rate:
        return bytes(pcm[: len(pcm) - len(pcm) % SAMPLE_WIDTH])
    samples = _to_int16(pcm)
    if samples.size == 0:
        return b""
    return soxr.resample(samples, from_rate, to_rate, quality="HQ").astype(np.int16).tobytes()


def max_chunk_bytes(sample_rate: int, max_ms: int) -> int:
    """Largest even byte count that holds at most `max_ms` of audio (at least one sample)."""
    return max(SAMPLE_WIDTH, sample_rate * max_ms // 1000 * SAMPLE_WIDTH)


def chunk_pcm(pcm: bytes, sample_rate: int, max_ms: int = 200) -> list[bytes]:
    """Split a clip into whole-sample chunks of at most `max_ms` each."""
    size = max_chunk_bytes(sample_rate, max_ms)
    usable = len(pcm) - len(pcm) % SAMPLE_WIDTH
    return [bytes(pcm[i : min(i + size, usable)]) for i in range(0, usable, size)]


class PcmChunker:
    """Re-chunks a stream of arbitrary-size PCM pieces into chunks of at most `max_ms`.

    It never holds audio back to fill a chunk: `push()` returns everything it
    was given (cut into <= max_ms whole-sample chunks) except an odd trailing
    byte, which waits for its other half. `flush()` returns that remainder
    (padded to a whole sample) at the end of the stream.
    """

    def __init__(self, sample_rate: int, max_ms: int = 200) -> None:
        self.sample_rate = sample_rate
        self.max_bytes = max_chunk_bytes(sample_rate, max_ms)
        self._odd = b""

    def push(self, pcm: bytes) -> list[bytes]:
        if not pcm:
            return []
        data = self._odd + bytes(pcm) if self._odd else bytes(pcm)
        cut = len(data) - len(data) % SAMPLE_WIDTH
        self._odd = data[cut:]
        return [data[i : min(i + self.max_bytes, cut)] for i in range(0, cut, self.max_bytes)]

    def flush(self) -> list[bytes]:
        if not self._odd:
            return []
        tail, self._odd = self._odd + b"\x00", b""
        return [tail]


def wav_bytes(pcm: bytes, sample_rate: int) -> bytes:
    """Wrap s16le mono PCM in an in-memory WAV file (for HTTP uploads and debugging)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(sample_rate)
        w.writeframes(pcm[: len(pcm) - len(pcm) % SAMPLE_WIDTH])
    return buf.getvalue()


def read_wav(source: str | PathLike[str] | bytes) -> tuple[bytes, int]:
    """Read a PCM WAV (path or bytes) as (s16le mono PCM, sample rate); stereo is averaged.

    Works for the streamed WAVs espeak-ng writes to stdout too: their header
    sizes are placeholders, and `wave` simply returns the frames present.
    """
    raw = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else Path(source).read_bytes()
    with wave.open(io.BytesIO(raw), "rb") as w:
        channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        frames = w.readframes(w.getnframes())
    if width != SAMPLE_WIDTH:
        raise ValueError(f"only 16-bit WAV is supported (got {8 * width}-bit)")
    frame_bytes = channels * width
    frames = frames[: len(frames) - len(frames) % frame_bytes]
    samples = np.frombuffer(frames, dtype="<i2")
    if channels > 1:
        samples = samples.reshape(-1, channels).astype(np.int32).mean(axis=1).round().astype(np.int16)
    return samples.astype("<i2").tobytes(), rate


def duration_ms(pcm: bytes, sample_rate: int) -> float:
    return len(pcm) / SAMPLE_WIDTH / sample_rate * 1000


def window_rms(windows: np.ndarray) -> np.ndarray:
    """RMS level of each row of int16 samples (one VAD window a row), as float32."""
    level = windows.astype(np.float32)
    return np.sqrt(np.einsum("ij,ij->i", level, level) / windows.shape[1])


def rms_dbfs(pcm: bytes) -> float:
    """Loudness of s16le PCM in dBFS (0 = full-scale square wave; silence -> -120)."""
    samples = _to_int16(pcm)
    if samples.size == 0:
        return _SILENCE_DBFS
    rms = math.sqrt(float(np.mean(np.square(samples, dtype=np.float64))))
    if rms <= 0:
        return _SILENCE_DBFS
    return max(_SILENCE_DBFS, 20 * math.log10(rms / 32768.0))
