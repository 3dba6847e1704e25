"""A call's rows through its write queue: the runtime's `CallRecords` port, stored.

Each method queues one `calls.persistence.lifecycle` write on the call's
`WriteQueue` and returns at once, so the response path never waits on the
database; the queue keeps the writes in order and holds them through an outage.
"""
from __future__ import annotations

from bots.dialogue import REASON_SHUTDOWN, AnswerRecord
from calls.models import Call
from calls.persistence import lifecycle
from calls.persistence.write_queue import WriteQueue


class QueuedCallRecords:
    """`calls.runtime.ports.CallRecords` for call `call_id`, written through `queue`."""

    def __init__(self, call_id: str, queue: WriteQueue | None = None) -> None:
        self.call_id = call_id
        self.queue = queue or WriteQueue(call_id)

    def input_rate(self, sample_rate: int) -> None:
        self.queue.put(lifecycle.set_input_rate, self.call_id, sample_rate)

    def turn(self, turn: int, speaker: str, text: str, at_ms: int | None = None) -> None:
        self.queue.put(lifecycle.add_turn, self.call_id, turn, speaker, text, at_ms)

    def answer(self, record: AnswerRecord) -> None:
        self.queue.put(lifecycle.record_answer, self.call_id, record)

    def latency(self, turn: int, stages: dict[str, float | None], providers: dict[str, str]) -> None:
        self.queue.put(lifecycle.add_latency, self.call_id, turn, stages, providers)

    def interrupted(self, turn: int) -> None:
        self.queue.put(lifecycle.mark_interrupted, self.call_id, turn)

    def end(self, outcome: str, reason: str) -> None:
        # A call cut off by a draining server (incomplete/shutdown) decided nothing: provisional.
        provisional = outcome == Call.Outcome.INCOMPLETE and reason == REASON_SHUTDOWN
        self.queue.put(lifecycle.end_call, self.call_id, outcome, reason, provisional)

    def recording_consent(self, agreed: bool) -> None:
        self.queue.put(lifecycle.set_recording_consent, self.call_id, agreed)

    async def flush(self) -> None:
        await self.queue.flush()

    async def close(self) -> None:
        await self.queue.close()
