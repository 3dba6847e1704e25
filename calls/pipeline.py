"""The voice pipeline of one call: VAD → utterance → ASR → dialogue → TTS → out.

Plain async Python with no socket: the WebSocket consumer is one `Output`, a
test or a phone bridge can be another. It owns the call's timing (latency is
stamped here, at stage boundaries, never inside providers), barge-in, and the
order of stored rows (through `Store`, a sequential background writer, so the
response path never waits on the database).
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import aclosing
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from channels.db import database_sync_to_async
from django.conf import settings

from bots.dialogue import (
    REASON_DISCONNECTED,
    REASON_HANGUP,
    REASON_SHUTDOWN,
    REASON_TIMEOUT,
    Decision,
    Dialogue,
    asr_hint,
)
from calls import metrics, services
from calls.drain import live_calls
from calls.endpointing import Endpointer, VadEvent
from calls.providers.base import ASRProvider, ProviderError, Transcript, TTSProvider, VADProvider
from config.logs import bind_call, bind_turn

log = logging.getLogger(__name__)

INPUT_RATES = (8000, 16000, 24000, 48000)
MAX_FRAME_BYTES = 64 * 1024
ENGINE_RATE = 16000
PREROLL_MS = 300  # audio kept before detected speech start (VAD needs a few windows)
MAX_UTTERANCE_S = 30
PLAYBACK_MARGIN_S = 0.3
PROTOCOL_ERRORS = {"bad_json", "bad_message", "unknown_type", "bad_frame", "frame_too_large", "bad_sample_rate", "too_late"}
MAX_PROTOCOL_ERRORS = 50  # a client this broken gets a fatal error and close 4400  # client-side playout delay we allow for when judging barge-in


class Output(Protocol):
    """Where a call's events and audio go (the WebSocket, or a test)."""

    async def send_event(self, event: dict[str, Any]) -> None: ...
    async def send_audio(self, pcm: bytes) -> None: ...
    async def close(self, code: int) -> None: ...


@dataclass
class Engines:
    """The providers one call uses; built from settings by `Engines.from_settings()`."""

    asr: ASRProvider
    tts: TTSProvider
    vad: VADProvider
    output_rate: int
    fallback_asr: ASRProvider | None = None
    fallback_tts: TTSProvider | None = None

    @classmethod
    def from_settings(cls) -> Engines:
        from calls.providers import registry

        return cls(
            asr=registry.get_asr(),
            tts=registry.get_tts(),
            vad=registry.get_vad(),
            output_rate=registry.output_sample_rate(),
            fallback_asr=registry.get_fallback_asr(),
            fallback_tts=registry.get_fallback_tts(),
        )


class Store:
    """Runs the call's database writes in order on a background task.

    Writes are queued as they happen and land within milliseconds; `flush()`
    waits for them (before `call.ended`, and when the socket drops).
    """

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def put(self, fn: Callable[..., Any], *args: Any) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="call-store")
        self._queue.put_nowait((fn, args))

    async def _run(self) -> None:
        while True:
            fn, args = await self._queue.get()
            try:
                await database_sync_to_async(fn)(*args)
            except Exception:
                log.exception("storing %s failed", getattr(fn, "__name__", fn))
            finally:
                self._queue.task_done()

    async def flush(self) -> None:
        if self._task is not None:
            await self._queue.join()

    async def close(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()


@dataclass
class Utterance:
    """One caller turn: audio to recognise, or typed text."""

    turn: int
    ended_at: float  # perf_counter at the end of caller speech (or text received)
    pcm: bytes = b""
    text: str | None = None
    early_asr: asyncio.Task[tuple[Transcript, str, float]] | None = None
    silence: bool = False  # not caller words: the caller has said nothing for SILENCE_TIMEOUT_S
    keypad: str = ""  # a phone key pressed (DTMF) instead of words


@dataclass
class _Speech:
    turn: int
    task: asyncio.Task[None]
    first_audio_at: float | None = None
    audio_seconds: float = 0.0
    played: bool = False  # the caller's side reported the end of this line (a phone mark)

    def audible(self, now: float) -> bool:
        """Still being sent, or plausibly still playing at the client."""
        if not self.task.done():
            return True
        if self.played:
            return False
        if self.first_audio_at is None:
            return False
        return now < self.first_audio_at + self.audio_seconds + PLAYBACK_MARGIN_S


@dataclass
class _Timing:
    asr_ms: float | None = None
    nlu_ms: float | None = None
    providers: dict[str, str] = field(default_factory=dict)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)


class CallPipeline:
    """Runs one call. Drive it with `start()`, `on_audio()`, `on_message()`, `on_disconnect()`."""

    def __init__(
        self,
        ctx: services.CallContext,
        out: Output,
        *,
        engines: Engines | None = None,
        store: Store | None = None,
    ) -> None:
        from calls.audio import StreamResampler
        from calls.prompt_cache import prompt_cache

        self.ctx = ctx
        self.out = out
        self.engines = engines or Engines.from_settings()
        self.store = store or Store()
        self.cache = prompt_cache
        self.dialogue = Dialogue(ctx.script)
        self.mode = ctx.mode
        self.input_rate = 16000
        self._resampler_cls = StreamResampler
        self._resampler = StreamResampler(self.input_rate, ENGINE_RATE)
        self._audio_started = False
        self._vad_stream = self.engines.vad.new_stream()
        self._endpointer = Endpointer(
            window_samples=self.engines.vad.window_samples,
            threshold=settings.VAD_THRESHOLD,
            hangover_ms=settings.VAD_HANGOVER_MS,
        )
        self._window_bytes = self.engines.vad.window_samples * 2
        self._vad_pending = bytearray()  # 16 kHz audio not yet run through VAD
        self._buffer = bytearray()  # 16 kHz audio of the current (or next) utterance
        self._buffer_origin = 0  # absolute sample index of _buffer[0]
        self._speech_started_at = 0  # absolute sample of the current utterance's start
        self._early: asyncio.Task[tuple[Transcript, str, float]] | None = None
        self.turn = 0
        self._utterances: asyncio.Queue[Utterance] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._speech: _Speech | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._silence: asyncio.TimerHandle | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._protocol_errors = 0
        self.finished = False
        self._counted = False  # in voicebot_calls_active

    # ------------------------------------------------------------------ entry points
    @classmethod
    async def open(cls, ctx: services.CallContext, out: Output, **kwargs: Any) -> CallPipeline | None:
        """Build and start a pipeline; if that fails (engines broken), end the call
        with outcome `error` and close 1011 rather than leave the caller hanging."""
        try:
            pipeline = cls(ctx, out, **kwargs)
            await pipeline.start()
            return pipeline
        except Exception as exc:
            log.exception("call %s could not start", ctx.call_id)
            await database_sync_to_async(services.end_call)(ctx.call_id, "error", "server_error")
            await out.send_event({"type": "error", "code": "server_error", "message": f"The call could not start: {exc}", "fatal": True})
            await out.send_event({"type": "call.ended", "outcome": "error", "reason": "server_error"})
            await out.close(1011)
            return None

    async def start(self) -> None:
        bind_call(self.ctx.call_id, self.ctx.bot_slug, self.ctx.channel)
        metrics.call_started(self.ctx.bot_slug, self.ctx.channel)
        self._counted = True
        log.info("call started (%s)", self.mode, extra={"event": "call.started"})
        await self.out.send_event(
            {
                "type": "call.started",
                "call_id": self.ctx.call_id,
                "bot": {"slug": self.ctx.bot_slug, "name": self.ctx.bot_name},
                "mode": self.mode,
                "input_sample_rate": self.input_rate,
                "output_sample_rate": self.engines.output_rate,
            }
        )
        self._spawn(
            self.cache.prefetch(self.engines.tts, self.dialogue.scripted_lines(), self.ctx.voice),
            "prompt-prefetch",
        )
        self._worker = asyncio.create_task(self._turn_worker(), name=f"call-{self.ctx.call_id}")
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(settings.CALL_MAX_SECONDS, self._on_deadline)
        self._reply(0, self.dialogue.start(), None, None)
        live_calls.add(self)

    async def on_message(self, raw: str) -> None:
        """A text frame from the client (JSON)."""
        try:
            msg = json.loads(raw)
        except ValueError:
            await self._error("bad_json", "Text frames must be JSON objects.")
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            await self._error("bad_message", 'A message must be a JSON object with a "type".')
            return
        kind = msg["type"]
        if kind == "start":
            await self._on_start(msg)
        elif kind == "end_of_speech":
            await self._on_end_of_speech()
        elif kind == "text":
            text = msg.get("text")
            if not isinstance(text, str) or not text.strip():
                await self._error("bad_message", '"text" needs a non-empty "text" string.')
                return
            await self._on_text(text.strip()[:2000])
        elif kind == "hangup":
            await self._finish("incomplete", REASON_HANGUP)
        else:
            await self._error("unknown_type", f"Unknown message type {kind!r}.")

    async def on_audio(self, data: bytes) -> None:
        """A binary frame: caller PCM s16le mono at the input rate."""
        if self.finished:
            return
        if len(data) > MAX_FRAME_BYTES:
            await self._error("frame_too_large", f"Audio frames must be at most 64 KiB (got {len(data)} bytes).")
            return
        if len(data) % 2:
            await self._error("bad_frame", "Audio frames must hold whole 16-bit samples (even byte length).")
            return
        self._audio_started = True
        pcm = self._resampler.process(data)
        if not pcm:
            return
        self._buffer += pcm
        self._vad_pending += pcm
        usable = len(self._vad_pending) - len(self._vad_pending) % self._window_bytes
        if not usable:
            return
        windows = [bytes(self._vad_pending[i : i + self._window_bytes]) for i in range(0, usable, self._window_bytes)]
        del self._vad_pending[:usable]
        stream = self._vad_stream
        probs = await asyncio.to_thread(lambda: [stream.probability(w) for w in windows])
        for p in probs:
            for event in self._endpointer.push(p):
                await self._on_vad(event)
        self._trim_buffer()

    async def end_for_shutdown(self) -> None:
        """The worker is stopping and the drain time is up: end the call now, stored.
        A call whose closing line is playing keeps the outcome already decided."""
        if self.dialogue.outcome is not None:
            await self._finish(self.dialogue.outcome, self.dialogue.reason)
        else:
            await self._finish("incomplete", REASON_SHUTDOWN)

    async def on_disconnect(self) -> None:
        """The socket closed (caller left, or network dropped)."""
        if not self.finished:
            self.finished = True
            decision = self.dialogue.hangup(REASON_DISCONNECTED)
            self.store.put(services.end_call, self.ctx.call_id, decision.outcome, decision.reason)
        await self._shutdown()

    # ------------------------------------------------------------------ client messages
    async def _on_start(self, msg: dict[str, Any]) -> None:
        rate = msg.get("sample_rate", 16000)
        if self._audio_started:
            await self._error("too_late", '"start" must come before the first audio frame.')
        elif rate not in INPUT_RATES:
            await self._error("bad_sample_rate", f"sample_rate must be one of {list(INPUT_RATES)}.")
        else:
            self.input_rate = int(rate)
            self._resampler = self._resampler_cls(self.input_rate, ENGINE_RATE)
            self.store.put(services.set_input_rate, self.ctx.call_id, self.input_rate)

    async def _on_end_of_speech(self) -> None:
        now = time.perf_counter()
        self._disarm_silence()
        if self.mode == "vad":
            event = self._endpointer.force_end()
            if event is not None:
                await self._end_utterance(event.sample, now)
            return
        # Push-to-talk: everything since the last release is the utterance.
        pcm = bytes(self._buffer)
        # Recognition started at the caller's last pause still holds if no speech followed it.
        early = self._early if (not self._endpointer.in_speech or self._endpointer.tentative) else None
        if early is None:
            self._discard_early()
        self._early = None
        self._buffer.clear()
        self._vad_pending.clear()
        self._endpointer.reset_position(self._endpointer.position)
        self._buffer_origin = self._endpointer.position
        if len(pcm) < ENGINE_RATE * 2 * 0.1:  # under 100 ms: nothing was said
            if early is not None:
                early.cancel()
            self._arm_silence()
            return
        self.turn += 1
        self._utterances.put_nowait(Utterance(turn=self.turn, ended_at=now, pcm=pcm, early_asr=early))

    async def _on_text(self, text: str) -> None:
        if self.finished:
            return
        self._disarm_silence()
        await self._barge_in()
        self.turn += 1
        self._utterances.put_nowait(Utterance(turn=self.turn, ended_at=time.perf_counter(), text=text))

    async def on_dtmf(self, digit: str) -> None:
        """A keypad digit from a phone line: 1 yes / 2 no on a yes/no question, an answer
        like a spoken one; a key that means nothing now is ignored."""
        if self.finished or self.dialogue.keypad_answer(digit) is None:
            return
        self._disarm_silence()
        await self._barge_in()
        self.turn += 1
        self._utterances.put_nowait(Utterance(turn=self.turn, ended_at=time.perf_counter(), keypad=digit))

    def played(self, turn: int) -> None:
        """The caller's side reports bot line `turn` played out (a phone `mark` came back)."""
        speech = self._speech
        if speech is not None and speech.turn == turn and speech.task.done():
            speech.played = True

    # ------------------------------------------------------------------ endpointing
    async def _on_vad(self, event: VadEvent) -> None:
        """Endpointing events. Both modes start recognition early on a tentative end
        (discarded if the caller goes on); only `vad` mode ends utterances itself."""
        ptt = self.mode != "vad"
        if event.kind == "start":
            self._disarm_silence()
            await self._barge_in()
            self._discard_early()
            if ptt:
                return
            self.turn += 1
            self._speech_started_at = max(self._buffer_origin, event.sample - PREROLL_MS * ENGINE_RATE // 1000)
            await self.out.send_event({"type": "user.speech.started", "turn": self.turn})
        elif event.kind == "tentative_end":
            start = self._buffer_origin if ptt else self._speech_started_at
            pcm = self._slice(start, event.sample)
            self._discard_early()
            self._early = asyncio.create_task(self._recognise(pcm), name="early-asr")
        elif event.kind == "resume":
            self._discard_early()
        elif event.kind == "end" and not ptt:
            await self._end_utterance(event.sample, time.perf_counter())

    async def _end_utterance(self, end_sample: int, ended_at: float) -> None:
        """The caller stopped speaking (vad mode): queue the utterance."""
        # The end was seen `hangover` after the last speech; time it from the real end.
        audio_after = (self._endpointer.position - end_sample) / ENGINE_RATE
        ended_at -= max(0.0, audio_after)
        pcm = self._slice(self._speech_started_at, end_sample)
        early, self._early = self._early, None
        await self.out.send_event({"type": "user.speech.ended", "turn": self.turn})
        self._utterances.put_nowait(Utterance(turn=self.turn, ended_at=ended_at, pcm=pcm, early_asr=early))
        self._speech_started_at = end_sample

    def _slice(self, start_sample: int, end_sample: int) -> bytes:
        lo = max(0, (start_sample - self._buffer_origin) * 2)
        hi = max(lo, (end_sample - self._buffer_origin) * 2)
        return bytes(self._buffer[lo:hi])[: MAX_UTTERANCE_S * ENGINE_RATE * 2]

    def _trim_buffer(self) -> None:
        """Keep only the pre-roll while nobody speaks; cap a runaway utterance."""
        if self.mode != "vad":
            limit = MAX_UTTERANCE_S * ENGINE_RATE * 2
            if len(self._buffer) > limit:
                drop = len(self._buffer) - limit
                del self._buffer[:drop]
                self._buffer_origin += drop // 2
            return
        keep_from = self._speech_started_at if self._endpointer.in_speech else (
            self._endpointer.position - PREROLL_MS * ENGINE_RATE // 1000
        )
        keep_from = max(keep_from, self._endpointer.position - MAX_UTTERANCE_S * ENGINE_RATE)
        drop = (keep_from - self._buffer_origin) * 2
        if drop > 0:
            del self._buffer[:drop]
            self._buffer_origin = keep_from

    def _discard_early(self) -> None:
        if self._early is not None:
            self._early.cancel()
            self._early = None

    # ------------------------------------------------------------------ turns
    async def _turn_worker(self) -> None:
        while not self.finished:
            utterance = await self._utterances.get()
            try:
                await self._handle_utterance(utterance)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not leave the caller hanging silently
                log.exception("call %s: turn %s failed", self.ctx.call_id, utterance.turn)
                await self._fatal("server_error", f"The server failed on this turn: {exc}", 1011)

    async def _handle_utterance(self, utt: Utterance) -> None:
        if self.finished:
            return
        bind_turn(utt.turn)
        if utt.silence:
            if not (self._endpointer.in_speech or self._utterances.qsize()):  # else the caller just began
                self.turn += 1
                await self._respond(self.turn, self.dialogue.silence(), None, None)
            return
        timing = _Timing()
        text = utt.text
        if utt.keypad:
            decision = self.dialogue.keypad(utt.keypad)
            if decision is None:  # the question moved on since the key was pressed
                return
            await self._record_turn(utt, f"keypad {utt.keypad}", decision, timing)
            return
        confidence = None  # typed: taken at its word
        if text is None:
            heard, provider, timing.asr_ms = await self._transcript_of(utt)
            text, confidence = heard.text, heard.confidence
            timing.providers["asr"] = provider
            if not text and self.mode == "vad":
                self._arm_silence()  # a noise blip: nothing was said, still waiting for an answer
                return
        started = time.perf_counter()
        decision = self.dialogue.handle(text, confidence)
        timing.nlu_ms = _ms(started)
        timing.providers["nlu"] = "rules"
        await self._record_turn(utt, text, decision, timing)

    async def _record_turn(self, utt: Utterance, text: str, decision: Decision, timing: _Timing) -> None:
        """The caller's words (or key) and what the bot made of them: events, rows, the reply."""
        log.debug("caller said %r", text, extra={"event": "turn.transcript"})  # words only at DEBUG
        await self.out.send_event({"type": "transcript", "turn": utt.turn, "text": text, "final": True})
        self.store.put(services.add_turn, self.ctx.call_id, utt.turn, "caller", text)
        if decision.answer is not None:
            a = decision.answer
            await self.out.send_event(
                {"type": "answer", "question": a.key, "value": a.value, "understood": a.understood, "attempt": a.attempt}
            )
            self.store.put(services.record_answer, self.ctx.call_id, a)
            metrics.answer_heard(self.ctx.bot_slug, a.key, a.understood)
        await self._respond(utt.turn, decision, timing, utt.ended_at)

    async def _respond(self, turn: int, decision: Decision, timing: _Timing | None, ended_at: float | None) -> None:
        """Say the decision's line; if it ends the call, finish once the line is sent."""
        self._reply(turn, decision, timing, ended_at)
        if decision.ended and self._speech is not None:
            await asyncio.shield(self._speech.task)
            await self._finish(decision.outcome or "incomplete", decision.reason)

    async def _transcript_of(self, utt: Utterance) -> tuple[Transcript, str, float]:
        if utt.early_asr is not None:
            try:
                return await utt.early_asr
            except asyncio.CancelledError:
                if self.finished:
                    raise
        return await self._recognise(utt.pcm)

    async def _recognise(self, pcm: bytes) -> tuple[Transcript, str, float]:
        """What was heard (text stripped, with its confidence), provider name and ASR
        milliseconds; falls back on provider failure."""
        question = self.dialogue.question
        hint = asr_hint(question, len(pcm) / 2 / ENGINE_RATE) if question else ""
        language = self.ctx.script.language
        started = time.perf_counter()
        engines = [e for e in (self.engines.asr, self.engines.fallback_asr) if e is not None]
        for i, engine in enumerate(engines):
            try:
                heard = await engine.transcribe(pcm, language=language, hint=hint)
                return replace(heard, text=heard.text.strip()), engine.name, _ms(started)
            except ProviderError as exc:
                log.warning("ASR %s failed: %s", engine.name, exc, extra={"event": "asr.failed", "provider": engine.name})
                more = i + 1 < len(engines)
                metrics.provider_failed(engine.name, exc.kind, engines[i + 1].name if more else None)
                await self._error(
                    "asr_failed",
                    f"Speech recognition ({engine.name}) failed"
                    + (f"; using {engines[i + 1].name} for this turn." if more else "."),
                )
        return Transcript(""), "none", _ms(started)

    # ------------------------------------------------------------------ speaking
    def _reply(self, turn: int, decision: Decision, timing: _Timing | None, ended_at: float | None) -> None:
        if not decision.say:
            if decision.ended:
                self._spawn(self._finish(decision.outcome or "incomplete", decision.reason), "finish")
            return
        task = asyncio.create_task(self._speak(turn, decision.say, timing, ended_at), name=f"speak-{turn}")
        self._speech = _Speech(turn=turn, task=task)

    async def _speak(self, turn: int, text: str, timing: _Timing | None, ended_at: float | None) -> None:
        speech = self._speech
        await self.out.send_event({"type": "bot.speech.started", "turn": turn, "text": text})
        self.store.put(services.add_turn, self.ctx.call_id, turn, "bot", text)
        tts_started = time.perf_counter()
        first = True
        async for chunk, provider in self._synthesize(text):
            await self.out.send_audio(chunk)
            now = time.perf_counter()
            if speech is not None:
                speech.audio_seconds += len(chunk) / 2 / self.engines.output_rate
            if first:
                first = False
                if speech is not None:
                    speech.first_audio_at = now
                if timing is not None and ended_at is not None:
                    await self._report_latency(
                        turn, timing, provider, round((now - tts_started) * 1000, 1), round((now - ended_at) * 1000, 1)
                    )
        await self.out.send_event({"type": "bot.speech.ended", "turn": turn})
        self._arm_silence()

    # ------------------------------------------------------------------ a silent caller
    def _arm_silence(self) -> None:
        """Wait for an answer: SILENCE_TIMEOUT_S after the bot's words have played out
        with nothing from the caller, the turn worker reminds them (or ends the call)."""
        self._disarm_silence()
        timeout = settings.SILENCE_TIMEOUT_S
        if timeout <= 0 or self.finished or self.dialogue.ended:
            return
        playing = 0.0
        speech = self._speech
        if speech is not None and speech.first_audio_at is not None:
            playing = max(0.0, speech.first_audio_at + speech.audio_seconds - time.perf_counter())
        self._silence = asyncio.get_running_loop().call_later(playing + timeout, self._on_silence)

    def _disarm_silence(self) -> None:
        if self._silence is not None:
            self._silence.cancel()
            self._silence = None

    def _on_silence(self) -> None:
        self._silence = None
        if not self.finished and not self.dialogue.ended:
            self._utterances.put_nowait(Utterance(turn=self.turn, ended_at=time.perf_counter(), silence=True))

    async def _report_latency(
        self, turn: int, timing: _Timing, tts_provider: str, tts_ms: float, response_ms: float
    ) -> None:
        stages = {"asr": timing.asr_ms, "nlu": timing.nlu_ms, "tts_first_audio": tts_ms, "response": response_ms}
        providers = {**timing.providers, "tts_first_audio": tts_provider, "response": timing.providers.get("asr", "text")}
        self.store.put(services.add_latency, self.ctx.call_id, turn, stages, providers)
        metrics.turn_latency(self.mode, stages, providers)
        await self.out.send_event({"type": "latency", "turn": turn, **{f"{k}_ms": v for k, v in stages.items()}})

    async def _synthesize(self, text: str) -> AsyncIterator[tuple[bytes, str]]:
        """Bot audio at the output rate in chunks of at most 200 ms; falls back on failure."""
        from calls.audio import PcmChunker

        engines = [e for e in (self.engines.tts, self.engines.fallback_tts) if e is not None]
        for i, engine in enumerate(engines):
            voice = self.ctx.voice if i == 0 else ""
            resampler = self._resampler_cls(engine.sample_rate, self.engines.output_rate)
            chunker = PcmChunker(self.engines.output_rate, max_ms=200)
            produced = False
            try:
                # aclosing: on barge-in the engine's worker stops now, not at garbage collection.
                async with aclosing(self.cache.synthesize_cached(engine, text, voice)) as stream:
                    async for pcm in stream:
                        for chunk in chunker.push(resampler.process(pcm)):
                            produced = True
                            yield chunk, engine.name
                for chunk in chunker.push(resampler.flush()) + chunker.flush():
                    yield chunk, engine.name
                return
            except ProviderError as exc:
                log.warning("TTS %s failed: %s", engine.name, exc, extra={"event": "tts.failed", "provider": engine.name})
                more = i + 1 < len(engines) and not produced
                metrics.provider_failed(engine.name, exc.kind, engines[i + 1].name if more else None)
                await self._error(
                    "tts_failed",
                    f"Speech synthesis ({engine.name}) failed" + (f"; using {engines[i + 1].name}." if more else "."),
                )
                if not more:
                    return

    async def _barge_in(self) -> None:
        """Caller speech (or a typed answer) while the bot is audible stops the bot."""
        speech = self._speech
        if speech is None or not speech.audible(time.perf_counter()) or self.dialogue.ended:
            return
        still_sending = not speech.task.done()
        if still_sending:
            speech.task.cancel()
            await asyncio.gather(speech.task, return_exceptions=True)
        self._speech = None
        await self.out.send_event({"type": "playback.clear", "turn": speech.turn})
        if still_sending:  # otherwise bot.speech.ended was already sent
            await self.out.send_event({"type": "bot.speech.ended", "turn": speech.turn})
        self.store.put(services.mark_interrupted, self.ctx.call_id, speech.turn)

    # ------------------------------------------------------------------ ending
    async def _error(self, code: str, message: str) -> None:
        if code in PROTOCOL_ERRORS:
            self._protocol_errors += 1
            if self._protocol_errors > MAX_PROTOCOL_ERRORS:
                await self._fatal("too_many_protocol_errors", f"More than {MAX_PROTOCOL_ERRORS} bad frames.", 4400)
                return
        await self.out.send_event({"type": "error", "code": code, "message": message, "fatal": False})

    async def _fatal(self, code: str, message: str, close_code: int) -> None:
        if self.finished:
            return
        await self.out.send_event({"type": "error", "code": code, "message": message, "fatal": True})
        await self._finish("error", code, close_code=close_code)

    def _on_deadline(self) -> None:
        if not self.finished:
            self.dialogue.hangup(REASON_TIMEOUT)
            self._spawn(self._finish("incomplete", REASON_TIMEOUT), "deadline")

    async def _finish(self, outcome: str, reason: str, *, close_code: int = 1000) -> None:
        if self.finished:
            return
        self.finished = True
        if outcome == "incomplete":
            self.dialogue.hangup(reason)
        self.store.put(services.end_call, self.ctx.call_id, outcome, reason)
        await self.store.flush()
        await self.out.send_event({"type": "call.ended", "outcome": outcome, "reason": reason})
        await self.out.close(close_code)
        await self._shutdown()

    async def _shutdown(self) -> None:
        if self._counted:
            self._counted = False
            metrics.call_left(self.ctx.bot_slug, self.ctx.channel)
        live_calls.discard(self)
        if self._deadline is not None:
            self._deadline.cancel()
        self._disarm_silence()
        self._discard_early()
        current = asyncio.current_task()
        tasks = [t for t in (self._worker, self._speech.task if self._speech else None) if t and t is not current]
        for task in tasks:
            if not task.done():
                task.cancel()
        # Background tasks (prompt prefetch) are left to finish: the cache serves other calls.
        await self.store.close()

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
