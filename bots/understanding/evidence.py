"""What is no evidence of an answer: a recogniser's garbles (issue 27).

A caller's "Nah, I run my own shop." came back from the recogniser as "Not I run my
own shot." and was taken for a yes (a "not" before a phrase that means no), which
qualified a self-employed caller. A qualifying value needs positive evidence, so the
readers mark what only looks like some:

- a phrase that means no, negated ("not rented", "I'm not self-employed"): `FLIPPED`.
  It is no yes; a yes said for itself elsewhere in the answer still counts ("I'm not
  self-employed, I work at a bank"), anything else leaves the answer open;
- a phrase after a "not" with a person between them ("Not I run my own shot", "Not I
  work for a company"): no clause says "not I run"; `DOUBT`, and the answer is open;
- an amount or a date right after a "not" ("not 30,000", "not right away"): it says
  what the answer is not (`negated_at`), while "not for another six months", "not
  until next year" and "not even 20,000" say something and stand;
- a bare number followed by what the recogniser writes for a "lakh" it did not know
  ("6. like a year"): no amount (`lost_scale`), never 0.5 rupees a month;
- a lakh figure to a monthly question followed by a word that is nothing an amount is
  followed by ("3 lakhs together." for "Three lakh a year."): the period may be what was
  lost (`lost_period`);
- a number beside the amount with only a comma between ("Around 40, 5k." for "Around
  45k."), or an answer that starts "For 2000" ("Forty thousand"): one number cut in two
  (`split_number`, `cut_number`);
- "no" right before a comparative ("No less than that."): the recogniser drops the comma
  of "No, less than that." as often as a caller says "no less than", which means the
  opposite; such an answer is open (`comma_lost`).
"""
from __future__ import annotations

from typing import NamedTuple

from bots.understanding.numbers import Qty
from bots.understanding.tokens import skip

FLIPPED, DOUBT = "flipped", "doubt"  # event tags (bots.understanding.polarity.Event)

# A "not" before one of these is not the negation of what follows in its clause.
PERSONS = {"i", "we", "you", "he", "she", "they"}
# Words that may stand between a "not" and the amount or date it negates.
_NEGATION_GAP = {"in", "within", "about", "around", "exactly", "quite", "really", "like", "the", "a"}
# "Lakh" as the recogniser writes it when it does not know the word.
_LOST_LAKH = {"like", "luck", "lick", "lake", "lag", "leg", "lock", "lac", "lakes", "likes"}


class Said(NamedTuple):
    """A stated amount or time span, where it starts, and whether it is evidence of one."""

    value: float
    start: int
    sure: bool = True


def negated_at(toks: list[str], start: int) -> bool:
    """Is the amount or date starting at toks[start] negated ("not 30,000", "not in two months")?"""
    k = start - 1
    while k >= 0 and toks[k] in _NEGATION_GAP:
        k -= 1
    return k >= 0 and toks[k] in ("not", "never")


def comma_lost(toks: list[str], comparatives: set[str]) -> bool:
    """ "no" right before a comparative word: "No, less than that." or "no less than that"?"""
    return any(t == "no" and toks[k + 1] in comparatives for k, t in enumerate(toks[:-1]))


# Words that may follow an amount in a salary answer without standing for anything else.
_AFTER_AMOUNT = {",", "?", "rupees", "rupee", "rs", "inr", "only", "approx", "approximately", "roughly", "about",
                 "around", "or", "to", "and", "plus", "take", "home", "in", "hand", "net", "gross", "salary",
                 "income", "fixed", "total", "per", "a", "every", "each", "monthly", "yearly", "annually", "annual",
                 "ctc", "package", "pm", "pa", "month", "year", "annum", "k", "thousand", "so", "odd", "max",
                 "maximum", "minimum", "at", "least", "most", "something", "including", "after", "before", "tax",
                 "taxes", "sir", "madam", "maam", "ji", "right", "now", "currently", "these", "days"}
LAKH = 100000


def lost_period(toks: list[str], q: Qty, wanted: str, stated: str) -> bool:
    """A lakh figure to a monthly question, no period stated, and a word after it that is
    nothing an amount is followed by: "3 lakhs together." was a recogniser's "Three lakh a
    year." (a lakh a month is rare, a lakh a year the usual way to say a salary), so the
    period may be what was lost."""
    if wanted != "month" or stated or q.scale < LAKH:
        return False
    k = q.end
    if k + 1 < len(toks) and toks[k] in ("or", "to") and not toks[k + 1][0].isdigit():
        k += 1  # "2.5 lakh or your...": no range follows, so what does "your" stand for?
    return k < len(toks) and toks[k] not in _AFTER_AMOUNT


def split_number(toks: list[str], qtys: list[Qty], q: Qty) -> bool:
    """Another number right beside the amount, only a comma between, one of them bare:
    "Around 40, 5k." was a recogniser's "Around 45k." and "If 33,300, 33 rupees" its
    "Eighty-three thousand three hundred thirty-three rupees" (one number cut in two), so
    which amount was said is not known."""
    def beside(a: Qty, b: Qty) -> bool:
        return a.end < b.start and toks[a.end:b.start] == [","]
    return any(p != q and (beside(p, q) or beside(q, p)) and 1 in (p.scale, q.scale) for p in qtys)


def two_amounts(qtys: list[Qty]) -> bool:
    """Two different sums of a thousand or more in one answer, neither corrected: "50,000
    rupees, 20,000." was a recogniser's "It's below twenty thousand." Which is the answer?"""
    return len({q.value for q in qtys if q.value >= 1000}) > 1


# Words a recogniser writes for the start of a number it cut ("For 2000" for "Forty thousand").
_CUT_NUMBER_LEADS = {"for", "if", "of", "to", "too", "ate"}


def cut_number(toks: list[str], q: Qty) -> bool:
    """The answer starts with "for" / "if" / "of" right before the amount: "For 2000 rupees a
    month." was a caller's "Forty thousand rupees a month."; "I work for 20,000" is not this."""
    return q.start == 1 and toks[0] in _CUT_NUMBER_LEADS


def lost_scale(toks: list[str], q: Qty) -> bool:
    """A bare number followed by a word that stands for a lost "lakh" ("6. like a year")."""
    k = skip(toks, q.end, {","}, 1)
    return q.scale == 1 and k < len(toks) and toks[k] in _LOST_LAKH
