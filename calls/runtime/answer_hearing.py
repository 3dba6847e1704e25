"""Whose answer the caller's words are, and what they were, before the dialogue decides.

Three rules live here, apart from the coordinator (calls/runtime/pipeline.py) that wires
them, because they are about hearing and not about running a call:
- words that begin within ANSWER_OVERLAP_MS of the bot starting a new question, while it
  is audible, answer the question before it (they were meant for it), not the new one;
- hands-free, a part of an answer that sounds unfinished or would cost a turn waits up to
  CONTINUE_S after the caller stopped for the rest, which then joins it;
- a hearing that would make the bot re-ask or check is heard again (second_listen.py);
  when the caller's pause already gave such a hearing (the listener's early recognition),
  the second listen starts there, before the turn ends (push-to-talk: while the caller
  still holds the button), and the turn takes it if it heard the same words at the same
  point of the dialogue; it is not waited for past ASR_SECOND_LISTEN_BUDGET_MS after the
  end of speech (the first hearing then stands), so such a turn still answers in time.
Imported by calls.runtime.pipeline only; plain asyncio, no ORM.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from django.conf import settings

from bots.dialogue import Dialogue
from calls import metrics
from calls.providers.base import Transcript
from calls.runtime.latency import TurnTiming, ms_since
from calls.runtime.listener import Listener, Utterance
from calls.runtime.second_listen import CONTINUE_S, Hearing, SecondListener, needs_second_listen, waits_for_more
from calls.runtime.tasks import CallTasks
from calls.runtime.turns import TurnQueue

log = logging.getLogger(__name__)


class AnswerHearing:
    """One call's bookkeeping of overlapping turns and paused answers, and its second listen."""

    def __init__(self, dialogue: Dialogue, turns: TurnQueue, tasks: CallTasks, *, mode: str,
                 caller_left: Callable[[], bool]) -> None:
        self.dialogue, self.turns, self.tasks, self.mode, self._caller_left = dialogue, turns, tasks, mode, caller_left
        self._spoke = asyncio.Event()  # the caller began speaking (again)
        self._overlapped: set[int] = set()  # caller turns that began over the start of a new question
        self._overlap_next = False  # push-to-talk: the next utterance did
        # A second listen started at the caller's pause: (words first heard, question index,
        # dialogue turns then) and its task.
        self._early: tuple[tuple[str, int, int], asyncio.Task[Transcript]] | None = None

    def listen_with(self, listener: Listener, second_listen: SecondListener) -> None:
        """The call's listener and second listener, once its engines are loaded."""
        self.listener, self.second_listen = listener, second_listen
        listener.on_early_heard = self.early_heard

    def early_heard(self, first: Transcript, pcm: bytes) -> None:
        """The listener's early recognition at the caller's pause heard `first`: if that would
        make the bot re-ask or check, the second listen starts now (a later one replaces it)."""
        self._drop_early()
        if not self.second_listen.enabled or self.turns.holding or self.turns.waiting or self._caller_left():
            return
        if needs_second_listen(self.dialogue, first):
            key = (first.text, self.dialogue.index, self.dialogue.turns)
            self._early = key, self.tasks.spawn(self.second_listen.again(pcm), "second-listen-early")

    def _take_early(self, heard: Transcript) -> asyncio.Task[Transcript] | None:
        """The second listen started early for these words at this point of the dialogue, if any."""
        early, self._early = self._early, None
        if early is None:
            return None
        if early[0] != (heard.text, self.dialogue.index, self.dialogue.turns):
            early[1].cancel()
            return None
        return early[1]

    def _drop_early(self) -> None:
        if self._early is not None:
            self._early[1].cancel()
            self._early = None

    def speech_started(self, asked_at: float | None, audible: bool) -> int | None:
        """The caller began speaking, the bot's latest question begun at `asked_at` and still
        `audible` or not. Hands-free this opens a turn, whose number is returned."""
        self._spoke.set()
        overlaps = asked_at is not None and audible and time.perf_counter() - asked_at < settings.ANSWER_OVERLAP_MS / 1000
        if self.mode != "vad":
            self._overlap_next = overlaps
            return None
        turn = self.turns.next_turn()
        if overlaps:
            self._overlapped.add(turn)
        return turn

    def speech_ended(self, utterance: Utterance) -> None:
        """An utterance ended: it gets its turn number (hands-free, the one its start opened)."""
        if self.mode == "vad":
            utterance.turn = self.turns.turn
            return
        utterance.turn = self.turns.next_turn()
        if self._overlap_next:
            self._overlapped.add(utterance.turn)
        self._overlap_next = False

    def began_over_a_new_question(self, turn: int) -> bool:
        """Did this turn begin over the start of the question now asked (so that, spoken, it
        answers the one before)? Asked once, when the turn is decided: then forgotten."""
        overlapped = turn in self._overlapped
        self._overlapped.discard(turn)
        return overlapped

    async def words(self, utt: Utterance, timing: TurnTiming, *, nothing_said: Callable[[], None]) -> Hearing | None:
        """What the caller said in this turn, to decide on: typed words at their word, spoken
        ones recognised and heard out, with words held from before in front. None when there
        is nothing to decide yet: hands-free noise (`nothing_said` is called: still waiting
        for an answer), or the caller went on talking while this was recognised ("yes ...
        I'm salaried"): nothing is said over them, and the whole is decided when they stop."""
        hearing, spoken = Hearing(utt.text or "", None), utt.text is None
        if spoken:
            heard, timing.providers["asr"], timing.asr_ms = await self.listener.transcript(utt)
            hearing = await self.hear_out(utt, heard, timing)
        text, confidence = self.turns.with_held(hearing.text, hearing.confidence)
        if spoken and not text and self.mode == "vad":
            nothing_said()
            return None
        if spoken and text and not self._caller_left() and (self.listener.in_speech or self.turns.waiting):
            self.turns.hold(text, confidence)
            log.debug("turn %s held: the caller is still talking", utt.turn, extra={"event": "turn.held"})
            return None
        return replace(hearing, text=text, confidence=confidence)

    async def _within_budget(self, again: asyncio.Task[Hearing], utt: Utterance, heard: Transcript) -> Hearing:
        """The second listen's hearing, if it is done within ASR_SECOND_LISTEN_BUDGET_MS of the
        end of speech; past that the first hearing stands (counted and logged): the caller
        hears a re-ask or a check in time rather than a better decision late."""
        budget = settings.ASR_SECOND_LISTEN_BUDGET_MS / 1000
        if not budget or again.done():
            hearing = await again
        else:
            done, _ = await asyncio.wait([again], timeout=max(0.0, utt.ended_at + budget - time.perf_counter()))
            if not done:
                again.cancel()
                metrics.second_listen("late")
                log.warning("turn %s: second listen not done %.0f ms after the end of speech; the first hearing stands",
                            utt.turn, budget * 1000, extra={"event": "asr.second_listen_late"})
                return Hearing(heard.text, heard.confidence)
            hearing = again.result()
        if hearing.relistened:
            metrics.second_listen("used")
        return hearing

    async def hear_out(self, utt: Utterance, heard: Transcript, timing: TurnTiming) -> Hearing:
        """The hearing to decide on: hands-free, waits for the rest of a paused answer; a
        hearing that would make the bot re-ask or check is heard again. Words held from
        before, or heard after the caller left, are decided as heard."""
        early = self._take_early(heard)
        if self.turns.holding or self._caller_left():
            if early is not None:
                early.cancel()
            return Hearing(heard.text, heard.confidence)
        started = time.perf_counter()
        again = self.tasks.spawn(self.second_listen.hear(self.dialogue, heard, utt.pcm, early), "second-listen")
        if self.mode == "vad" and waits_for_more(self.dialogue, heard) and not self.listener.in_speech:
            self._spoke.clear()
            try:
                await asyncio.wait_for(self._spoke.wait(), max(0.0, utt.ended_at + CONTINUE_S - time.perf_counter()))
            except TimeoutError:
                pass
        if self.listener.in_speech:  # the caller went on: what they said so far is held by the caller of this
            again.cancel()
            if early is not None:
                early.cancel()
            return Hearing(heard.text, heard.confidence)
        hearing = await self._within_budget(again, utt, heard)
        if early is not None:
            early.cancel()  # not needed after all (a no-op once it has been heard)
        if hearing.relistened:
            timing.asr_ms = round((timing.asr_ms or 0.0) + ms_since(started), 1)
            timing.providers["asr"] = f"{timing.providers.get('asr', '')}+again"
        return hearing
