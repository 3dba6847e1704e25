"""The Ogg Opus container, written by hand: pages, the Opus headers, multistream packets.

A recording is one Opus stream of two channels, caller left and bot right, each
its own mono Opus stream inside it (RFC 7845 channel mapping family 1: two
streams, none coupled). Every player that plays Ogg Opus plays it as stereo; the
two sides never leak into each other (a coupled stereo encoder's intensity
stereo and mid/side coding do), and a side that is silent costs no encoding
(`calls.runtime.ogg_writer`). libavformat's Ogg muxer cannot take such packets
from two encoders, so the pages are built here: a few dozen lines of RFC 3533
and RFC 7845, with no Python callback per page (the muxer's file writes were
part of the encoder's cost).

Pure functions and one small class; no I/O but `OggPages.write`'s `os.write`.
"""
from __future__ import annotations

import os
import random
import struct
import zlib

GRANULE_RATE = 48000  # Ogg Opus granule positions always count 48 kHz samples
_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def ogg_crc(data: bytes) -> int:
    """The Ogg page checksum (CRC-32, polynomial 0x04C11DB7, not reflected, no init or xor),
    computed with zlib's reflected CRC-32 on bit-reversed bytes (C speed, not a Python loop)."""
    raw = zlib.crc32(data.translate(_REVERSED)) ^ zlib.crc32(bytes(len(data)))  # cancels zlib's init and final xor
    return int(f"{raw:032b}"[::-1], 2)


def opus_head(pre_skip: int, input_rate: int, channels: int = 2) -> bytes:
    """OpusHead for `channels` uncoupled mono streams, channel i = stream i (mapping family 1)."""
    return b"OpusHead" + struct.pack("<BBHIhBBB", 1, channels, pre_skip, input_rate, 0, 1, channels, 0) + bytes(range(channels))


def opus_tags(tags: dict[str, str], vendor: str = "voicebot") -> bytes:
    comments = [f"{key}={value}".encode() for key, value in tags.items()]
    out = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor.encode() + struct.pack("<I", len(comments))
    return out + b"".join(struct.pack("<I", len(c)) + c for c in comments)


def _length(n: int) -> bytes:
    """An Opus frame length as RFC 6716 §3.2.1 writes it (one or two bytes)."""
    if n < 252:
        return bytes([n])
    first = 252 + (n & 3)
    return bytes([first, (n - first) >> 2])


def _read_length(packet: bytes, at: int) -> tuple[int, int]:
    if packet[at] < 252:
        return packet[at], at + 1
    return packet[at] + 4 * packet[at + 1], at + 2


def frames(packet: bytes) -> tuple[int, list[bytes]]:
    """(TOC byte, its frames) of an Opus packet (RFC 6716 §3.2)."""
    toc, code, body = packet[0], packet[0] & 3, packet[1:]
    if code == 0:
        return toc, [body]
    if code == 1:
        half = len(body) // 2
        return toc, [body[:half], body[half:]]
    if code == 2:
        n, at = _read_length(packet, 1)
        return toc, [packet[at : at + n], packet[at + n :]]
    count, at = packet[1] & 0x3F, 2
    padding = 0
    if packet[1] & 0x40:  # padding: lengths of 255 continue
        while True:
            padding += packet[at] if packet[at] < 255 else 254
            at += 1
            if packet[at - 1] < 255:
                break
    end = len(packet) - padding
    if packet[1] & 0x80:  # VBR: every frame's length but the last's
        sizes = []
        for _ in range(count - 1):
            n, at = _read_length(packet, at)
            sizes.append(n)
        sizes.append(end - at - sum(sizes))
    else:
        sizes = [(end - at) // count] * count
    out = []
    for n in sizes:
        out.append(packet[at : at + n])
        at += n
    return toc, out


def self_delimited(packet: bytes) -> bytes:
    """`packet` in the self-delimiting framing (RFC 6716 Appendix B), as every stream but
    the last of a multistream packet is written."""
    toc, parts = frames(packet)
    if len(parts) == 1:  # code 0, what SILK's 60 ms frames are
        return bytes([toc & ~3]) + _length(len(parts[0])) + parts[0]
    # Anything else as code 3, VBR, no padding: every frame's length, the last's too.
    lengths = b"".join(_length(len(p)) for p in parts)
    return bytes([(toc & ~3) | 3, 0x80 | len(parts)]) + lengths + b"".join(parts)


class OggPages:
    """One logical Ogg stream written to the file descriptor `fd`, a whole page per `os.write`
    (a killed writer leaves whole pages)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.serial = random.getrandbits(32)
        self.sequence = 0

    def write(self, packets: list[bytes], granule: int, *, first: bool = False, last: bool = False) -> None:
        """One page holding whole `packets` (at most 255 lacing values in all)."""
        lacing = bytearray()
        for p in packets:
            lacing += b"\xff" * (len(p) // 255) + bytes([len(p) % 255])
        if len(lacing) > 255:
            raise ValueError("too many packets for one Ogg page")
        flags = (2 if first else 0) | (4 if last else 0)
        header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, self.serial, self.sequence, 0, len(lacing))
        page = header + bytes(lacing) + b"".join(packets)
        page = page[:22] + struct.pack("<I", ogg_crc(page)) + page[26:]
        self.sequence += 1
        view = memoryview(page)
        while view:
            view = view[os.write(self.fd, view) :]

    @staticmethod
    def lacing_values(packet: bytes) -> int:
        return len(packet) // 255 + 1
