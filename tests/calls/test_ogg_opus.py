"""The recording file's container, written by hand (calls/runtime/ogg_opus.py), read back by
libavformat: page checksums, multistream packets of every Opus framing, and a silent side
that costs no encoding. Real libopus through PyAV, real espeak-ng speech."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from calls.runtime import ogg_writer
from calls.runtime.ogg_opus import ogg_crc, self_delimited
from calls.runtime.ogg_writer import OggOpusFile
from devtools.speech import say
from tests.recordings import decode, find


def pages(data: bytes) -> list[bytes]:
    out, at = [], 0
    while at < len(data):
        count = data[at + 26]
        size = 27 + count + sum(data[at + 27 : at + 27 + count])
        out.append(data[at : at + size])
        at += size
    return out


def test_the_page_checksum_is_the_one_libavformat_writes(tmp_path: Path) -> None:
    import av

    path = tmp_path / "muxed.ogg"
    with av.open(str(path), "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.random.default_rng(1).integers(-3000, 3000, (1, 16000), dtype=np.int16),
                                           format="s16", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    written = pages(path.read_bytes())
    assert len(written) >= 3
    for page in written:
        assert ogg_crc(page[:22] + bytes(4) + page[26:]) == struct.unpack_from("<I", page, 22)[0]


@pytest.mark.parametrize(("packet", "expected"), [
    (bytes([0x08]) + b"abc", bytes([0x08, 3]) + b"abc"),  # code 0: one frame, its length added
    (bytes([0x09]) + b"abcd", bytes([0x0B, 0x82, 2, 2]) + b"abcd"),  # code 1: two equal frames
    (bytes([0x0A, 1]) + b"abcd", bytes([0x0B, 0x82, 1, 3]) + b"abcd"),  # code 2: two frames, the first's length
    (bytes([0x0B, 0x03]) + b"abcdef", bytes([0x0B, 0x83, 2, 2, 2]) + b"abcdef"),  # code 3 CBR, three frames
    (bytes([0x0B, 0xC2, 2, 1]) + b"abcd" + b"\0\0", bytes([0x0B, 0x82, 1, 3]) + b"abcd"),  # VBR, padded
    (bytes([0x08]) + bytes(300), bytes([0x08, 252, 12]) + bytes(300)),  # a two-byte length (252 + 4 * 12)
])
def test_packets_become_self_delimited(packet: bytes, expected: bytes) -> None:
    assert self_delimited(packet) == expected


def speech_file(tmp_path: Path, name: str, keep: bool = False):
    """Caller speech at 0.5 s on the left, the bot's at 3.5 s on the right, silence around both."""
    caller = say("Yes, about fifty thousand a month.", voice="en-us+f2")
    bot = say("Welcome to QuickRupee. Is your salary more than that?", rate=16000)
    pcm = np.zeros((16000 * 8, 2), dtype=np.int16)
    c, b = np.frombuffer(caller, "<i2"), np.frombuffer(bot, "<i2")
    pcm[8000 : 8000 + len(c), 0] = c
    pcm[56000 : 56000 + len(b), 1] = b
    path = tmp_path / name
    rec = OggOpusFile(path, tags={"call_id": "c1"})
    for at in range(0, len(pcm), 7000):  # blocks that are not whole frames
        rec.write(pcm[at : at + 7000])
    rec.close()
    return (path, caller, rec) if keep else (path, caller)


@pytest.mark.parametrize("application", ["voip", "audio"])  # SILK's code-0 packets; CELT's code-3 (3 x 20 ms)
def test_both_sides_decode_in_place_whatever_the_packet_framing(tmp_path, monkeypatch, application) -> None:
    monkeypatch.setitem(ogg_writer.OPUS_OPTIONS, "application", application)
    ogg_writer._silence.cache_clear()
    try:
        path, caller = speech_file(tmp_path, f"{application}.ogg")
    finally:
        ogg_writer._silence.cache_clear()
    got = decode(path)
    assert got.tags.get("call_id") == "c1"
    assert abs(got.duration - 8.0) < 0.01
    at, match = find(caller, got.channel("caller"))
    assert abs(at - 0.5) < 0.01 and match > 0.5, (at, match)
    assert got.rms("bot", 0.5, 3.0) < 0.001 < 0.02 < got.rms("bot", 3.6, 5.0)  # each side only its own speaker
    assert got.rms("caller", 3.6, 5.0) < 0.001


class CountingCodec:
    """A libopus encoder that counts the frames it is given."""

    def __init__(self, codec) -> None:
        self.codec, self.frames = codec, 0

    def encode(self, frame):
        self.frames += frame is not None
        return self.codec.encode(frame)

    def __getattr__(self, name):
        return getattr(self.codec, name)


def test_a_silent_side_is_not_encoded(tmp_path, monkeypatch) -> None:
    real = ogg_writer._codec
    monkeypatch.setattr(ogg_writer, "_codec", lambda rate, bitrate: CountingCodec(real(rate, bitrate)))
    path, _, rec = speech_file(tmp_path, "quiet.ogg", keep=True)
    caller, bot = (side.codec.frames for side in rec._sides)
    frames_in = 8 * 1000 // ogg_writer.FRAME_MS + 1
    # Each side speaks for about 2.5 of the 8 s: libopus sees its speech and a frame of the silence after.
    assert 30 < caller < frames_in / 2 and 30 < bot < frames_in / 2, (caller, bot, frames_in)
    assert decode(path).rms("bot", 0.5, 3.0) < 0.001
    assert len(path.read_bytes()) * 8 / 8.0 < ogg_writer.SIDE_BITRATE  # less than one side's rate: silence is nearly free
