"""What the engine returns: a Decision per event, the AnswerRecord it stores, and why a
call ended (the REASON_* strings, sent as `call.ended.reason` and stored on the call).

StoredAnswer is the way back in: answers as they were stored, to resume a call.
"""
from __future__ import annotations

from dataclasses import dataclass

# Why a call ended; sent as `call.ended.reason` and stored on the call.
REASON_QUALIFIED = "all_answers_qualify"
REASON_HANGUP = "caller_hangup"
REASON_DISCONNECTED = "caller_disconnected"
REASON_TIMEOUT = "call_time_limit"
REASON_SILENT = "caller_silent"
REASON_TOO_MANY_TURNS = "too_many_turns"
REASON_SHUTDOWN = "shutdown"  # the worker stopped (drain deadline) before the call ended
REASON_DO_NOT_CALL = "do_not_call"  # the caller asked never to be called again (words, or key 9)


@dataclass(frozen=True)
class StoredAnswer:
    """An answer as it was stored, to pick a call up again where it was (resume)."""

    key: str
    value: bool | float | None
    understood: bool
    qualifies: bool | None
    attempts: int
    transcript: str = ""


@dataclass(frozen=True)
class AnswerRecord:
    """What the engine made of one caller utterance for one question."""

    key: str
    question: str
    order: int
    transcript: str
    value: bool | float | None
    understood: bool
    qualifies: bool | None
    attempt: int
    confidence: float | None = None  # the recogniser's confidence in the hearing that gave the value


@dataclass(frozen=True)
class Decision:
    """The engine's reply to one event: what to record and what the bot says next."""

    say: str
    act: str  # "question" | "reask" | "repeat" | "confirm" | "reminder" | "closing" | "none"
    answer: AnswerRecord | None = None
    outcome: str | None = None  # set when the call ends
    reason: str = ""
    recording: bool | None = None  # the caller's recording consent, decided by this reply (False: stop now)

    @property
    def ended(self) -> bool:
        return self.outcome is not None
