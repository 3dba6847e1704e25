"""The bot's side of each turn: what it heard goes out, then its line is said.

Once the dialogue has decided a turn, the caller's words (or key) and the answer
the bot made of them are sent to the client and queued as rows; then the
decision's line is said, its first audio stamping the turn's latency and its
last chunk arming the silence watch. A line that ends the call finishes it once
the line has been sent. A caller who starts talking (or types) over the bot
stops it (`barge_in`), and a line no engine could say ends the call with a fatal
error rather than leave the caller in silence until the time limit.
"""
from __future__ import annotations

import logging
import time

from bots.dialogue import Decision, Dialogue
from calls import metrics
from calls.runtime.call_lifecycle import CallLifecycle
from calls.runtime.failures import log_failure, public_message
from calls.runtime.latency import LatencyRecorder, TurnTiming
from calls.runtime.listener import ENGINE_RATE, Utterance
from calls.runtime.pacing import Line
from calls.runtime.ports import CallAudio, CallRecords, Output
from calls.runtime.silence import SilenceWatch
from calls.runtime.speaker import Speaker

log = logging.getLogger(__name__)


class Replier:
    """Says the bot's reply to each turn of one call, through `speaker`."""

    def __init__(
        self,
        out: Output,
        records: CallRecords,
        dialogue: Dialogue,
        lifecycle: CallLifecycle,
        speaker: Speaker,
        silence: SilenceWatch,
        latency: LatencyRecorder,
        recording: CallAudio | None = None,
    ) -> None:
        self.out = out
        self.records = records
        self.dialogue = dialogue
        self.lifecycle = lifecycle
        self.speaker = speaker
        self.silence = silence
        self.latency = latency
        self.asked_at: float | None = None  # perf_counter when the bot began asking its latest question
        self.recording = recording
        speaker.on_error = self.speech_failed

    async def record_turn(self, utt: Utterance, text: str, decision: Decision, timing: TurnTiming) -> None:
        """The caller's words (or key) and what the bot made of them: events, rows, the reply."""
        log.debug("caller said %r", text, extra={"event": "turn.transcript"})  # words only at DEBUG
        await self.out.send_event({"type": "transcript", "turn": utt.turn, "text": text, "final": True})
        began = utt.ended_at - len(utt.pcm) / 2 / ENGINE_RATE  # spoken: when the words began
        self.records.turn(utt.turn, "caller", text, self.ms_into_call(began))
        if decision.answer is not None:
            a = decision.answer
            await self.out.send_event(
                {"type": "answer", "question": a.key, "value": a.value, "understood": a.understood, "attempt": a.attempt}
            )
            self.records.answer(a)
            metrics.answer_heard(self.lifecycle.ctx.bot_slug, a.key, a.understood)
        await self.respond(utt.turn, decision, timing, utt.ended_at)

    async def respond(self, turn: int, decision: Decision, timing: TurnTiming | None, ended_at: float | None) -> None:
        """Say the decision's line; if it ends the call, finish once the line is sent."""
        if decision.recording is not None:
            self.consent(decision.recording, ended_at)
        if self.lifecycle.caller_left:  # the caller has gone: the answer is stored, nothing is said
            return
        self.reply(turn, decision, timing, ended_at)
        if decision.ended and decision.say:
            await self.speaker.wait()
            await self.lifecycle.finish(decision.outcome or "incomplete", decision.reason)

    def reply(self, turn: int, decision: Decision, timing: TurnTiming | None, ended_at: float | None) -> None:
        """Start saying the decision's line (a decision that ends the call silently finishes it);
        a new question's start is noted (`asked_at`): words over it answer the one before."""
        if not decision.say:
            if decision.ended:
                ending = self.lifecycle.finish(decision.outcome or "incomplete", decision.reason)
                self.lifecycle.tasks.spawn(ending, "finish")
            return
        self.records.turn(turn, "bot", decision.say, self.ms_into_call(self.speaker.clock.now()))
        if decision.act == "question" and decision.answer is not None:  # a new question, after an answer
            self.asked_at = time.perf_counter()

        async def first_audio(engine: str, tts_ms: float, sent_at: float) -> None:
            if timing is not None and ended_at is not None:
                await self.latency.report(turn, timing, ended_at, engine, tts_ms)

        self.speaker.say(turn, decision.say, on_first_audio=first_audio, on_sent=self.silence.arm)

    def consent(self, agreed: bool, ended_at: float | None) -> None:
        """The caller's reply to the recording consent line: stored; a refusal stops the
        recording where their reply ended (nothing after it is kept)."""
        self.records.recording_consent(agreed)
        log.info("recording consent %s", "given" if agreed else "refused", extra={"event": "recording.consent"})
        if not agreed and self.recording is not None:
            self.recording.stop(ended_at)

    def ms_into_call(self, at: float) -> int | None:
        """`at` (the call's clock) as milliseconds since the call began (its recording's 0:00)."""
        start = self.lifecycle.started_at
        return None if start is None or at < start else round((at - start) * 1000)

    async def barge_in(self) -> None:
        """Caller speech (or a typed answer) while the bot is audible stops the bot."""
        if self.dialogue.ended:
            return
        line = await self.speaker.clear()
        if line is not None:
            self.records.interrupted(line.turn)

    async def speech_failed(self, line: Line, exc: Exception) -> None:
        """A bot line could not be said at all (every engine failed, or the speech task
        broke): end the call with a fatal error, not silence until the time limit."""
        if not self.lifecycle.taking_input:
            return
        error_id = log_failure(f"bot line {line.turn} could not be spoken: {exc}", logger=log, exc_info=False)
        message = public_message("The bot's voice failed, so the call cannot go on.", error_id)
        self.lifecycle.tasks.spawn(self.lifecycle.fatal("speech_failed", message, 1011), "speech-failed")
