"""Reading call recordings back in tests: decode with PyAV, find a clip in a channel.

A recording is stereo Ogg Opus (caller left, bot right). `decode` returns its
samples at 16 kHz; `find` says where a clip sits in one channel by normalised
cross-correlation (FFT), and how well it matched: Opus (SILK) keeps the shape of
speech, not its exact waveform, so a match is a peak well above what the clip
gives against other speech, not 1.0.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 16000


@dataclass
class Recording:
    samples: np.ndarray  # (n, 2) float32, -1..1: caller left, bot right
    duration: float  # seconds, as the container reports it after decoding every packet
    tags: dict[str, str]

    def channel(self, which: str) -> np.ndarray:
        return self.samples[:, 0 if which == "caller" else 1]

    def rms(self, which: str, start: float, end: float) -> float:
        part = self.channel(which)[int(start * RATE) : int(end * RATE)]
        return float(np.sqrt(np.mean(part.astype(np.float64) ** 2))) if len(part) else 0.0


def decode(source: str | Path | bytes) -> Recording:
    import io

    import av

    opened = av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source))
    with opened as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus", stream.codec_context.name
        tags = {**container.metadata, **stream.metadata}
        resampler = av.AudioResampler(format="flt", layout="stereo", rate=RATE)
        parts = [f.to_ndarray().reshape(-1, 2) for frame in container.decode(stream) for f in resampler.resample(frame)]
        parts += [f.to_ndarray().reshape(-1, 2) for f in resampler.resample(None)]
    samples = np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.float32)
    return Recording(samples=samples, duration=len(samples) / RATE, tags=tags)


def pcm_floats(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768


def find(clip: bytes | np.ndarray, signal: np.ndarray) -> tuple[float, float]:
    """(offset in seconds, match 0-1) of `clip` (16 kHz) in `signal`, by normalised cross-correlation."""
    c = pcm_floats(clip) if isinstance(clip, bytes) else clip
    s = signal.astype(np.float64)
    if len(c) > len(s):  # not all of it is there
        return 0.0, 0.0
    n = len(s) + len(c)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(s, size) * np.conj(np.fft.rfft(c, size)), size)[: len(s) - len(c) + 1]
    energy = np.concatenate([[0.0], np.cumsum(s**2)])
    window = np.sqrt(np.maximum(energy[len(c) :] - energy[: -len(c)], 1e-12))
    score = corr / (window * np.sqrt(np.sum(c.astype(np.float64) ** 2)) + 1e-12)
    best = int(np.argmax(score))
    return best / RATE, float(score[best])
