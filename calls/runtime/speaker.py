"""The bot's voice in one call: text → audio sent at the pace the caller hears it.

Audio is sent in real time with a small lead (`PLAYBACK_LEAD_MS`, 250 ms), not as
fast as it is made. So the server knows, at any moment, how much of a line the
caller has heard (`Line.heard`), a barge-in (`clear()`) drops at most the lead,
and a phone line (Twilio/Exotel) gets the real-time media it expects. Time comes
from an injectable `Clock`, so pacing is tested against a fake clock.

Where the audio comes from is a `TTSProvider` stack of adapters: `CachedTTS`
(scripted lines replayed from the prompt cache) over each engine, and
`FallbackTTS` (the cloud voice, then the local one, resampled to one output
rate). The speaker only paces, frames and reports.

Hooks for transports: `Output.send_audio` gets ≤200 ms chunks at their send
time; `bot.speech.ended` goes out when a line's last chunk is sent (a phone
bridge answers it with a `mark`) and `played(turn)` records that the caller's
side reports the line played out; `clear()` sends `playback.clear` (a phone
bridge answers with `clear`).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from calls.audio import PcmChunker, StreamResampler
from calls.providers.base import ProviderError, TTSProvider
from calls.runtime.ports import SYSTEM_CLOCK, Clock, Output

if TYPE_CHECKING:
    from calls.runtime.prompt_cache import PromptCache

log = logging.getLogger(__name__)

CHUNK_MS = 200  # protocol: bot audio in chunks of at most 200 ms
PLAYBACK_MARGIN_S = 0.3  # client-side playout delay we allow for when judging barge-in


# ---------------------------------------------------------------------- provider adapters
class CachedTTS(TTSProvider):
    """`inner` with scripted lines replayed from the prompt cache (and new ones stored)."""

    def __init__(self, inner: TTSProvider, cache: PromptCache) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.sample_rate = inner.sample_rate

    def synthesize(self, text: str, *, voice: str = "") -> AsyncIterator[bytes]:
        return self.cache.synthesize_cached(self.inner, text, voice)


FailureHook = Callable[[TTSProvider, ProviderError, "TTSProvider | None"], Awaitable[None]]


class SpeechFailed(Exception):
    """No engine could say a line: the caller would hear nothing."""


class FallbackTTS(TTSProvider):
    """Engines tried in order, all resampled to `sample_rate`. An engine that fails
    before its first audio hands the line to the next; `on_failure` is told either way.
    Any exception counts as a failure, not only a classified `ProviderError`: an SDK
    can raise something nobody foresaw, and the fallback must still take the line.
    When every engine failed before any audio, `SpeechFailed` is raised.
    `engine` names the engine that produced the current line's audio."""

    def __init__(self, engines: list[TTSProvider], sample_rate: int, on_failure: FailureHook | None = None) -> None:
        self.engines = engines
        self.sample_rate = sample_rate
        self.name = engines[0].name
        self.engine = self.name
        self.on_failure = on_failure

    async def synthesize(self, text: str, *, voice: str = "") -> AsyncIterator[bytes]:
        for i, engine in enumerate(self.engines):
            resampler = StreamResampler(engine.sample_rate, self.sample_rate)
            produced = False
            self.engine = engine.name
            try:
                # aclosing: on barge-in the engine's worker stops now, not at garbage collection.
                async with aclosing(engine.synthesize(text, voice=voice if i == 0 else "")) as stream:
                    async for pcm in stream:
                        out = resampler.process(pcm)
                        if out:
                            produced = True
                            yield out
                tail = resampler.flush()
                if tail:
                    yield tail
                return
            except Exception as exc:
                failure = exc if isinstance(exc, ProviderError) else _unforeseen(engine, exc)
                more = i + 1 < len(self.engines) and not produced
                if self.on_failure is not None:
                    await self.on_failure(engine, failure, self.engines[i + 1] if more else None)
                if produced:  # cut short: what the caller heard of the line stands
                    return
                if not more:
                    raise SpeechFailed(f"no speech engine could say the line ({failure})") from exc


def _unforeseen(engine: TTSProvider, exc: Exception) -> ProviderError:
    """An exception the engine did not classify, logged with its traceback, as a ProviderError."""
    log.error("TTS %s failed unexpectedly", engine.name, exc_info=exc, extra={"event": "tts.failed", "provider": engine.name})
    return ProviderError(f"{engine.name} failed unexpectedly ({type(exc).__name__})", provider=engine.name)


# ---------------------------------------------------------------------- pacing
@dataclass
class Line:
    """One bot line as the caller hears it. Times are the speaker's clock."""

    turn: int
    text: str
    task: asyncio.Task[None] | None = None
    started_at: float | None = None  # playback start (first audio sent; moved on an underrun)
    sent_seconds: float = 0.0  # audio sent so far
    first_audio_at: float | None = None
    sent_all: bool = False
    played_at: float | None = None  # the caller's side reported the end (a phone mark)
    cleared_at: float | None = None

    def heard(self, now: float) -> float:
        """Seconds of this line the caller has heard by `now`."""
        if self.started_at is None:
            return 0.0
        until = now if self.cleared_at is None else min(now, self.cleared_at)
        return min(self.sent_seconds, max(0.0, until - self.started_at))

    def remaining(self, now: float) -> float:
        """Seconds of sent audio not yet played at `now`."""
        if self.played_at is not None or self.cleared_at is not None:
            return 0.0
        return max(0.0, self.sent_seconds - self.heard(now))

    def audible(self, now: float) -> bool:
        """Still being sent, or plausibly still playing at the caller's side."""
        if self.cleared_at is not None or self.played_at is not None:
            return False
        if self.task is not None and not self.task.done():
            return True
        return self.started_at is not None and now < self.started_at + self.sent_seconds + PLAYBACK_MARGIN_S


class Pacer:
    """When each chunk may go: the chunk starting at offset `s` of the line leaves at
    `start + s - lead`. If audio arrives later than that (slow synthesis), the
    caller's buffer ran dry, so playback restarts when it comes: `start` moves."""

    def __init__(self, line: Line, clock: Clock, lead_s: float) -> None:
        self.line = line
        self.clock = clock
        self.lead_s = lead_s

    async def wait_turn(self) -> float:
        """Wait until the next chunk is due; returns the send time."""
        line = self.line
        now = self.clock.now()
        if line.started_at is None:
            line.started_at = line.first_audio_at = now
            return now
        if now > line.started_at + line.sent_seconds:  # underrun: playback stalled until now
            line.started_at = now - line.sent_seconds
        due = line.started_at + line.sent_seconds - self.lead_s
        if due > now:
            await self.clock.sleep(due - now)
            now = self.clock.now()
        return now


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
    ) -> None:
        """`on_error` hears of a line that failed (the speech task raised): without it the
        failure would only end the task, and the caller would wait in silence."""
        from django.conf import settings

        self.out = out
        self.on_error = on_error
        self.tts = tts
        self.voice = voice
        self.clock = clock
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
        line.task = asyncio.create_task(self._play(line, on_first_audio, on_sent), name=f"speak-{turn}")
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
        await self.out.send_audio(chunk)
        pacer.line.sent_seconds += len(chunk) / 2 / self.output_rate
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
