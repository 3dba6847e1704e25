"""Call recordings on disk: two-channel Ogg Opus, written page by page, encoded off the event loop.

`OggOpusFile` is one recording file: caller left, bot right, each side its own
mono Opus stream (libopus through PyAV), the pages written by
`calls.runtime.ogg_opus` straight to an unbuffered file as each fills (a page
holds at most PAGE_MS of audio): a worker killed mid-call leaves a file that
plays up to its last page, and no call holds its recording in memory. The file
is locked (`flock`) while it is written, so the uploader
(`calls.persistence.recordings`) never takes a file a live call is still
writing; the kernel drops the lock of a killed process, and its file is
uploaded like any other.

Why a mono encoder per side rather than one stereo encoder: in a call mostly
one side speaks at a time, and a side's silence (digital zeros: push-to-talk
released, the bot between lines) is not encoded at all. After its first silent
frame (which the encoder sees, so it ends in silence too) every further silent
frame is a ready-made packet of encoded silence, so the encoder runs only while
someone speaks. A stereo encoder encodes both channels all the time, and at
24 kbit/s its stereo coding leaks one side into the other.

`Encoder` is the one thread per process that encodes every call's audio:
libopus runs with the GIL released, so encoding uses the other core instead of
holding up the event loop, and a call hands it a block of PCM at a time
(`calls.runtime.recorder`), never a frame. The thread runs ENCODER_NICE lower
than the event loop: on a busy machine the calls' turns get the CPU first and
the encoder catches up in between. Its queue is bounded (ENCODER_QUEUE blocks);
a block that finds it full is not encoded and the caller of `submit` counts it
(nothing is dropped silently).

Opus settings, per side: CELT ("lowdelay"), 60 ms packets, complexity 0,
SIDE_BITRATE (24 kbit/s; PHONE_BITRATE at 8 kHz). CELT encodes speech in less
than half the CPU of SILK ("voip": 2.0 against 0.9 ms per second of speech on
this machine), and with each side its own stream, the intensity stereo that
ruled CELT out for one stereo stream does not apply. At 24 kbit/s a side Whisper
hears espeak-ng speech through it about as well as the original (29 % words
wrong against 26 %, 18 clips; 31 % at 20 kbit/s). As mostly one side speaks at
a time, a file averages less (bench/RESULTS.md).
"""
from __future__ import annotations

import atexit
import fcntl
import functools
import logging
import os
import queue
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from calls.runtime.ogg_opus import GRANULE_RATE, OggPages, opus_head, opus_tags, self_delimited

log = logging.getLogger(__name__)

RATE = 16000  # both sides are recorded at 16 kHz (wideband speech) ...
PHONE_RATE = 8000  # ... or at 8 kHz on a phone line, which carries no more (as heard, and a third cheaper)
PAGE_MS = 480  # an Ogg page holds at most this much audio (8 frames): what a killed worker can lose
FRAME_MS = 60
SIDE_BITRATE = 24000  # each side's Opus bitrate at RATE ...
PHONE_BITRATE = 16000  # ... and at PHONE_RATE
ENCODER_QUEUE = 1000  # audio blocks waiting for the encoder thread (~0.5 s, 32 KB each), for all calls of a process
# The encoder thread runs this much nicer than the worker's event loop (Linux: a thread has
# its own nice value): a call's turns come first, and the recording catches up in between.
ENCODER_NICE = 10
OPUS_OPTIONS = {"application": "lowdelay", "frame_duration": str(FRAME_MS), "compression_level": "0"}


class _Side:
    """One channel's mono Opus encoder, fed whole frames; silent frames cost nothing after the first."""

    def __init__(self, rate: int, bitrate: int) -> None:
        self.rate = rate
        self.codec = _codec(rate, bitrate)
        self.silence = _silence(rate, bitrate)
        self.quiet = False  # the last frame was all zeros and the encoder has seen it

    def encode(self, samples: np.ndarray, pts: int, out: list[bytes]) -> None:
        """Append the packets of one frame of int16 samples to `out` (one packet a frame)."""
        import av

        if not samples.any():
            if self.quiet:
                out.append(self.silence)
                return
            self.quiet = True
        else:
            self.quiet = False
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.rate
        frame.pts = pts
        out.extend(bytes(p) for p in self.codec.encode(frame))

    def flush(self, out: list[bytes]) -> None:
        out.extend(bytes(p) for p in self.codec.encode(None))


def _codec(rate: int, bitrate: int) -> Any:
    import av  # PyAV (libavcodec + libopus), installed with faster-whisper

    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = rate
    codec.layout = "mono"
    codec.format = "s16"
    codec.bit_rate = bitrate
    codec.options = dict(OPUS_OPTIONS)
    codec.open()
    return codec


@functools.cache
def _silence(rate: int, bitrate: int) -> bytes:
    """A packet of encoded silence, as the encoder makes it once it has settled in silence."""
    codec = _codec(rate, bitrate)
    side = _Side.__new__(_Side)  # the encoder alone, never skipping
    side.rate, side.codec, side.quiet = rate, codec, False
    packets: list[bytes] = []
    zeros = np.zeros(rate * FRAME_MS // 1000, dtype=np.int16)
    for i in range(5):
        side.encode(zeros, i * len(zeros), packets)
        side.quiet = False
    return packets[-1]


class OggOpusFile:
    """One two-channel (caller left, bot right) Ogg Opus file at `rate`, written and locked by its owner.

    Not thread-safe: every method runs on one thread (the `Encoder`'s)."""

    def __init__(
        self, path: Path, *, tags: dict[str, str] | None = None, bitrate: int = 0, rate: int = RATE
    ) -> None:
        """`bitrate`: per side (default SIDE_BITRATE, PHONE_BITRATE at PHONE_RATE)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        bitrate = bitrate or (SIDE_BITRATE if rate > PHONE_RATE else PHONE_BITRATE)
        self.path = path
        self.rate = rate
        self._frame = rate * FRAME_MS // 1000
        self._file: BinaryIO = open(path, "xb", buffering=0)  # noqa: SIM115 (kept open while the call runs)
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._sides = [_Side(rate, bitrate), _Side(rate, bitrate)]
            self._pre_skip = struct.unpack_from("<H", bytes(self._sides[0].codec.extradata), 10)[0]
            self._pages = OggPages(self._file.fileno())
            self._pages.write([opus_head(self._pre_skip, rate)], 0, first=True)
            self._pages.write([opus_tags(tags or {})], 0)
        except BaseException:
            self._file.close()
            raise
        self._scale = GRANULE_RATE // rate
        self._pending = np.zeros((0, 2), dtype=np.int16)  # less than a frame, waiting for the rest
        self._queued: list[list[bytes]] = [[], []]  # each side's packets not yet on a page
        self._page: list[bytes] = []  # multistream packets of the page being filled
        self._lacing = 0
        self._packets = 0  # multistream packets on pages (or on the page being filled)
        self._frames = 0  # frames handed to the encoders
        self._samples = 0  # samples written so far
        self.closed = False

    @property
    def seconds(self) -> float:
        """Audio written so far."""
        return self._samples / self.rate

    def write(self, block: np.ndarray) -> None:
        """Append a block of int16 samples, shape (n, 2): left and right."""
        if self.closed or not len(block):
            return
        self._samples += len(block)
        data = np.concatenate((self._pending, block)) if len(self._pending) else block
        whole = len(data) - len(data) % self._frame
        for at in range(0, whole, self._frame):
            self._encode(data[at : at + self._frame])
        self._pending = np.array(data[whole:], dtype=np.int16)
        self._pair()

    def close(self) -> None:
        """Encode what is left, write the last page and release the file."""
        if self.closed:
            return
        self.closed = True
        try:
            if len(self._pending):
                pad = np.zeros((self._frame - len(self._pending), 2), dtype=np.int16)
                self._encode(np.concatenate((self._pending, pad)))
            for side, queued in zip(self._sides, self._queued):
                side.flush(queued)
            for side, queued, other in zip(self._sides, self._queued, reversed(self._queued)):
                queued += [side.silence] * (len(other) - len(queued))  # the sides stay in step
            self._pair(last=True)
            self._pages.write(self._page, self._pre_skip + self._samples * self._scale, last=True)
        finally:
            self._file.close()  # closing the descriptor drops the lock

    def _encode(self, frame: np.ndarray) -> None:
        pts = self._frames * self._frame
        self._frames += 1
        for channel, (side, queued) in enumerate(zip(self._sides, self._queued)):
            side.encode(np.ascontiguousarray(frame[:, channel]), pts, queued)

    def _pair(self, last: bool = False) -> None:
        """Join the two sides' packets into multistream packets, and write each full page
        (but the `last` one, which `close` writes)."""
        left, right = self._queued
        n = min(len(left), len(right))
        per_page = PAGE_MS // FRAME_MS
        for a, b in zip(left[:n], right[:n]):
            packet = self_delimited(a) + b
            lacing = OggPages.lacing_values(packet)
            if len(self._page) >= per_page or self._lacing + lacing > 255:
                self._flush_page()
            self._page.append(packet)
            self._lacing += lacing
            self._packets += 1
        del left[:n], right[:n]
        if not last and len(self._page) >= per_page:
            self._flush_page()

    def _flush_page(self) -> None:
        if self._page:
            self._pages.write(self._page, self._packets * self._frame * self._scale)
            self._page, self._lacing = [], 0


def locked_by_writer(path: Path) -> bool:
    """Whether a live writer (this process or another) holds `path`'s lock."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


class Encoder:
    """One daemon thread running recording jobs in the order they were submitted.

    Blocks of audio are bounded (`max_blocks` waiting); opening and closing a file
    are always taken, so a file is never left open for want of room."""

    def __init__(self, max_blocks: int = ENCODER_QUEUE) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], bool]] = queue.SimpleQueue()
        self.max_blocks = max_blocks
        self._blocks = 0  # audio jobs waiting
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, job: Callable[..., Any], *args: Any, block: bool = False) -> bool:
        """Queue `job(*args)`. A `block` of audio is refused (False, not run) while
        `max_blocks` are waiting; anything else is always queued."""
        with self._lock:
            if block:
                if self._blocks >= self.max_blocks:
                    return False
                self._blocks += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="recording-encoder", daemon=True)
                self._thread.start()
                atexit.register(self.drain, 10.0)  # a stopping worker writes the last pages first
        self._jobs.put((job, args, block))
        return True

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every job queued so far has run (tests, a stopping worker)."""
        done = threading.Event()
        self.submit(done.set)
        return done.wait(timeout)

    def _run(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + ENCODER_NICE)
        except OSError:  # not permitted here: the thread runs at the process's priority
            log.info("recording encoder thread: could not lower its priority")
        while True:
            job, args, block = self._jobs.get()
            if block:
                with self._lock:
                    self._blocks -= 1
            try:
                job(*args)
            except Exception:  # one call's broken file must not stop every other call's recording
                log.exception("recording job %s failed", getattr(job, "__qualname__", job))


encoder = Encoder()
