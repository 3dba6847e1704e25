"""A second listen before the bot re-asks or checks an answer (issue 27).

A re-ask costs the caller five seconds and a "Just to be sure" check a turn; decoding
the same two seconds of audio again costs a fraction of that. So when the first hearing
of an answer would make the bot re-ask it (nothing heard, or words the dialogue cannot
use) or check it (a doubtful hearing that would decide the call), the utterance is
recognised again by `ASRProvider.listen_again` (a local Whisper: its whole 30 s window
instead of the first pass's 10 s; a cloud engine: simply again), primed as the first
listen was, and the dialogue decides on the better evidence:

- the first hearing would be re-asked and the second one is an answer: the second one,
  with its own confidence (a doubtful one is still checked);
- the first hearing is an answer that would be checked and the second one comes to the
  same answer: the two agree, which is better evidence than either confidence, and the
  answer stands without a check; if they differ, the check is made;
- otherwise the first hearing, as it was.

Pure decision logic over a `Dialogue` preview and two transcripts, so it is tested
without audio; the pipeline supplies the recognition (`Relisten`).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bots.dialogue import Decision, Dialogue
from calls.providers.base import Transcript

__all__ = ["Hearing", "needs_second_listen", "choose", "hear"]

Relisten = Callable[[], Awaitable[Transcript]]  # the utterance recognised again


@dataclass(frozen=True)
class Hearing:
    """What the dialogue is given for one spoken answer."""

    text: str
    confidence: float | None
    agreed: bool = False  # two listens came to the same answer
    relistened: bool = False  # a second listen was made


def _key(decision: Decision) -> tuple:
    """What a decision amounts to, for comparing two hearings' decisions."""
    a = decision.answer
    said_back = decision.say if decision.act == "confirm" else ""
    return decision.act, said_back, None if a is None else (a.value, a.qualifies, a.understood)


def needs_second_listen(dialogue: Dialogue, first: Transcript) -> bool:
    """Would the first hearing make the bot re-ask the question or check the answer?"""
    if dialogue.question is None:
        return False
    decision = dialogue.preview(first.text, first.confidence)
    if decision.act == "reask":
        return True
    return decision.act == "confirm" and dialogue.preview(first.text).act != "confirm"


def choose(dialogue: Dialogue, first: Transcript, second: Transcript) -> Hearing:
    """The hearing the dialogue decides on, from the first and the second listen."""
    then = dialogue.preview(first.text, first.confidence)
    if then.act == "reask":
        again = dialogue.preview(second.text, second.confidence)
        if again.act not in ("reask", "repeat"):
            return Hearing(second.text, second.confidence, relistened=True)
        return Hearing(first.text, first.confidence, relistened=True)
    if _key(dialogue.preview(first.text)) == _key(dialogue.preview(second.text)):
        return Hearing(first.text, first.confidence, agreed=True, relistened=True)
    return Hearing(first.text, first.confidence, relistened=True)


async def hear(dialogue: Dialogue, first: Transcript, relisten: Relisten) -> Hearing:
    """The first hearing, or the better of two when the first would cost the caller a turn."""
    if not needs_second_listen(dialogue, first):
        return Hearing(first.text, first.confidence)
    return choose(dialogue, first, await relisten())
