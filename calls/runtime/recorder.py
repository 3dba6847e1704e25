"""One call's recording: both sides as heard, time-aligned, into one stereo file as the call runs.

The caller's audio is what the server received (after decoding: a phone line's
G.711 or the browser's PCM), on the left; the bot's is what was played (paced
output, cut where the caller barged in), on the right. Both are placed on one
clock, the call's `Clock` (injected, so tests place audio at known times):
sample 0 is the moment the recorder started, the start of the call.

- Caller audio arrives in frames, each stamped with when it was received. A
  frame goes right after the previous one unless it came more than JITTER_S
  later than that would put it (the caller stopped sending: push-to-talk
  released, a network gap): then it goes at the time it was received, with
  silence in between. So the caller's words sit where they were heard (a stall
  of the network or the server shifts them by up to JITTER_S), without a gap
  for every late frame.
- Bot audio arrives ahead of time (the speaker sends a lead of 250 ms) with the
  moment it starts playing; a barge-in cuts it (`bot_cut`): what had not played
  by then is removed. So the recorder keeps the last HOLD_S undecided and hands
  the encoder only audio older than that, in blocks of at least BLOCK_S (never
  a frame at a time): memory per call is about a second of audio.

`stop()` ends the file (the caller said no to recording, or the call is over);
the encoder thread then closes it and `on_closed(path)` is told, in that
thread, so it can be uploaded (`calls.persistence.recordings`). Audio the
encoder could not take in time (its queue full) is left out as silence, so
the sides stay aligned, and counted (`voicebot_recording_dropped_seconds`).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from calls import metrics
from calls.audio import StreamResampler
from calls.runtime.ogg_writer import RATE, Encoder, OggOpusFile, encoder as shared_encoder
from calls.runtime.ports import Clock

log = logging.getLogger(__name__)

CALLER, BOT = 0, 1  # channels: left, right
HOLD_S = 0.4  # undecided audio: more than the bot's playback lead, so a barge-in cut lands before encoding
BLOCK_S = 0.5  # audio handed to the encoder at a time
MAX_BLOCK_S = 5.0  # a long silence goes to the encoder in blocks no longer than this
# A caller frame this much later than the previous one's end still follows it directly: a
# stalled network or event loop delivers frames late and then in a burst, and a gap for each
# late frame would tear the caller's words apart (a stall shifts them instead, by at most this).
JITTER_S = 0.3
MAX_AHEAD_S = 10.0  # audio placed further ahead of the clock than this is not kept (a runaway client)


class Timeline:
    """Two channels of int16 samples at RATE on one clock; the part not yet taken in memory."""

    def __init__(self, start: float, rate: int = RATE) -> None:
        self.start = start
        self.rate = rate
        self.base = 0  # absolute sample index of _buf[0]
        self._buf = np.zeros((rate, 2), dtype=np.int16)
        self._len = 0  # samples of _buf in use
        self.caller_cursor = 0  # where the next caller frame goes, unless it came late
        self.dropped = 0  # samples not kept (placed before `base`, or too far ahead)

    def position(self, at: float) -> int:
        return max(0, round((at - self.start) * self.rate))

    def put(self, channel: int, pos: int, samples: np.ndarray) -> int:
        """Write `samples` at absolute position `pos` (overwriting); returns where they ended."""
        end = pos + len(samples)
        if pos < self.base:  # too late: that part was already encoded
            self.dropped += min(len(samples), self.base - pos)
            samples = samples[self.base - pos :]
            pos = self.base
        limit = self.base + int(MAX_AHEAD_S * self.rate) + self._len
        if end > limit:
            self.dropped += min(len(samples), end - limit)
            samples = samples[: max(0, limit - pos)]
        if not len(samples):
            return end
        off = pos - self.base
        need = off + len(samples)
        if need > len(self._buf):
            grown = np.zeros((max(need, 2 * len(self._buf)), 2), dtype=np.int16)
            grown[: self._len] = self._buf[: self._len]
            self._buf = grown
        self._buf[off:need, channel] = samples
        self._len = max(self._len, need)
        return end

    def caller(self, samples: np.ndarray, received_at: float) -> None:
        """A caller frame received at `received_at` (it ended then)."""
        heard_from = self.position(received_at) - len(samples)
        if heard_from > self.caller_cursor + JITTER_S * self.rate:
            self.caller_cursor = heard_from
        self.caller_cursor = self.put(CALLER, max(self.caller_cursor, self.base), samples)

    def clear(self, channel: int, from_pos: int) -> None:
        """Silence `channel` from `from_pos` on (in the part not yet taken)."""
        off = max(0, from_pos - self.base)
        if off < self._len:
            self._buf[off : self._len, channel] = 0

    def take(self, until: int, most: int) -> np.ndarray:
        """The samples from `base` up to `until` (at most `most`), removed from memory."""
        n = max(0, min(until - self.base, most))
        block = np.zeros((n, 2), dtype=np.int16)
        kept = min(n, self._len)
        block[:kept] = self._buf[:kept]
        rest = self._len - kept
        self._buf[:rest] = self._buf[kept : self._len]
        self._buf[rest : self._len] = 0
        self._len = rest
        self.base += n
        return block


class _BotStream:
    """The bot's audio resampled to the recording's rate, as one stream while its chunks follow each other."""

    def __init__(self, rate: int, pos: int, at: float, to_rate: int) -> None:
        self.rate = rate
        self.resampler = StreamResampler(rate, to_rate)
        self.pos = pos  # where the resampled stream's first sample goes
        self.emitted = 0  # resampled samples written so far
        self.next_at = at  # when the next chunk starts playing if it follows this one


class CallRecorder:
    """Records one call into `path`. Feed it from the event loop; the encoder does the rest."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock,
        call_id: str = "",
        tags: dict[str, str] | None = None,
        on_closed: Callable[[Path], None] | None = None,
        encoder: Encoder | None = None,
        rate: int = RATE,
    ) -> None:
        """`rate`: the file's sample rate (RATE; PHONE_RATE for a phone line)."""
        self.path = path
        self.rate = rate
        self.clock = clock
        self.call_id = call_id
        self.on_closed = on_closed
        self.encoder = encoder or shared_encoder
        self.timeline = Timeline(clock.now(), rate)
        self.started_at = self.timeline.start  # the recording's 0:00, on `clock`
        self.recording = True
        self._bot: _BotStream | None = None
        self._caller_rates: dict[int, StreamResampler] = {}
        self._file: OggOpusFile | None = None
        self._lost = 0  # samples the encoder could not take
        self._gap = 0  # ... not yet written as silence
        self.encoder.submit(self._open, dict(tags or {}))

    # ------------------------------------------------------------------ feeding (event loop)
    def caller_audio(self, pcm: bytes, rate: int, received_at: float) -> None:
        """Caller audio as received (s16le mono at `rate`), its last sample at `received_at`."""
        if not self.recording or not pcm:
            return
        resampler = self._caller_rates.get(rate) or self._caller_rates.setdefault(rate, StreamResampler(rate, self.rate))
        samples = np.frombuffer(resampler.process(pcm), dtype="<i2")
        self.timeline.caller(samples, received_at)
        self._advance()

    def bot_audio(self, pcm: bytes, rate: int, plays_at: float) -> None:
        """A chunk of bot audio (s16le mono at `rate`) that starts playing at `plays_at`."""
        if not self.recording or not pcm:
            return
        stream = self._bot
        if stream is None or stream.rate != rate or abs(plays_at - stream.next_at) > 0.002:
            self._end_bot_stream()
            stream = self._bot = _BotStream(rate, self.timeline.position(plays_at), plays_at, self.rate)
        stream.next_at = plays_at + len(pcm) / 2 / rate
        self._write_bot(stream, stream.resampler.process(pcm))
        self._advance()

    def bot_cut(self, at: float) -> None:
        """Barge-in: the bot's audio stopped playing at `at`; what was to follow is removed."""
        if not self.recording:
            return
        self._bot = None  # its resampler's tail was never heard
        self.timeline.clear(BOT, self.timeline.position(at))

    def stop(self, at: float | None = None) -> None:
        """No more recording: everything up to `at` (default now) is written and the file
        closed. A bot line still playing then is cut there."""
        if not self.recording:
            return
        at = self.clock.now() if at is None else at
        self._end_bot_stream()
        end = self.timeline.position(at)
        self.timeline.clear(BOT, end)
        self.timeline.dropped += max(0, self.timeline.caller_cursor - end)  # caller audio sent ahead of time
        self._flush(end)
        self.recording = False
        if self.timeline.dropped or self._lost:
            seconds = (self.timeline.dropped + self._lost) / self.rate
            log.warning("call %s: %.2f s of recording left out (late, runaway or encoder full)", self.call_id, seconds,
                        extra={"event": "recording.dropped"})
        self.encoder.submit(self._close, self._gap)
        self._gap = 0

    # ------------------------------------------------------------------ internals
    def _write_bot(self, stream: _BotStream, pcm: bytes) -> None:
        samples = np.frombuffer(pcm, dtype="<i2")
        if len(samples):
            self.timeline.put(BOT, stream.pos + stream.emitted, samples)
            stream.emitted += len(samples)

    def _end_bot_stream(self) -> None:
        if self._bot is not None:
            self._write_bot(self._bot, self._bot.resampler.flush())
            self._bot = None

    def _advance(self) -> None:
        """Hand the encoder what is older than HOLD_S, once there is a block of it."""
        now = self.clock.now()
        if self._bot is not None and self._bot.next_at < now - HOLD_S / 2:  # the line is over: its tail goes in
            self._end_bot_stream()
        ready = self.timeline.position(now - HOLD_S)
        if ready - self.timeline.base >= BLOCK_S * self.rate:
            self._flush(ready)

    def _flush(self, until: int) -> None:
        most = int(MAX_BLOCK_S * self.rate)
        while self.timeline.base < until:
            block = self.timeline.take(until, most)
            if self.encoder.submit(self._write, block, self._gap, block=True):
                self._gap = 0
            else:  # written as silence before the next block that gets in
                self._gap += len(block)
                self._lost += len(block)
                metrics.recording_dropped(len(block) / self.rate)

    # ------------------------------------------------------------------ encoder thread
    def _open(self, tags: dict[str, str]) -> None:
        self._file = OggOpusFile(self.path, tags=tags, rate=self.rate)

    def _write(self, block: np.ndarray, gap: int = 0) -> None:
        if self._file is not None:
            if gap:
                self._file.write(np.zeros((gap, 2), dtype=np.int16))
            self._file.write(block)

    def _close(self, gap: int = 0) -> None:
        if self._file is None:
            return
        if gap:
            self._file.write(np.zeros((gap, 2), dtype=np.int16))
        self._file.close()
        if self.on_closed is not None:
            self.on_closed(self.path)
