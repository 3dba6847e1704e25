"""The entry point: one caller utterance, one question, one `Reading`.

`understand` runs the readers of this package in order and is the only place that
knows the order: normalise, find yes/no/hedge/repeat events and the question's own
phrases, check a stated place, then (amount questions) read money or a duration and a
comparison. Each reader is a module of its own; this one only combines them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bots.understanding.comparisons import COMPARATIVE_WORDS, read_relation
from bots.understanding.durations import read_duration
from bots.understanding.evidence import DOUBT, FLIPPED, comma_lost
from bots.understanding.money import read_money
from bots.understanding.numbers import misheard_tens, scan
from bots.understanding.phrases import compile_phrases, content_events
from bots.understanding.places import sounds_like_other_place, unknown_place
from bots.understanding.polarity import NO, REPEAT, YES, Event, answered_after_hedge, find_events, is_weak_repeat, polarity
from bots.understanding.tokens import clause_ids, tokenise
from bots.understanding.units import unit_kind


# Words that make a place in their clause somewhere the caller does not live now.
_NOT_HOME = {"originally", "born", "grew", "native", "hometown", "previously", "formerly", "used"}


@dataclass(frozen=True)
class Reading:
    """What one caller utterance says, as far as the current question goes."""

    intent: Literal["answer", "repeat", "unclear"]
    yes_no: bool | None = None
    amount: float | None = None
    relation: Literal["above", "below"] | None = None


def understand(text: str, *, kind: str = "yes_no", period: str = "", unit: str = "",
               language: str = "en", yes_phrases: tuple[str, ...] = (),
               no_phrases: tuple[str, ...] = (), accepted_places: tuple[str, ...] = (),
               other_places: tuple[str, ...] = ()) -> Reading:
    """Read one caller utterance for a question of `kind` ("yes_no" or "amount").

    For amount questions `period` ("month", "year" or "") and `unit`
    ("rupees", "dollars", "months", ...) say what the amount is measured in;
    a stated amount in another period is converted, a duration is converted
    to `unit` when that is a time unit. A place question names its
    `accepted_places` (each alias a name of its own) and the `other_places`
    it knows: "I live in X" is yes for an accepted X, no for another known
    X, and unclear for a place it does not know. `language` is accepted for the
    engine's convenience: Hinglish words are understood in every language
    because they never clash with an English answer.
    """
    toks = tokenise(text or "")
    if not toks:
        return Reading("unclear")
    if kind == "amount":
        toks = misheard_tens(toks)
    events = find_events(toks)
    answered = answered_after_hedge(toks, events)
    if any(e.tag == REPEAT for e in events):
        return Reading("repeat")
    content = content_events(toks, compile_phrases(tuple(yes_phrases) + tuple(accepted_places),
                                                   tuple(no_phrases) + tuple(other_places)))
    if accepted_places and not any(e.tag in (YES, NO) for e in content):
        near = sounds_like_other_place(toks, accepted_places, other_places)
        if near is not None:  # a known place that does not qualify, misspelt: a "no"
            content = [Event(near, near + 1, NO)]
    if accepted_places and unknown_place(toks, content):
        return Reading("unclear")
    if accepted_places:  # "I'm from Madras originally": where the caller was, not where they live
        clause = clause_ids(toks)
        past = {clause[k] for k, t in enumerate(toks) if t in _NOT_HOME}
        content = [e for e in content if clause[e.pos] not in past]
    doubts = [e for e in content if e.tag in (FLIPPED, DOUBT)]
    content = [e for e in content if e.tag in (YES, NO)]
    if content:  # merged in order; their strength equals an explicit "yes" / "no"
        events = sorted(events + content, key=lambda e: e.pos)
    yes_no = polarity(toks, events) if answered else None
    if doubts and (yes_no is not True or any(e.tag == DOUBT for e in doubts)):
        yes_no = None  # only a phrase said for itself (not a negated "no") makes a yes
    if kind == "amount" and yes_no is None and {e.tag for e in events} >= {YES, NO}:
        return Reading("unclear")  # "No, next month": a "no" against the question's own "yes" words
    amount: float | None = None
    relation: Literal["above", "below"] | None = None
    if kind == "amount":
        unit_key = (unit or "").lower().strip()
        duration = unit_kind(unit_key) == "duration"
        qtys = scan(toks)
        if comma_lost(toks, COMPARATIVE_WORDS):
            return Reading("unclear")  # "No less than that.": at least that, or "No, less than that"?
        said = read_duration(toks, qtys, unit_key) if duration else read_money(toks, qtys, period)
        if said is not None and not said.sure:
            return Reading("unclear")  # "not 30,000", "six like a year": no amount to go on
        amount = None if said is None else said.value
        relation = read_relation(toks, duration)
    if yes_no is None and amount is None and relation is None:
        return Reading("repeat" if is_weak_repeat(toks) else "unclear")
    return Reading("answer", yes_no=yes_no, amount=amount, relation=relation)
