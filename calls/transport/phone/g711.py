"""G.711 µ-law, the codec of the telephone network (Twilio Media Streams carry it).

`audioop` is deprecated and gone from Python 3.13, so the codec lives here as two
numpy lookup tables built once at import: 256 µ-law bytes -> int16 samples, and
all 65,536 int16 samples -> µ-law bytes. The tables follow the ITU-T G.711
reference (14-bit magnitude, bias 0x84, clip at 8159, bit-inverted output), the
same arithmetic as the classic Sun `g711.c` that `audioop` wrapped, so encoding
and decoding are table look-ups over whole frames with no Python loop per sample.
"""
from __future__ import annotations

import numpy as np

_BIAS = 0x84
_CLIP = 8159  # largest 14-bit magnitude µ-law can represent (after the >> 2)
_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)


def _decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = ((u & 0x0F) << 3) + _BIAS
    t <<= (u & 0x70) >> 4
    return np.where(u & 0x80, _BIAS - t, t - _BIAS).astype("<i2")


def _encode_table() -> np.ndarray:
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 2  # 16-bit -> 14-bit, arithmetic shift
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm), _CLIP) + (_BIAS >> 2)
    seg = np.searchsorted(_SEG_END, magnitude, side="left")  # first segment whose end >= magnitude
    code = (seg << 4) | ((magnitude >> (seg + 1)) & 0x0F)
    code = np.where(seg >= 8, 0x7F, code)
    table = (code ^ mask).astype(np.uint8)
    # Index by the sample's unsigned 16-bit pattern: roll so that table[uint16(x)] encodes x.
    return np.roll(table, -32768)


ULAW_TO_PCM = _decode_table()
PCM_TO_ULAW = _encode_table()
ULAW_SILENCE = 0xFF  # µ-law code of a zero sample


def ulaw_to_pcm(data: bytes) -> bytes:
    """µ-law bytes -> s16le PCM (two bytes per input byte)."""
    return ULAW_TO_PCM[np.frombuffer(data, dtype=np.uint8)].tobytes()


def pcm_to_ulaw(pcm: bytes) -> bytes:
    """s16le PCM -> µ-law bytes (one per sample; a dangling odd byte is dropped)."""
    usable = len(pcm) - len(pcm) % 2
    samples = np.frombuffer(memoryview(pcm)[:usable], dtype="<u2")
    return PCM_TO_ULAW[samples].tobytes()
