"""The small interfaces between one call's runtime and the world around it.

The runtime (`calls.runtime`) is plain asyncio code with no socket and no ORM:
what it needs from outside comes in through these ports, so the coordinator, the
listener and the speaker import them from here instead of from each other (the
speaker used to import the pipeline for `Output`, the pipeline the speaker for
`Clock`), and a test drives a call with an in-memory `Output` and `CallRecords`.

- `CallContext` (and `Resumed`): what the call is, loaded by
  `calls.persistence.lifecycle.claim_call` before the runtime starts.
- `Output`: where events and bot audio go (browser socket, phone stream, test).
- `Clock`: monotonic time and sleeping; `SYSTEM_CLOCK` in production.
- `CallRecords`: the call's rows (turns, answers, latency, the end), queued;
  `calls.persistence.records.QueuedCallRecords` writes them to the database.
- `CallRegistry`: the worker's registry of live calls
  (`calls.worker.registry.live_calls`), which a draining worker asks to end them.
- `ListenerEvents`: what the listener reports to the coordinator.
- `CallAudio`: both sides of the call as heard, for its recording
  (`calls.runtime.recorder.CallRecorder`), when the call is recorded.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bots.dialogue import AnswerRecord, Script, StoredAnswer
    from calls.runtime.listener import Utterance


@dataclass(frozen=True)
class Resumed:
    """A call picked up again after its socket dropped: where it was."""

    answers: tuple[StoredAnswer, ...]  # as stored, in question order
    last_turn: int  # the highest turn index stored; the resumed call goes on after it
    seconds_left: float  # of CALL_MAX_SECONDS, counted from the call's first start
    consent: bool | None = None  # the caller's reply to the recording consent line, if they gave one


@dataclass(frozen=True)
class CallContext:
    """What the runtime needs to run a call, loaded once at connect."""

    call_id: str
    script: Script
    voice: str
    mode: str
    bot_slug: str
    bot_name: str
    channel: str = "web"
    resumed: Resumed | None = None


class Output(Protocol):
    """Where a call's events and audio go (the WebSocket, a phone bridge, or a test)."""

    async def send_event(self, event: dict[str, Any]) -> None: ...
    async def send_audio(self, pcm: bytes) -> None: ...
    async def close(self, code: int) -> None: ...


class Clock(Protocol):
    """Monotonic seconds and a way to wait; `SystemClock` in production, a fake in tests."""

    def now(self) -> float: ...
    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.perf_counter()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


SYSTEM_CLOCK = SystemClock()


class CallRecords(Protocol):
    """A call's rows, written in order off the response path: each method queues a
    write and returns at once; `flush()` waits until everything queued is stored
    (or held through a database outage), `close()` when the call is done with it."""

    def input_rate(self, sample_rate: int) -> None: ...
    def turn(self, turn: int, speaker: str, text: str, at_ms: int | None = None) -> None: ...
    def answer(self, record: AnswerRecord) -> None: ...
    def latency(self, turn: int, stages: dict[str, float | None], providers: dict[str, str]) -> None: ...
    def interrupted(self, turn: int) -> None: ...
    def end(self, outcome: str, reason: str) -> None: ...
    def recording_consent(self, agreed: bool) -> None: ...
    async def flush(self) -> None: ...
    async def close(self) -> None: ...


class Running(Protocol):
    """A started call, as the worker's registry and its drain see it."""

    ctx: CallContext

    async def end_for_shutdown(self) -> None: ...


class CallRegistry(Protocol):
    """The worker's registry of live calls: a call joins it once started and leaves at its end."""

    def add(self, call: Running) -> None: ...
    def discard(self, call: Running) -> None: ...


class ListenerEvents(Protocol):
    """What the listener reports to the call's coordinator."""

    async def speech_started(self) -> None:
        """The caller began speaking (barge-in, timers; hands-free: a new turn)."""

    async def utterance_ended(self, utterance: Utterance) -> None:
        """A finished utterance (its `turn` is set by the coordinator)."""

    async def nothing_said(self) -> None:
        """Push-to-talk released with no audio to speak of."""

    async def error(self, code: str, message: str) -> None:
        """A non-fatal problem to report to the caller (bad frame, ASR fallback)."""


class CallAudio(Protocol):
    """Both sides of a call as they were heard (its recording), on the call's `Clock`."""

    started_at: float  # the recording's 0:00

    def caller_audio(self, pcm: bytes, rate: int, received_at: float) -> None:
        """Caller audio as received (s16le mono at `rate`), its last sample at `received_at`."""

    def bot_audio(self, pcm: bytes, rate: int, plays_at: float) -> None:
        """A chunk of bot audio that starts playing at `plays_at`."""

    def bot_cut(self, at: float) -> None:
        """Barge-in: the bot's audio stopped playing at `at`."""

    def stop(self, at: float | None = None) -> None:
        """No more recording from `at` (default now): the caller refused, or the call is over."""
