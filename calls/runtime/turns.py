"""Turn taking in one call: the caller's turns in order, bounded, and words held while they talk on.

Caller turns (an utterance, a typed answer, a key, a silence) wait in one queue
and are handled one at a time by the call's turn worker, so answers are decided
in the order given. The queue is bounded (MAX_QUEUED_TURNS): a caller that far
ahead of the bot is flooding it, and a turn beyond that is dropped, never
silently: it is counted in `voicebot_records_lost_total{what="caller_turn"}` and
logged with the call id. A silence turn that finds the queue full is simply not
needed (the caller is not silent).

Held words: when a recognition comes back while the caller is already talking
again ("yes ... I'm salaried"), nothing is said over them; the words are held
and put in front of what they say next, and the whole is decided once.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from calls import metrics
from calls.runtime.listener import Utterance

log = logging.getLogger(__name__)

MAX_QUEUED_TURNS = 8  # caller turns waiting for the bot; beyond that the caller is far ahead


class TurnQueue:
    """The caller's turns of call `call_id`, numbered (`turn`) and queued for the turn worker."""

    def __init__(self, call_id: str, maxsize: int = MAX_QUEUED_TURNS) -> None:
        self.call_id = call_id
        self.maxsize = maxsize
        self.turn = 0  # the number of the latest turn (caller or bot) in this call
        self._queue: asyncio.Queue[Utterance] = asyncio.Queue(maxsize)
        self._held: tuple[str, float | None] | None = None

    def next_turn(self) -> int:
        self.turn += 1
        return self.turn

    @property
    def waiting(self) -> int:
        """Turns queued and not yet taken by the worker."""
        return self._queue.qsize()

    # ------------------------------------------------------------------ in
    def put(self, utterance: Utterance) -> bool:
        """Queue a caller turn; False (counted and logged) when the queue is full."""
        try:
            self._queue.put_nowait(utterance)
            return True
        except asyncio.QueueFull:
            metrics.records_lost("caller_turn")
            log.warning(
                "call %s: caller turn %s dropped, %d turns already waiting", self.call_id, utterance.turn, self.maxsize,
                extra={"event": "records.lost", "call_id": self.call_id, "what": "caller_turn"},
            )
            if utterance.early_asr is not None:
                utterance.early_asr.cancel()
            return False

    def put_silence(self) -> None:
        """The caller has said nothing for SILENCE_TIMEOUT_S (unless turns are waiting)."""
        try:
            self._queue.put_nowait(Utterance(turn=self.turn, ended_at=time.perf_counter(), silence=True))
        except asyncio.QueueFull:  # turns are waiting: the caller is not silent
            pass

    # ------------------------------------------------------------------ out
    async def serve(self, handle: Callable[[Utterance], Awaitable[None]], going: Callable[[], bool]) -> None:
        """The turn worker: each queued turn through `handle`, in order, while `going()`."""
        while going():
            utterance = await self._queue.get()
            try:
                await handle(utterance)
            finally:
                self._queue.task_done()

    async def join(self, timeout: float) -> bool:
        """Wait (at most `timeout` s) until every queued turn has been handled."""
        try:
            async with asyncio.timeout(timeout):
                await self._queue.join()
            return True
        except TimeoutError:
            return False

    # ------------------------------------------------------------------ held words
    @property
    def holding(self) -> bool:
        """Words are held for what the caller says next."""
        return self._held is not None

    def hold(self, text: str, confidence: float | None) -> None:
        """Words heard while the caller went on talking: decided with what comes next."""
        self._held = (text, confidence)

    def with_held(self, text: str, confidence: float | None) -> tuple[str, float | None]:
        """`text` after the words held back (if any), with the lower of the two confidences."""
        if self._held is None:
            return text, confidence
        (held, held_confidence), self._held = self._held, None
        known = [c for c in (held_confidence, confidence) if c is not None]
        return f"{held} {text}".strip(), (min(known) if known else None)
