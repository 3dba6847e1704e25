"""Call recordings on disk: stereo Opus in Ogg, written page by page, encoded off the event loop.

`OggOpusFile` is one recording file. It is written through PyAV (libopus, the
Ogg muxer) into a plain unbuffered file with `flush_packets`, so every Ogg page
reaches the kernel as soon as the muxer closes it (a page holds at most
PAGE_MS of audio): a worker killed mid-call leaves a file that plays up to its
last page, and no call holds its recording in memory. The file is locked
(`flock`) while it is written, so the uploader (`calls.persistence.recordings`)
never takes a file a live call is still writing; the kernel drops the lock of a
killed process, and its file is uploaded like any other.

`Encoder` is the one thread per process that encodes every call's audio:
libopus runs with the GIL released, so encoding uses the other core instead of
holding up the event loop, and a call hands it a block of PCM at a time
(`calls.runtime.recorder`), never a frame. The thread runs ENCODER_NICE lower
than the event loop: on a busy machine the calls' turns get the CPU first
(bench/load.py, 40 + 40 push-to-talk calls paired, recording on against off:
at the same priority the client p95 rose 226 -> 377 ms) and the encoder
catches up in between. Its queue is bounded (ENCODER_QUEUE blocks); a block
that finds it full is not encoded and the caller of `submit` counts it
(nothing is dropped silently).

Opus settings: SILK ("voip"), 60 ms frames, complexity 0, RECORDING_BITRATE
(24 kbit/s). Measured on this machine (2 cores): about 3-4 ms of CPU per second
of stereo audio. CELT ("audio") costs half as much but at this bitrate uses
intensity stereo, which leaks one side into the other (the bot's silent
channel came back at RMS 460 under the caller's speech), and the two sides must
stay apart.
"""
from __future__ import annotations

import atexit
import fcntl
import logging
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

log = logging.getLogger(__name__)

RATE = 16000  # both sides are recorded at 16 kHz (wideband speech) ...
PHONE_RATE = 8000  # ... or at 8 kHz on a phone line, which carries no more (as heard, and a third cheaper)
PAGE_MS = 500  # an Ogg page holds at most this much audio: what a killed worker can lose
BITRATE = 24000
ENCODER_QUEUE = 1000  # audio blocks waiting for the encoder thread (~0.5 s, 32 KB each), for all calls of a process
# The encoder thread runs this much nicer than the worker's event loop (Linux: a thread has
# its own nice value): a call's turns come first, and the recording catches up in between.
ENCODER_NICE = 10
OPUS_OPTIONS = {"application": "voip", "frame_duration": "60", "compression_level": "0"}


class OggOpusFile:
    """One stereo (left, right) Ogg Opus file at `rate`, written and locked by its owner.

    Not thread-safe: every method runs on one thread (the `Encoder`'s)."""

    def __init__(
        self, path: Path, *, tags: dict[str, str] | None = None, bitrate: int = BITRATE, rate: int = RATE
    ) -> None:
        import av  # PyAV (libavformat + libopus), installed with faster-whisper

        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.rate = rate
        self._file: BinaryIO = open(path, "xb", buffering=0)  # noqa: SIM115 (kept open while the call runs)
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._out = av.open(
                self._file, "w", format="ogg", buffer_size=4096,
                options={"page_duration": str(PAGE_MS * 1000)}, container_options={"flush_packets": "1"},
            )
            self._stream = self._out.add_stream("libopus", rate=rate, layout="stereo")
            for key, value in (tags or {}).items():  # the OpusTags comments
                self._stream.metadata[key] = value
            self._stream.bit_rate = bitrate
            self._stream.options = dict(OPUS_OPTIONS)
        except BaseException:
            self._file.close()
            raise
        self._pts = 0
        self.closed = False

    @property
    def seconds(self) -> float:
        """Audio written so far."""
        return self._pts / self.rate

    def write(self, block: np.ndarray) -> None:
        """Append a block of int16 samples, shape (n, 2): left and right."""
        import av

        if self.closed or not len(block):
            return
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block, dtype=np.int16).reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = self.rate
        frame.pts = self._pts
        self._pts += len(block)
        for packet in self._stream.encode(frame):
            self._out.mux(packet)

    def close(self) -> None:
        """Encode what the encoder holds, write the last page and release the file."""
        if self.closed:
            return
        self.closed = True
        try:
            for packet in self._stream.encode(None):
                self._out.mux(packet)
            self._out.close()
        finally:
            self._file.close()  # closing the descriptor drops the lock


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
