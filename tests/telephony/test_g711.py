"""G.711 µ-law against known vectors (ITU-T G.711 / the Sun reference the old `audioop` wrapped)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from calls.transport.phone.g711 import (
    PCM_TO_ULAW,
    ULAW_TO_PCM,
    pcm_to_ulaw,
    ulaw_to_pcm,
)


def s16(*values: int) -> bytes:
    return np.array(values, dtype="<i2").tobytes()


# (µ-law byte, decoded sample): segment ends and signs of the G.711 µ-law table.
DECODE_VECTORS = [
    (0xFF, 0), (0x7F, 0), (0xFE, 8), (0x7E, -8), (0xF0, 120), (0x70, -120), (0xEF, 132), (0xE0, 372),
    (0xDF, 396), (0xCF, 924), (0xBF, 1980), (0xAF, 4092), (0x9F, 8316), (0x8F, 16764), (0x80, 32124),
    (0x00, -32124), (0x0F, -16764),
]
# (16-bit sample, µ-law byte): zero, the smallest steps, clipping at both ends.
ENCODE_VECTORS = [
    (0, 0xFF), (1, 0xFF), (-1, 0x7E), (100, 0xF2), (-100, 0x72), (1000, 0xCE), (8031, 0xA0),
    (8159, 0x9F), (32124, 0x80), (32767, 0x80), (-32768, 0x00),
]


@pytest.mark.parametrize("code, sample", DECODE_VECTORS)
def test_decode_known_vectors(code, sample):
    assert ulaw_to_pcm(bytes([code])) == s16(sample)


@pytest.mark.parametrize("sample, code", ENCODE_VECTORS)
def test_encode_known_vectors(sample, code):
    assert pcm_to_ulaw(s16(sample)) == bytes([code])


def test_every_code_survives_a_round_trip():
    codes = bytes(range(256))
    again = pcm_to_ulaw(ulaw_to_pcm(codes))
    # 0x7F is "negative zero": it decodes to 0, which encodes as 0xFF. Every other code is exact.
    assert again == codes.replace(b"\x7f", b"\xff")


def test_quantisation_error_is_about_half_a_step():
    samples = np.arange(-32000, 32000, dtype=np.int16)
    back = np.frombuffer(ulaw_to_pcm(pcm_to_ulaw(samples.tobytes())), dtype="<i2").astype(np.int32)
    error = np.abs(back - samples)
    # µ-law steps double per segment, from 8 near zero to 1024 at the top (16-bit scale):
    # the error stays near half a step, about 1/16 of the level (plus the 3-bit truncation).
    assert error.max() <= 516
    assert np.all(error <= np.maximum(12, np.abs(samples.astype(np.int32)) // 16))


def test_odd_byte_is_dropped_and_empty_is_empty():
    assert pcm_to_ulaw(s16(0) + b"\x01") == b"\xff"
    assert pcm_to_ulaw(b"") == b"" and ulaw_to_pcm(b"") == b""


@pytest.mark.allow_skip("Python 3.13 and later no longer ship audioop; the known vectors above still run")
def test_full_tables_match_the_reference_implementation():
    """Python ≤ 3.12 still ships the reference (`audioop`); compare every entry."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    assert ULAW_TO_PCM.tobytes() == audioop.ulaw2lin(bytes(range(256)), 2)
    everything = np.arange(-32768, 32768, dtype="<i2").tobytes()
    assert pcm_to_ulaw(everything) == audioop.lin2ulaw(everything, 2)
    assert PCM_TO_ULAW.shape == (65536,)
