"""Bot audio in the frame sizes carriers require, and caller audio back to PCM.

Carriers are strict about what they play: Twilio wants µ-law 8 kHz in payloads
that are whole 20 ms frames (160 bytes), Exotel 16-bit PCM 8 kHz in chunks that
are a multiple of 320 bytes (100 ms = 1,600 bytes is the usual size). Bot audio
arrives from the pipeline as PCM at the engine's output rate in pieces of any
length, so `PhoneAudioOut` resamples it to 8 kHz, encodes it, and hands out only
whole frames; the end of a line is padded with silence to a whole frame (a short
tail would otherwise be dropped or cause a gap).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from calls.audio import StreamResampler
from calls.transport.phone.g711 import ULAW_SILENCE, pcm_to_ulaw, ulaw_to_pcm

PHONE_RATE = 8000


@dataclass(frozen=True)
class Codec:
    """How one carrier carries 8 kHz audio: bytes per frame, encoder, decoder, silence byte."""

    name: str
    frame_bytes: int
    encode: Callable[[bytes], bytes]
    decode: Callable[[bytes], bytes]
    silence: bytes

    @property
    def frame_ms(self) -> int:
        return self.frame_bytes * 1000 // (PHONE_RATE * self.bytes_per_sample)

    @property
    def bytes_per_sample(self) -> int:
        return 1 if self.silence == bytes([ULAW_SILENCE]) else 2


def _same(data: bytes) -> bytes:
    return data[: len(data) - len(data) % 2]


# Twilio: µ-law, 20 ms frames of 160 bytes (payloads are whole frames).
TWILIO_MULAW = Codec("audio/x-mulaw", 160, pcm_to_ulaw, ulaw_to_pcm, bytes([ULAW_SILENCE]))
# Exotel: 16-bit PCM, chunks of 100 ms = 1,600 bytes (a multiple of 320).
EXOTEL_PCM = Codec("audio/l16", 1600, _same, _same, b"\x00\x00")


class PhoneAudioOut:
    """Bot PCM at `from_rate` in, whole carrier frames out."""

    def __init__(self, from_rate: int, codec: Codec) -> None:
        self.from_rate = from_rate
        self.codec = codec
        self._resampler = StreamResampler(from_rate, PHONE_RATE)
        self._pending = bytearray()  # encoded audio short of a whole frame

    def push(self, pcm: bytes) -> bytes:
        """Whole frames (possibly none) for this piece of audio, concatenated."""
        self._pending += self.codec.encode(self._resampler.process(pcm))
        usable = len(self._pending) - len(self._pending) % self.codec.frame_bytes
        out = bytes(self._pending[:usable])
        del self._pending[:usable]
        return out

    def end_of_line(self) -> bytes:
        """The rest of a line, padded with silence to a whole frame (b"" if nothing is left)."""
        self._pending += self.codec.encode(self._resampler.flush())
        self._resampler = StreamResampler(self.from_rate, PHONE_RATE)
        if not self._pending:
            return b""
        short = -len(self._pending) % self.codec.frame_bytes
        out = bytes(self._pending) + self.codec.silence * (short // len(self.codec.silence))
        self._pending.clear()
        return out

    def clear(self) -> None:
        """Barge-in: drop what was not sent."""
        self._pending.clear()
        self._resampler = StreamResampler(self.from_rate, PHONE_RATE)
