"""The coordinator of one call: client frames in → turns → dialogue → bot lines out.

Plain async Python with no socket (the browser socket is one `Output`, a phone stream
another, a test a third). It only wires parts with one job each: `protocol` (frames →
typed commands, the input guard), `listener` (audio → utterances), `turns` (the bounded
turn queue, held words), `answer_hearing` (overlaps, paused answers, the second listen),
`silence`, `speaker` (over `voices` and `pacing`), `replies`, `latency`, `call_lifecycle`
(running → leaving → finishing → closed, one `finish()`) and `tasks` (the owner of every
task). The dialogue decides; rows are queued on `CallRecords`, never awaited.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings

from bots.dialogue import REASON_DISCONNECTED, REASON_HANGUP, REASON_SHUTDOWN, Dialogue, asr_hint
from calls.runtime.answer_hearing import AnswerHearing
from calls.runtime.call_lifecycle import LEAVE_GRACE_S, CallLifecycle
from calls.runtime.engines import Engines
from calls.runtime.failures import log_failure, public_message
from calls.runtime.latency import LatencyRecorder, TurnTiming, ms_since
from calls.runtime.limits import CallLimits
from calls.runtime.listener import Listener, Utterance
from calls.runtime.ports import SYSTEM_CLOCK, CallAudio, CallContext, CallRecords, CallRegistry, Clock, Output
from calls.runtime.prompt_cache import prompt_cache
from calls.runtime.protocol import (
    EndOfSpeech, Hangup, InputGuard, ProtocolError, Start, Text, call_started, parse_audio_frame, parse_text_frame,
)
from calls.runtime.replies import Replier
from calls.runtime.second_listen import SecondListener
from calls.runtime.silence import SilenceWatch
from calls.runtime.speaker import Speaker
from calls.runtime.tasks import CallTasks
from calls.runtime.turns import TurnQueue
from calls.runtime.voices import call_voice, failure_reporter
from config.logs import bind_call, bind_turn

log = logging.getLogger(__name__)


class CallPipeline:
    """Runs one call. Drive it with `open()`, `on_audio()`, `on_message()`, `on_dtmf()`, `on_disconnect()`."""

    listener: Listener  # these three are assembled by start(), with the engines
    speaker: Speaker
    replier: Replier

    def __init__(
        self, ctx: CallContext, out: Output, *, records: CallRecords, registry: CallRegistry | None = None,
        engines: Engines | None = None, clock: Clock = SYSTEM_CLOCK, recording: CallAudio | None = None,
    ) -> None:
        """The call's bookkeeping; `start()` loads the engines and assembles the parts that use them."""
        self.ctx, self.out, self.records, self.clock, self.mode = ctx, out, records, clock, ctx.mode
        self.cache, self._engines = prompt_cache, engines
        self.dialogue = Dialogue(ctx.script)
        self.tasks = CallTasks(ctx.call_id)
        self.lifecycle = CallLifecycle(ctx, out, records, self.dialogue, self.tasks, registry)
        self.recording = recording  # both sides as heard (docs/recordings.md), when the call is recorded
        if recording is not None:  # ends with the call, after the bot's last words have played (if it got a voice)
            self.lifecycle.on_finish.append(
                lambda: recording.stop(clock.now() + (self.speaker.remaining() if hasattr(self, "speaker") else 0.0)))
        self.input = InputGuard(out, CallLimits.from_settings(clock.now), self.lifecycle.fatal)
        self.turns = TurnQueue(ctx.call_id)
        self.hearing = AnswerHearing(self.dialogue, self.turns, self.tasks, mode=self.mode,
                                     caller_left=lambda: self.lifecycle.caller_left)
        self.silence = SilenceWatch(self.tasks, clock, wanted=lambda: not (self.lifecycle.finished or self.dialogue.ended),
                                    playing=lambda: self.speaker.remaining(), on_silence=self.turns.put_silence)

    # ------------------------------------------------------------------ start and end
    @classmethod
    async def open(cls, ctx: CallContext, out: Output, *, records: CallRecords, **kwargs: Any) -> CallPipeline | None:
        """A started pipeline; if it cannot start (engines broken), the call ends `error`, close 1011, and None."""
        pipeline = cls(ctx, out, records=records, **kwargs)
        try:
            await pipeline.start()
            return pipeline
        except Exception:
            error_id = log_failure(f"call {ctx.call_id} could not start", logger=log)
            await pipeline.lifecycle.fatal("server_error", public_message("The call could not start.", error_id), 1011)
            return None

    def _assemble(self) -> None:
        """The parts that speak and listen, over the call's engines."""
        ctx, e = self.ctx, self._engines or Engines.from_settings()
        self.engines, self.scripted = e, self.dialogue.scripted_lines()
        self.listener = Listener(self, vad=e.vad, asr=[a for a in (e.asr, e.fallback_asr) if a is not None],
                                 mode=self.mode, language=ctx.script.language, call_id=ctx.call_id, spawn=self.tasks.spawn,
                                 hint=lambda s: asr_hint(self.dialogue.question, s) if self.dialogue.question else "")
        self.hearing.listen_with(self.listener, SecondListener(
            self.listener.asr, language=ctx.script.language, hint=self.listener.hint, enabled=settings.ASR_SECOND_LISTEN))
        voice = call_voice([e.tts, e.fallback_tts], self.cache, scripted=self.scripted, output_rate=e.output_rate,
                           on_failure=failure_reporter(self.out))
        self.speaker = Speaker(self.out, voice, voice=ctx.voice, clock=self.clock, spawn=self.tasks.spawn,
                               audio=self.recording)
        latency = LatencyRecorder(self.records, self.out, self.mode)
        self.replier = Replier(self.out, self.records, self.dialogue, self.lifecycle, self.speaker, self.silence, latency,
                               self.recording)

    async def start(self) -> None:
        """Assemble the parts, go live (gauge, registry, time limit), tell the client, greet (or resume)."""
        ctx, resumed = self.ctx, self.ctx.resumed
        bind_call(ctx.call_id, ctx.bot_slug, ctx.channel)
        self._assemble()
        self.lifecycle.begin(self, self.clock, resumed.seconds_left if resumed else settings.CALL_MAX_SECONDS)
        if self.recording is not None:  # lines are timed from the recording's 0:00 (it began at connect)
            self.lifecycle.started_at = self.recording.started_at
        log.info("call %s (%s)", "resumed" if resumed else "started", self.mode, extra={"event": "call.started"})
        await self.out.send_event(call_started(ctx, self.listener.input_rate, self.engines.output_rate))
        self.cache.start_prefetch(self.engines.tts, self.scripted, ctx.voice)  # owned by the cache: outlives the call
        self.tasks.spawn(self.turns.serve(self._take_turn, lambda: not self.lifecycle.finished), "turns")
        if resumed is None:
            self.replier.reply(0, self.dialogue.start(), None, None)
        else:  # on at the question the caller was on, in a turn after every stored one
            self.turns.turn = resumed.last_turn + 1
            decision = self.dialogue.resume(list(resumed.answers), consent=resumed.consent)
            self.tasks.spawn(self.replier.respond(self.turns.turn, decision, None, None), "resume")

    async def end(self, outcome: str, reason: str, *, close_code: int = 1000) -> None:
        """End the call from outside (a draining server, an operator)."""
        await self.lifecycle.finish(outcome, reason, close_code=close_code)

    async def end_for_shutdown(self) -> None:
        """The drain time is up: end the call now, stored (an outcome already decided stands)."""
        d = self.dialogue
        await self.lifecycle.finish(*((d.outcome, d.reason) if d.outcome is not None else ("incomplete", REASON_SHUTDOWN)))

    async def on_disconnect(self) -> None:
        """The socket closed (caller left, or network dropped)."""
        await self.lifecycle.leave(REASON_DISCONNECTED, self._last_turns)

    async def _last_turns(self) -> None:
        """The caller left: what they said is still recognised, answered and stored (nothing more is said)."""
        self.silence.disarm()
        self.speaker.stop()
        await self.listener.flush(time.perf_counter())  # speech under way is an utterance too
        if not await self.turns.join(LEAVE_GRACE_S):  # the turn worker runs until the call finishes
            log.warning("caller left; last turn not finished within %s s", LEAVE_GRACE_S, extra={"event": "call.left"})

    # ------------------------------------------------------------------ client frames
    async def on_message(self, raw: str, received_at: float | None = None) -> None:
        """A text frame from the client (JSON), received at `received_at` (perf_counter)."""
        received_at = time.perf_counter() if received_at is None else received_at
        if not (self.lifecycle.taking_input and await self.input.message_allowed()):
            return
        match parse_text_frame(raw, received_at):
            case ProtocolError() as error:
                await self.input.error(error)
            case Start() as start:
                rate = await self.input.start(start, self.listener.audio_started)
                if rate is not None:
                    self.listener.set_input_rate(rate)
                    self.records.input_rate(rate)
            case EndOfSpeech(received_at=at):
                self.silence.disarm()
                await self.listener.end_of_speech(at)
            case Text(text=text, received_at=at):
                await self._caller_turn(Utterance(turn=0, ended_at=at, text=text))
            case Hangup():
                await self.lifecycle.leave(REASON_HANGUP, self._last_turns)

    async def on_audio(self, data: bytes, received_at: float | None = None) -> None:
        """A binary frame: caller PCM s16le mono at the input rate."""
        if not self.lifecycle.taking_input:
            return
        frame = parse_audio_frame(data, time.perf_counter() if received_at is None else received_at)
        if isinstance(frame, ProtocolError):
            await self.input.error(frame)
        elif await self.input.audio_allowed(len(data) / 2 / self.listener.input_rate):
            if self.recording is not None:
                self.recording.caller_audio(frame.pcm, self.listener.input_rate, frame.received_at)
            await self.listener.feed(frame.pcm, frame.received_at)

    async def on_dtmf(self, digit: str, received_at: float | None = None) -> None:
        """A phone key: 1 yes / 2 no on a yes/no question; 9 "never call me again"; others ignored."""
        if (self.lifecycle.taking_input and await self.input.message_allowed()
                and self.dialogue.takes_key(digit)):
            at = time.perf_counter() if received_at is None else received_at
            await self._caller_turn(Utterance(turn=0, ended_at=at, keypad=digit))

    def played(self, turn: int) -> None:
        """The caller's side reports bot line `turn` played out (a phone `mark` came back)."""
        self.speaker.played(turn)

    async def _caller_turn(self, utterance: Utterance) -> None:
        """A typed answer or a key: the bot stops talking and the turn is queued."""
        if not self.lifecycle.taking_input:
            return
        self.silence.disarm()
        await self.replier.barge_in()
        utterance.turn = self.turns.next_turn()
        self.turns.put(utterance)

    # ------------------------------------------------------------------ ListenerEvents
    async def speech_started(self) -> None:
        self.silence.disarm()
        turn = self.hearing.speech_started(self.replier.asked_at, self.speaker.audible())
        await self.replier.barge_in()
        if turn is not None:
            await self.out.send_event({"type": "user.speech.started", "turn": turn})

    async def utterance_ended(self, utterance: Utterance) -> None:
        self.hearing.speech_ended(utterance)
        if self.mode == "vad":
            await self.out.send_event({"type": "user.speech.ended", "turn": utterance.turn})
        self.turns.put(utterance)

    async def nothing_said(self) -> None:
        self.silence.arm()

    async def error(self, code: str, message: str) -> None:
        await self.input.error(ProtocolError(code, message))

    # ------------------------------------------------------------------ turns
    async def _take_turn(self, utterance: Utterance) -> None:
        """The turn worker's step. A bug must not leave the caller hanging silently; its detail goes to the log only."""
        try:
            await self._decide(utterance)
        except Exception:
            error_id = log_failure(f"call {self.ctx.call_id}: turn {utterance.turn} failed", logger=log)
            await self.lifecycle.fatal("server_error", public_message("The server failed on this turn.", error_id), 1011)

    async def _decide(self, utt: Utterance) -> None:
        """One caller turn: what was said (recognised if spoken), what the dialogue makes of it, the reply."""
        if self.lifecycle.finished:
            return
        bind_turn(utt.turn)
        if utt.silence:  # the caller said nothing: a reminder, unless they have gone or just began
            if not (self.lifecycle.caller_left or self.listener.in_speech or self.turns.waiting):
                await self.replier.respond(self.turns.next_turn(), self.dialogue.silence(), None, None)
            return
        timing = TurnTiming()
        if utt.keypad:
            decision = self.dialogue.keypad(utt.keypad)
            if decision is not None:  # else the question moved on since the key was pressed
                await self.replier.record_turn(utt, f"keypad {utt.keypad}", decision, timing)
            return
        spoken = utt.text is None
        hearing = await self.hearing.words(utt, timing, nothing_said=self.silence.arm)
        if hearing is None:  # a noise blip, or the caller talks on: nothing to decide yet
            return
        started = time.perf_counter()
        if self.hearing.began_over_a_new_question(utt.turn) and spoken:  # meant for the question before: this one again
            decision = self.dialogue.overlapped()
        else:
            decision = self.dialogue.handle(hearing.text, hearing.confidence, agreed=hearing.agreed, unsure=hearing.unsure)
        timing.nlu_ms, timing.providers["nlu"] = ms_since(started), "rules"
        await self.replier.record_turn(utt, hearing.text, decision, timing)
