"""Bot audio framed for carriers: whole frames only, line ends padded, barge-in drops the rest."""
from __future__ import annotations

import numpy as np
import pytest

from calls.transport.phone.g711 import ulaw_to_pcm
from calls.transport.phone.media import EXOTEL_PCM, TWILIO_MULAW, PhoneAudioOut


def tone(ms: int, rate: int = 22050, hz: float = 440.0) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (np.sin(2 * np.pi * hz * t) * 12000).astype("<i2").tobytes()


@pytest.mark.parametrize("codec, frame", [(TWILIO_MULAW, 160), (EXOTEL_PCM, 1600)])
def test_only_whole_frames_leave_and_a_line_ends_on_a_whole_frame(codec, frame):
    out = PhoneAudioOut(22050, codec)
    sent = b""
    for piece in (tone(37), tone(200), tone(3), tone(123)):  # odd sizes, as synthesis yields them
        frames = out.push(piece)
        assert len(frames) % frame == 0
        sent += frames
    tail = out.end_of_line()
    assert tail and len(tail) % frame == 0
    total = sent + tail
    seconds = len(total) / codec.bytes_per_sample / 8000
    assert 0.363 - 0.01 <= seconds <= 0.363 + codec.frame_ms / 1000 + 0.01  # all the audio, padded by < 1 frame
    assert out.end_of_line() == b""  # nothing left over for the next line


def test_mulaw_frames_carry_the_sound():
    out = PhoneAudioOut(16000, TWILIO_MULAW)
    frames = out.push(tone(400, rate=16000)) + out.end_of_line()
    pcm = np.frombuffer(ulaw_to_pcm(frames), dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm))
    assert abs(np.argmax(spectrum) * 8000 / len(pcm) - 440) < 10  # still a 440 Hz tone, at 8 kHz


def test_clear_drops_what_was_not_sent():
    out = PhoneAudioOut(8000, EXOTEL_PCM)
    assert out.push(tone(150, rate=8000)) != b""  # one 100 ms chunk out, 50 ms held back
    out.clear()
    assert out.end_of_line() == b""
