"""PCM helpers: streaming resampling, chunk sizes, WAV round trips, loudness."""
from __future__ import annotations

import numpy as np
import pytest

from calls.audio import PcmChunker, StreamResampler, chunk_pcm, read_wav, resample, rms_dbfs, wav_bytes
from devtools.speech import say, silence


def tone(freq: float, ms: int, rate: int, amplitude: float = 0.5) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype("<i2").tobytes()


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def dominant_freq(pcm: bytes, rate: int) -> float:
    x = samples(pcm)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize(("src", "dst"), [(8000, 16000), (48000, 16000), (22050, 16000), (16000, 24000)])
def test_stream_resampler_matches_length_and_pitch_across_odd_pieces(src: int, dst: int) -> None:
    pcm = tone(440, 1000, src)
    rs = StreamResampler(src, dst)
    out = b""
    # Pieces of odd byte lengths: a sample split across two frames must be rejoined.
    sizes = [331, 1, 2048, 77, 4000]
    pos, i = 0, 0
    while pos < len(pcm):
        out += rs.process(pcm[pos : pos + sizes[i % len(sizes)]])
        pos += sizes[i % len(sizes)]
        i += 1
    out += rs.flush()
    assert len(out) % 2 == 0
    assert abs(len(out) // 2 - dst) <= 2  # one second in, one second out
    assert dominant_freq(out, dst) == pytest.approx(440, abs=3)


def test_stream_resampler_equal_rates_is_passthrough() -> None:
    pcm = tone(300, 100, 16000)
    rs = StreamResampler(16000, 16000)
    assert rs.passthrough
    assert rs.process(pcm[:101]) + rs.process(pcm[101:]) + rs.flush() == pcm


def test_streamed_equals_whole_clip_resample() -> None:
    pcm = say("fifteen thousand dollars", rate=8000)
    rs = StreamResampler(8000, 16000)
    streamed = b"".join(rs.process(pcm[i : i + 320]) for i in range(0, len(pcm), 320)) + rs.flush()
    whole = resample(pcm, 8000, 16000)
    assert abs(len(streamed) - len(whole)) <= 4
    n = min(len(streamed), len(whole)) // 2
    diff = np.abs(samples(streamed)[:n] - samples(whole)[:n])
    assert np.percentile(diff, 99) < 200  # same filter: seams leave no clicks


def test_resample_round_trip_keeps_speech() -> None:
    pcm = say("about forty thousand a month", rate=16000)
    back = resample(resample(pcm, 16000, 48000), 48000, 16000)
    assert abs(len(back) - len(pcm)) <= 4
    n = min(len(back), len(pcm)) // 2
    a, b = samples(pcm)[:n], samples(back)[:n]
    assert np.corrcoef(a, b)[0, 1] > 0.99


def test_chunk_pcm_sizes() -> None:
    pcm = tone(200, 1050, 22050)
    chunks = chunk_pcm(pcm, 22050, 200)
    assert b"".join(chunks) == pcm
    assert all(len(c) % 2 == 0 and len(c) <= 22050 * 2 * 0.2 for c in chunks)
    assert len(chunks) == 6


def test_chunker_yields_early_and_never_splits_a_sample() -> None:
    chunker = PcmChunker(16000, max_ms=200)
    assert chunker.push(b"\x01\x02\x03") == [b"\x01\x02"]  # 1 sample out now, the half sample waits
    out = chunker.push(b"\x04" + bytes(20001))  # with the held byte: 10001 samples + 1 byte
    assert [len(c) for c in out] == [6400, 6400, 6400, 802]  # all of it, in <= 200 ms chunks
    assert b"".join(out) == b"\x03\x04" + bytes(20000)
    assert chunker.flush() == [b"\x00\x00"]
    assert chunker.flush() == []


def test_wav_round_trip_and_stereo_downmix() -> None:
    pcm = tone(1000, 50, 16000)
    assert read_wav(wav_bytes(pcm, 16000)) == (pcm, 16000)

    import io
    import wave

    left = samples(pcm).astype("<i2")
    stereo = np.stack([left, np.zeros_like(left)], axis=1).astype("<i2").tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(stereo)
    mono, rate = read_wav(buf.getvalue())
    assert rate == 8000
    assert np.allclose(samples(mono), np.round(left / 2), atol=1)


def test_rms_dbfs() -> None:
    assert rms_dbfs(silence(100)) == -120.0
    assert rms_dbfs(b"") == -120.0
    assert rms_dbfs(tone(1000, 100, 16000, amplitude=1.0)) == pytest.approx(-3.0, abs=0.1)
    assert rms_dbfs(tone(1000, 100, 16000, amplitude=0.1)) == pytest.approx(-23.0, abs=0.1)
