"""The turn coordinator of one call: utterances in → dialogue → bot lines out.

Plain async Python with no socket: the WebSocket consumer is one `Output`, a
test or a phone bridge can be another. Three parts:
- `Listener` (calls/runtime/listener.py): caller audio → utterances (VAD, endpointing,
  early ASR);
- `Speaker` (calls/runtime/speaker.py): text → audio paced in real time, with the
  prompt cache and the TTS fallback as provider adapters;
- `CallPipeline` (here): takes turns in order, asks the dialogue, stamps the
  latency at stage boundaries (never inside providers), handles barge-in,
  silence and the end of the call, and queues its rows on `CallRecords`
  (calls/runtime/ports.py) so the response path never waits on the database.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

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
from calls import metrics
from calls.providers.base import ASRProvider, ProviderError, TTSProvider, VADProvider
from calls.runtime.failures import log_failure, public_message
from calls.runtime.limits import ABUSE_LIMIT, CallLimits, Refusal
from calls.runtime.listener import INPUT_RATES, Listener, Utterance, frame_error
from calls.runtime.ports import (
    SYSTEM_CLOCK,
    CallContext,
    CallRecords,
    CallRegistry,
    Clock,
    Output,
)
from calls.runtime.speaker import CachedTTS, FallbackTTS, Line, Speaker
from config.logs import bind_call, bind_turn

log = logging.getLogger(__name__)

__all__ = ["CallPipeline", "Engines", "Output", "Utterance"]

PROTOCOL_ERRORS = {"bad_json", "bad_message", "unknown_type", "bad_frame", "frame_too_large", "bad_sample_rate", "too_late"}
MAX_PROTOCOL_ERRORS = 50  # a client this broken gets a fatal error and close 4400
MAX_QUEUED_TURNS = 8  # caller turns waiting for the bot; beyond that the caller is far ahead
LEAVE_GRACE_S = 5.0  # after a hangup or a dropped socket, the last words are recognised and stored within this

# Calls whose caller left, finishing their last turns: a strong reference keeps the task
# alive after the socket's handler is gone (daphne cancels it a while after a disconnect).
_leaving: set[asyncio.Task[None]] = set()



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
        ctx: CallContext,
        out: Output,
        *,
        records: CallRecords,
        registry: CallRegistry | None = None,
        engines: Engines | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        from calls.runtime.prompt_cache import prompt_cache

        self.ctx = ctx
        self.out = out
        self.engines = engines or Engines.from_settings()
        self.records = records
        self.registry = registry
        self.cache = prompt_cache
        self.dialogue = Dialogue(ctx.script)
        self.mode = ctx.mode
        e = self.engines
        self.listener = Listener(
            self,
            vad=e.vad,
            asr=[a for a in (e.asr, e.fallback_asr) if a is not None],
            mode=self.mode,
            language=ctx.script.language,
            hint=self._hint,
            call_id=ctx.call_id,
        )
        voices = [CachedTTS(t, self.cache) for t in (e.tts, e.fallback_tts) if t is not None]
        self.speaker = Speaker(
            out,
            FallbackTTS(voices, e.output_rate, self._tts_failed),
            voice=ctx.voice,
            clock=clock,
            on_error=self._speech_failed,
        )
        self.limits = CallLimits.from_settings(clock.now)
        self._start_accepted = False
        self.turn = 0
        self._utterances: asyncio.Queue[Utterance] = asyncio.Queue(MAX_QUEUED_TURNS)
        self._worker: asyncio.Task[None] | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._silence: asyncio.TimerHandle | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._protocol_errors = 0
        self._left: asyncio.Task[None] | None = None  # the caller hung up or the socket dropped
        self._held: tuple[str, float | None] | None = None  # words heard while the caller went on talking
        self.finished = False
        self._counted = False  # in voicebot_calls_active

    # ------------------------------------------------------------------ entry points
    @classmethod
    async def open(cls, ctx: CallContext, out: Output, *, records: CallRecords, **kwargs: Any) -> CallPipeline | None:
        """Build and start a pipeline; if that fails (engines broken), end the call
        with outcome `error` and close 1011 rather than leave the caller hanging."""
        try:
            pipeline = cls(ctx, out, records=records, **kwargs)
            await pipeline.start()
            return pipeline
        except Exception:
            error_id = log_failure(f"call {ctx.call_id} could not start", logger=log)
            # The caller hears first (the cause stays in the log); the write may wait on the database (calls.persistence.write_queue).
            message = public_message("The call could not start.", error_id)
            await out.send_event({"type": "error", "code": "server_error", "message": message, "fatal": True})
            await out.send_event({"type": "call.ended", "outcome": "error", "reason": "server_error"})
            await out.close(1011)
            records.end("error", "server_error")
            await records.close()
            return None

    async def start(self) -> None:
        bind_call(self.ctx.call_id, self.ctx.bot_slug, self.ctx.channel)
        metrics.call_started(self.ctx.bot_slug, self.ctx.channel)
        self._counted = True
        resumed = self.ctx.resumed
        log.info("call %s (%s)", "resumed" if resumed else "started", self.mode, extra={"event": "call.started"})
        started = {
            "type": "call.started",
            "call_id": self.ctx.call_id,
            "bot": {"slug": self.ctx.bot_slug, "name": self.ctx.bot_name},
            "mode": self.mode,
            "input_sample_rate": self.listener.input_rate,
            "output_sample_rate": self.engines.output_rate,
        }
        if resumed is not None:  # docs/protocol.md §8: the same call again after a dropped socket
            started.update(resumed=True, answered=[a.key for a in resumed.answers if a.understood])
        await self.out.send_event(started)
        self._spawn(
            self.cache.prefetch(self.engines.tts, self.dialogue.scripted_lines(), self.ctx.voice),
            "prompt-prefetch",
        )
        self._worker = asyncio.create_task(self._turn_worker(), name=f"call-{self.ctx.call_id}")
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(resumed.seconds_left if resumed else settings.CALL_MAX_SECONDS, self._on_deadline)
        if resumed is None:
            self._reply(0, self.dialogue.start(), None, None)
        else:  # on at the question the caller was on, in a turn after every stored one
            self.turn = resumed.last_turn + 1
            self._spawn(self._respond(self.turn, self.dialogue.resume(list(resumed.answers)), None, None), "resume")
        if self.registry is not None:
            self.registry.add(self)

    @property
    def taking_input(self) -> bool:
        """False once the call is over or the caller has left (their last turns may still be finishing)."""
        return not self.finished and self._left is None

    async def _take_message(self) -> bool:
        """Whether a text/control message or keypad digit is taken: the call still takes
        input and the message is within the call's rate (else the caller is told)."""
        if not self.taking_input:
            return False
        refusal = self.limits.message()
        if refusal is not None:
            await self._refuse(refusal)
            return False
        return True

    async def on_message(self, raw: str, received_at: float | None = None) -> None:
        """A text frame from the client (JSON), received at `received_at` (perf_counter)."""
        received_at = time.perf_counter() if received_at is None else received_at
        if not await self._take_message():
            return
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
            self._disarm_silence()
            await self.listener.end_of_speech(received_at)
        elif kind == "text":
            text = msg.get("text")
            if not isinstance(text, str) or not text.strip():
                await self._error("bad_message", '"text" needs a non-empty "text" string.')
                return
            await self._on_text(text.strip()[:2000], received_at)
        elif kind == "hangup":
            await self._leave(REASON_HANGUP)
        else:
            await self._error("unknown_type", f"Unknown message type {kind!r}.")

    async def on_audio(self, data: bytes, received_at: float | None = None) -> None:
        """A binary frame: caller PCM s16le mono at the input rate."""
        if not self.taking_input:
            return
        problem = frame_error(data)
        if problem is not None:
            await self._error(*problem)
            return
        refusal = self.limits.audio(len(data) / 2 / self.listener.input_rate)
        if refusal is not None:
            await self._refuse(refusal)
            return
        await self.listener.feed(data, time.perf_counter() if received_at is None else received_at)

    async def end_for_shutdown(self) -> None:
        """The worker is stopping and the drain time is up: end the call now, stored.
        A call whose closing line is playing keeps the outcome already decided."""
        if self.dialogue.outcome is not None:
            await self._finish(self.dialogue.outcome, self.dialogue.reason)
        else:
            await self._finish("incomplete", REASON_SHUTDOWN)

    async def on_disconnect(self) -> None:
        """The socket closed (caller left, or network dropped)."""
        await self._leave(REASON_DISCONNECTED)
        await self._shutdown()

    async def _leave(self, reason: str) -> None:
        """The caller hung up or went: take no more input, finish the turns they already
        gave (recognition, answer, rows; nothing more is said) within LEAVE_GRACE_S, then
        end the call. Runs as its own task, so a socket handler cancelled meanwhile
        (daphne, a test client) loses nothing."""
        if self.finished:
            return
        if self._left is None:
            self._left = asyncio.ensure_future(self._finish_last_turns(reason))
            _leaving.add(self._left)
            self._left.add_done_callback(_leaving.discard)
        await asyncio.shield(self._left)

    async def _finish_last_turns(self, reason: str) -> None:
        self._disarm_silence()
        self.speaker.stop()
        await self.listener.flush(time.perf_counter())  # speech under way is an utterance too
        if self._worker is not None and not self._worker.done():
            try:
                async with asyncio.timeout(LEAVE_GRACE_S):
                    await self._utterances.join()
            except TimeoutError:
                log.warning("caller left; last turn not finished within %s s", LEAVE_GRACE_S, extra={"event": "call.left"})
        decision = self.dialogue.hangup(reason)  # an outcome already decided stands
        await self._finish(decision.outcome or "incomplete", decision.reason or reason)

    # ------------------------------------------------------------------ client messages
    async def _on_start(self, msg: dict[str, Any]) -> None:
        rate = msg.get("sample_rate", 16000)
        if self._start_accepted:  # once per call: another start writes nothing
            await self._refuse(self.limits.duplicate_start())
        elif self.listener.audio_started:
            await self._error("too_late", '"start" must come before the first audio frame.')
        elif rate not in INPUT_RATES:
            await self._error("bad_sample_rate", f"sample_rate must be one of {list(INPUT_RATES)}.")
        else:
            self._start_accepted = True
            self.listener.set_input_rate(int(rate))
            self.records.input_rate(int(rate))

    async def _on_text(self, text: str, received_at: float) -> None:
        if not self.taking_input:
            return
        self._disarm_silence()
        await self._barge_in()
        self.turn += 1
        self._queue(Utterance(turn=self.turn, ended_at=received_at, text=text))

    async def on_dtmf(self, digit: str, received_at: float | None = None) -> None:
        """A keypad digit from a phone line: 1 yes / 2 no on a yes/no question, an answer
        like a spoken one; a key that means nothing now is ignored."""
        if not await self._take_message():
            return
        if self.dialogue.keypad_answer(digit) is None:
            return
        self._disarm_silence()
        await self._barge_in()
        self.turn += 1
        ended_at = time.perf_counter() if received_at is None else received_at
        self._queue(Utterance(turn=self.turn, ended_at=ended_at, keypad=digit))

    def played(self, turn: int) -> None:
        """The caller's side reports bot line `turn` played out (a phone `mark` came back)."""
        self.speaker.played(turn)

    # ------------------------------------------------------------------ ListenerEvents
    async def speech_started(self) -> None:
        self._disarm_silence()
        await self._barge_in()
        if self.mode == "vad":
            self.turn += 1
            await self.out.send_event({"type": "user.speech.started", "turn": self.turn})

    async def utterance_ended(self, utterance: Utterance) -> None:
        if self.mode == "vad":
            utterance.turn = self.turn
            await self.out.send_event({"type": "user.speech.ended", "turn": self.turn})
        else:
            self.turn += 1
            utterance.turn = self.turn
        self._queue(utterance)

    async def nothing_said(self) -> None:
        self._arm_silence()

    async def error(self, code: str, message: str) -> None:
        await self._error(code, message)

    def _hint(self, seconds: float) -> str:
        question = self.dialogue.question
        return asr_hint(question, seconds) if question else ""

    def _queue(self, utterance: Utterance) -> None:
        try:
            self._utterances.put_nowait(utterance)
        except asyncio.QueueFull:  # the caller is MAX_QUEUED_TURNS turns ahead of the bot
            log.warning("call %s: turn %s dropped, %d waiting", self.ctx.call_id, utterance.turn, MAX_QUEUED_TURNS)
            if utterance.early_asr is not None:
                utterance.early_asr.cancel()

    # ------------------------------------------------------------------ turns
    async def _turn_worker(self) -> None:
        while not self.finished:
            utterance = await self._utterances.get()
            try:
                await self._handle_utterance(utterance)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not leave the caller hanging silently; its detail goes to the log only
                error_id = log_failure(f"call {self.ctx.call_id}: turn {utterance.turn} failed", logger=log)
                await self._fatal("server_error", public_message("The server failed on this turn.", error_id), 1011)
            finally:
                self._utterances.task_done()

    async def _handle_utterance(self, utt: Utterance) -> None:
        if self.finished:
            return
        bind_turn(utt.turn)
        if utt.silence:
            if self._left is not None:  # the caller has gone: no reminder
                return
            if not (self.listener.in_speech or self._utterances.qsize()):  # else the caller just began
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
        spoken = text is None
        if text is None:
            heard, provider, timing.asr_ms = await self.listener.transcript(utt)
            text, confidence = heard.text, heard.confidence
            timing.providers["asr"] = provider
        text, confidence = self._with_held(text, confidence)
        if spoken and not text and self.mode == "vad":
            self._arm_silence()  # a noise blip: nothing was said, still waiting for an answer
            return
        if spoken and text and self._left is None and (self.listener.in_speech or self._utterances.qsize()):
            # The caller went on talking while this was recognised ("yes ... I'm salaried"):
            # nothing is said over them; the whole of it is decided when they stop.
            self._held = (text, confidence)
            log.debug("turn %s held: the caller is still talking", utt.turn, extra={"event": "turn.held"})
            return
        started = time.perf_counter()
        decision = self.dialogue.handle(text, confidence)
        timing.nlu_ms = _ms(started)
        timing.providers["nlu"] = "rules"
        await self._record_turn(utt, text, decision, timing)

    def _with_held(self, text: str, confidence: float | None) -> tuple[str, float | None]:
        """`text` after the words held back while the caller was still talking (if any)."""
        if self._held is None:
            return text, confidence
        (held, held_confidence), self._held = self._held, None
        known = [c for c in (held_confidence, confidence) if c is not None]
        return f"{held} {text}".strip(), (min(known) if known else None)

    async def _record_turn(self, utt: Utterance, text: str, decision: Decision, timing: _Timing) -> None:
        """The caller's words (or key) and what the bot made of them: events, rows, the reply."""
        log.debug("caller said %r", text, extra={"event": "turn.transcript"})  # words only at DEBUG
        await self.out.send_event({"type": "transcript", "turn": utt.turn, "text": text, "final": True})
        self.records.turn(utt.turn, "caller", text)
        if decision.answer is not None:
            a = decision.answer
            await self.out.send_event(
                {"type": "answer", "question": a.key, "value": a.value, "understood": a.understood, "attempt": a.attempt}
            )
            self.records.answer(a)
            metrics.answer_heard(self.ctx.bot_slug, a.key, a.understood)
        await self._respond(utt.turn, decision, timing, utt.ended_at)

    async def _respond(self, turn: int, decision: Decision, timing: _Timing | None, ended_at: float | None) -> None:
        """Say the decision's line; if it ends the call, finish once the line is sent."""
        if self._left is not None:  # the caller has gone: the answer is stored, nothing is said
            return
        self._reply(turn, decision, timing, ended_at)
        if decision.ended and decision.say:
            await self.speaker.wait()
            await self._finish(decision.outcome or "incomplete", decision.reason)

    # ------------------------------------------------------------------ speaking
    def _reply(self, turn: int, decision: Decision, timing: _Timing | None, ended_at: float | None) -> None:
        if not decision.say:
            if decision.ended:
                self._spawn(self._finish(decision.outcome or "incomplete", decision.reason), "finish")
            return
        self.records.turn(turn, "bot", decision.say)

        async def first_audio(engine: str, tts_ms: float, sent_at: float) -> None:
            if timing is not None and ended_at is not None:
                # perf_counter, like ended_at: the response runs to the moment the first frame left.
                await self._report_latency(turn, timing, engine, tts_ms, round((time.perf_counter() - ended_at) * 1000, 1))

        self.speaker.say(turn, decision.say, on_first_audio=first_audio, on_sent=self._arm_silence)

    async def _report_latency(
        self, turn: int, timing: _Timing, tts_provider: str, tts_ms: float, response_ms: float
    ) -> None:
        stages = {"asr": timing.asr_ms, "nlu": timing.nlu_ms, "tts_first_audio": tts_ms, "response": response_ms}
        providers = {**timing.providers, "tts_first_audio": tts_provider, "response": timing.providers.get("asr", "text")}
        self.records.latency(turn, stages, providers)
        metrics.turn_latency(self.mode, stages, providers)
        await self.out.send_event({"type": "latency", "turn": turn, **{f"{k}_ms": v for k, v in stages.items()}})

    async def _tts_failed(self, engine: TTSProvider, exc: ProviderError, fallback: TTSProvider | None) -> None:
        log.warning("TTS %s failed: %s", engine.name, exc, extra={"event": "tts.failed", "provider": engine.name})
        metrics.provider_failed(engine.name, exc.kind, fallback.name if fallback else None)
        await self._error(
            "tts_failed", f"Speech synthesis ({engine.name}) failed" + (f"; using {fallback.name}." if fallback else ".")
        )

    async def _speech_failed(self, line: Line, exc: Exception) -> None:
        """A bot line could not be said at all (every engine failed, or the speech task
        broke): end the call with a fatal error, not silence until the time limit."""
        if not self.taking_input:
            return
        error_id = log_failure(f"bot line {line.turn} could not be spoken: {exc}", logger=log, exc_info=False)
        message = public_message("The bot's voice failed, so the call cannot go on.", error_id)
        self._spawn(self._fatal("speech_failed", message, 1011), "speech-failed")

    async def _barge_in(self) -> None:
        """Caller speech (or a typed answer) while the bot is audible stops the bot."""
        if self.dialogue.ended:
            return
        line = await self.speaker.clear()
        if line is not None:
            self.records.interrupted(line.turn)

    # ------------------------------------------------------------------ a silent caller
    def _arm_silence(self) -> None:
        """Wait for an answer: SILENCE_TIMEOUT_S after the bot's words have played out
        with nothing from the caller, the turn worker reminds them (or ends the call)."""
        self._disarm_silence()
        timeout = settings.SILENCE_TIMEOUT_S
        if timeout <= 0 or self.finished or self.dialogue.ended:
            return
        self._silence = asyncio.get_running_loop().call_later(self.speaker.remaining() + timeout, self._on_silence)

    def _disarm_silence(self) -> None:
        if self._silence is not None:
            self._silence.cancel()
            self._silence = None

    def _on_silence(self) -> None:
        self._silence = None
        if not self.finished and not self.dialogue.ended:
            try:
                self._utterances.put_nowait(Utterance(turn=self.turn, ended_at=time.perf_counter(), silence=True))
            except asyncio.QueueFull:  # turns are waiting: the caller is not silent
                pass

    # ------------------------------------------------------------------ ending
    async def _error(self, code: str, message: str) -> None:
        if code in PROTOCOL_ERRORS:
            self._protocol_errors += 1
            if self._protocol_errors > MAX_PROTOCOL_ERRORS:
                await self._fatal("too_many_protocol_errors", f"More than {MAX_PROTOCOL_ERRORS} bad frames.", 4400)
                return
        await self.out.send_event({"type": "error", "code": code, "message": message, "fatal": False})

    async def _refuse(self, refusal: Refusal) -> None:
        """Input refused by the call's limits: a clear non-fatal error, or, once the
        caller has kept it up (MAX_BREACHES), a fatal one and close 4400."""
        if self.limits.exhausted:
            log.warning(
                "call ended: %d refused messages or frames", self.limits.breaches, extra={"event": "call.abuse_limit"}
            )
            await self._fatal(ABUSE_LIMIT, self.limits.describe(ABUSE_LIMIT), 4400)
        elif refusal.report:
            await self.out.send_event(
                {"type": "error", "code": refusal.code, "message": self.limits.describe(refusal.code), "fatal": False}
            )

    async def _fatal(self, code: str, message: str, close_code: int) -> None:
        if self.finished:
            return
        await self.out.send_event({"type": "error", "code": code, "message": message, "fatal": True})
        await self._finish("error", code, close_code=close_code)

    def _on_deadline(self) -> None:
        if not self.finished:
            self.dialogue.hangup(REASON_TIMEOUT)
            self._spawn(self._finish("incomplete", REASON_TIMEOUT), "deadline")

    async def end(self, outcome: str, reason: str, *, close_code: int = 1000) -> None:
        """End the call from outside (a draining server, an operator)."""
        await self._finish(outcome, reason, close_code=close_code)

    async def _finish(self, outcome: str, reason: str, *, close_code: int = 1000) -> None:
        if self.finished:
            return
        self.finished = True
        if outcome == "incomplete":
            self.dialogue.hangup(reason)
        self.records.end(outcome, reason)
        await self.records.flush()
        await self.out.send_event({"type": "call.ended", "outcome": outcome, "reason": reason})
        await self.out.close(close_code)
        await self._shutdown()

    async def _shutdown(self) -> None:
        if self._counted:
            self._counted = False
            metrics.call_left(self.ctx.bot_slug, self.ctx.channel)
        if self.registry is not None:
            self.registry.discard(self)
        if self._deadline is not None:
            self._deadline.cancel()
        self._disarm_silence()
        self.listener.close()
        self.speaker.stop()
        current = asyncio.current_task()
        if self._worker is not None and self._worker is not current and not self._worker.done():
            self._worker.cancel()
        # Background tasks (prompt prefetch) are left to finish: the cache serves other calls.
        await self.records.close()

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
