"""The bot's voice in one call: each line's audio sent as the caller hears it.

The speaker says one line at a time: it asks the call's voice (`calls.runtime.voices`:
the prompt cache and the TTS fallback over the engines) for audio, frames it in
chunks of at most CHUNK_MS, and sends each when the pacer (`calls.runtime.pacing`)
says it is due, so it knows what the caller has heard when they barge in.

Hooks for transports: `Output.send_audio` gets ≤200 ms chunks at their send
time; `bot.speech.ended` goes out when a line's last chunk is sent (a phone
bridge answers it with a `mark`) and `played(turn)` records that the caller's
side reports the line played out; `clear()` sends `playback.clear` (a phone
bridge answers with `clear`). Each line is a task started through the call's
`spawn` (its `CallTasks`), so the call's teardown stops it.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

from calls.audio import PcmChunker
from calls.providers.base import TTSProvider
from calls.runtime.pacing import Line, Pacer
from calls.runtime.ports import SYSTEM_CLOCK, CallAudio, Clock, Output
from calls.runtime.tasks import Spawn, unowned

log = logging.getLogger(__name__)

CHUNK_MS = 200  # protocol: bot audio in chunks of at most 200 ms

FirstAudio = Callable[[str, float, float], Awaitable[None]]  # (engine, tts_ms, sent_at)
LineFailed = Callable[[Line, Exception], Awaitable[None]]


class Speaker:
    """Says one line at a time; the current line is `line`."""

    def __init__(
        self,
        out: Output,
        tts: TTSProvider,
        *,
        voice: str = "",
        clock: Clock = SYSTEM_CLOCK,
        lead_ms: int | None = None,
        on_error: LineFailed | None = None,
        spawn: Spawn = unowned,
        audio: CallAudio | None = None,
    ) -> None:
        """`on_error` hears of a line that failed (the speech task raised): without it the
        failure would only end the task, and the caller would wait in silence. `audio`
        (the call's recording) gets each chunk with the moment it plays, and the cut of
        a barge-in."""
        from django.conf import settings

        self.out = out
        self.on_error = on_error
        self.tts = tts
        self.voice = voice
        self.clock = clock
        self.spawn = spawn
        self.audio = audio
        self.lead_s = (settings.PLAYBACK_LEAD_MS if lead_ms is None else lead_ms) / 1000
        self.line: Line | None = None

    @property
    def output_rate(self) -> int:
        return self.tts.sample_rate

    def say(
        self,
        turn: int,
        text: str,
        *,
        on_first_audio: FirstAudio | None = None,
        on_sent: Callable[[], Any] | None = None,
    ) -> Line:
        """Start saying `text` (a task); `on_first_audio` when the first chunk is sent,
        `on_sent` once the last one is."""
        line = Line(turn=turn, text=text)
        line.task = self.spawn(self._play(line, on_first_audio, on_sent), f"speak-{turn}")
        self.line = line
        return line
    async def _play(self, line: Line, on_first_audio: FirstAudio | None, on_sent: Callable[[], Any] | None) -> None:
        try:
            await self._say_line(line, on_first_audio, on_sent)
        except Exception as exc:
            log.error("bot line %s failed", line.turn, exc_info=exc, extra={"event": "speech.failed"})
            if self.on_error is None:
                raise
            await self.on_error(line, exc)

    async def _say_line(self, line: Line, on_first_audio: FirstAudio | None, on_sent: Callable[[], Any] | None) -> None:
        await self.out.send_event({"type": "bot.speech.started", "turn": line.turn, "text": line.text})
        pacer = Pacer(line, self.clock, self.lead_s)
        chunker = PcmChunker(self.output_rate, max_ms=CHUNK_MS)
        requested = self.clock.now()
        first = True
        async with aclosing(self.tts.synthesize(line.text, voice=self.voice)) as stream:
            async for pcm in stream:
                for chunk in chunker.push(pcm):
                    sent_at = await self._send(pacer, chunk)
                    if first:
                        first = False
                        if on_first_audio is not None:
                            engine = getattr(self.tts, "engine", self.tts.name)
                            await on_first_audio(engine, round((sent_at - requested) * 1000, 1), sent_at)
        for chunk in chunker.flush():
            await self._send(pacer, chunk)
        line.sent_all = True
        await self.out.send_event({"type": "bot.speech.ended", "turn": line.turn})
        if on_sent is not None:
            on_sent()

    async def _send(self, pacer: Pacer, chunk: bytes) -> float:
        sent_at = await pacer.wait_turn()
        line = pacer.line
        await self.out.send_audio(chunk)
        if self.audio is not None and line.started_at is not None:  # it plays where the line has got to
            self.audio.bot_audio(chunk, self.output_rate, line.started_at + line.sent_seconds)
        line.sent_seconds += len(chunk) / 2 / self.output_rate
        return sent_at

    # ------------------------------------------------------------------ what was heard
    def audible(self) -> bool:
        return self.line is not None and self.line.audible(self.clock.now())

    def remaining(self) -> float:
        """Seconds until the current line has played out at the caller's side."""
        return 0.0 if self.line is None else self.line.remaining(self.clock.now())

    def played(self, turn: int) -> None:
        """The caller's side says line `turn` played to the end (a phone `mark` came back)."""
        if self.line is not None and self.line.turn == turn and self.line.sent_all:
            self.line.played_at = self.clock.now()

    async def wait(self) -> None:
        """Until the current line is over: its last chunk sent, or it was stopped or failed
        (the line's own failure is reported through `on_error`, not raised here). Waiting
        does not cancel the line when the waiter is cancelled."""
        if self.line is not None and self.line.task is not None:
            await asyncio.wait([self.line.task])

    async def clear(self) -> Line | None:
        """Barge-in: stop the audible line and tell the client to drop unplayed audio.
        Returns the line (its `heard()` is what the caller heard), or None if nothing played."""
        line = self.line
        now = self.clock.now()
        if line is None or not line.audible(now):
            return None
        still_sending = line.task is not None and not line.task.done()
        if still_sending:
            assert line.task is not None
            line.task.cancel()
            await asyncio.gather(line.task, return_exceptions=True)
        line.cleared_at = now
        if self.audio is not None:
            self.audio.bot_cut(now)
        self.line = None
        await self.out.send_event({"type": "playback.clear", "turn": line.turn})
        if still_sending:  # otherwise bot.speech.ended was already sent
            await self.out.send_event({"type": "bot.speech.ended", "turn": line.turn})
        return line

    def stop(self) -> None:
        """The call is over: stop sending."""
        if self.line is not None and self.line.task is not None and not self.line.task.done():
            if self.line.task is not asyncio.current_task():
                self.line.task.cancel()
