"""A second listen before the bot re-asks or checks an answer (issue 27).

A re-ask costs the caller five seconds and a "Just to be sure" check a turn; decoding
the same two seconds of audio again costs a fraction of that. So when the first hearing
of an answer would make the bot re-ask it (nothing heard, or words the dialogue cannot
use) or check it (a doubtful hearing that would decide the call), the utterance is
recognised again by `ASRProvider.listen_again` (a local Whisper: its whole 30 s window
instead of the first pass's 10 s; a cloud engine: simply again), primed as the first
listen was, and the dialogue decides on the better evidence:

- the first hearing would be re-asked and the second one is an answer: the second one,
  `unsure` (a value that would qualify the caller is said back or asked again first: a
  second listen primed with the question's words can hear them in a garble, as
  "Coimbatore." came back "Kolkata." at 0.71; one that does not is decided as usual);
- the first hearing is an answer that would be checked and the second one comes to the
  same answer, neither of them very doubtful (AGREEMENT_FLOOR), the second sure enough
  to pass the confidence rule on its own and not just the prompt's short answers said
  back (`echoes_prompt`): the two agree, which is better evidence than
  either confidence, and the answer stands without a check; if they
  differ, the check is made (a fast "Nah." missed by the first listen came back from a
  second as "Yeah." at 0.27: a hearing that doubtful is checked however often it recurs);
- otherwise the first hearing, as it was.

Hands-free, a pause can also cut one answer in two ("Yes," ... "I work for a software
company."): the first part decided alone got a check, which the second part answered,
and the caller's reply to the check then answered the next question. So a turn is closed
on what was said as well as on silence: a part that sounds unfinished (it ends on a
comma or a joining word) or that would cost a turn anyway (`waits_for_more`) is held for
up to CONTINUE_S, and speech within that joins it into one answer.

Pure decision logic over a `Dialogue` preview and two transcripts, so it is tested
without audio; the pipeline supplies the recognition (`Relisten`).
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import re

from bots.dialogue import YES_NO_HINT, Decision, Dialogue
from calls.providers.base import ASRProvider, ProviderError, Transcript

log = logging.getLogger(__name__)

__all__ = ["CONTINUE_S", "Hearing", "SecondListener", "needs_second_listen", "choose", "hear", "sounds_unfinished",
           "waits_for_more"]

AGREEMENT_FLOOR = 0.3  # two hearings agreeing count only if each is at least this confident
CONTINUE_S = 0.7  # hands-free: how long a part of an answer waits for the rest after the caller stopped (after the VAD hangover)
_JOINING_WORDS = {"and", "but", "so", "because", "or", "um", "uh", "umm", "er", "like", "i", "my", "the", "a", "an"}

Relisten = Callable[[], Awaitable[Transcript]]  # the utterance recognised again


@dataclass(frozen=True)
class Hearing:
    """What the dialogue is given for one spoken answer."""

    text: str
    confidence: float | None
    agreed: bool = False  # two listens came to the same answer
    unsure: bool = False  # heard by the second listen only, the first giving nothing to go on
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


def sounds_unfinished(text: str) -> bool:
    """ "Yes," / "I work for a" / "and": words that stop where a sentence goes on."""
    words = text.strip().lower().split()
    if not words:
        return False
    return words[-1].endswith((",", "-", "\u2014")) or words[-1].strip(".?!") in _JOINING_WORDS and not words[-1].endswith((".", "?", "!"))


def waits_for_more(dialogue: Dialogue, first: Transcript) -> bool:
    """Hands-free: should this part of an answer wait CONTINUE_S for the rest?"""
    return bool(first.text) and (sounds_unfinished(first.text) or needs_second_listen(dialogue, first))


_HINT_WORDS = frozenset(re.findall(r"[a-z']+", YES_NO_HINT.lower()))


def echoes_prompt(text: str) -> bool:
    """Is `text` made only of the short answers a short utterance is primed with ("Yes,
    haan ji.")? Held-out set 3 showed the whole-window decode saying them back for words it
    could not make out ("Visakhapatnam." heard "Yes, haan ji."): no evidence of a yes."""
    words = re.findall(r"[a-z']+", text.lower())
    return bool(words) and all(w in _HINT_WORDS for w in words)


def choose(dialogue: Dialogue, first: Transcript, second: Transcript) -> Hearing:
    """The hearing the dialogue decides on, from the first and the second listen."""
    then = dialogue.preview(first.text, first.confidence)
    if then.act == "reask":
        again = dialogue.preview(second.text, second.confidence, unsure=True)
        if again.act not in ("reask", "repeat"):
            return Hearing(second.text, second.confidence, unsure=True, relistened=True)
        return Hearing(first.text, first.confidence, relistened=True)
    known = [t.confidence for t in (first, second) if t.confidence is not None]
    # Neither very doubtful, and the second (Whisper's whole window) sure enough to stand on
    # its own: two doubtful hearings of one model agree on a garble as readily as on the
    # words ("..., right?" twice at 0.48 qualified a caller from Madurai, issue 27).
    sure = all(c >= AGREEMENT_FLOOR for c in known) and (
        second.confidence is None or second.confidence >= dialogue.script.confirm_below) and not echoes_prompt(second.text)
    if sure and _key(dialogue.preview(first.text)) == _key(dialogue.preview(second.text)):
        return Hearing(first.text, first.confidence, agreed=True, relistened=True)
    return Hearing(first.text, first.confidence, relistened=True)


async def hear(dialogue: Dialogue, first: Transcript, relisten: Relisten) -> Hearing:
    """The first hearing, or the better of two when the first would cost the caller a turn."""
    if not needs_second_listen(dialogue, first):
        return Hearing(first.text, first.confidence)
    return choose(dialogue, first, await relisten())


class SecondListener:
    """One call's second listens: the utterance's audio through each engine's
    `listen_again` in turn (the call's recogniser, then its fallback), primed as the
    first listen was. A second listen that fails leaves the first hearing standing
    (logged; the caller loses nothing but the better evidence)."""

    def __init__(self, engines: list[ASRProvider], *, language: str, hint: Callable[[float], str],
                 enabled: bool = True, rate: int = 16000) -> None:
        self.engines = engines
        self.language = language
        self.hint = hint
        self.enabled = enabled
        self.rate = rate

    async def hear(self, dialogue: Dialogue, first: Transcript, pcm: bytes,
                   early: Awaitable[Transcript] | None = None) -> Hearing:
        """The hearing the dialogue decides on for the utterance `pcm`, first heard as `first`;
        `early`: the second listen already under way (started at the caller's pause)."""
        if not self.enabled or not pcm:
            return Hearing(first.text, first.confidence)
        return await hear(dialogue, first, (lambda: early) if early is not None else (lambda: self.again(pcm)))

    async def again(self, pcm: bytes) -> Transcript:
        """The utterance `pcm` recognised a second time (an empty transcript if every engine failed)."""
        hint = self.hint(len(pcm) / 2 / self.rate)
        for engine in self.engines:
            try:
                return await engine.listen_again(pcm, language=self.language, hint=hint)
            except ProviderError as exc:
                log.warning("second listen by %s failed: %s", engine.name, exc,
                            extra={"event": "asr.second_listen_failed", "provider": engine.name})
        return Transcript("")
