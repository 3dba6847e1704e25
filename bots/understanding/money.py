"""Money: which quantity in an answer is the amount asked about, per which period.

An answer to "Is your monthly salary more than twenty-five thousand rupees?" may hold
several numbers ("I'm 32 and I earn about 6 lakh a year, 2 kids"); this module picks
the one that is money, applies a self-correction ("thirty thousand... no,
thirty-two"), and converts the period the caller said (a year, a week, "CTC") to the
question's. Numbers come from `numbers`; this module only decides what they mean.
"""
from __future__ import annotations

from bots.understanding.evidence import (
    Said, cut_number, lost_period, lost_scale, negated_at, split_number, two_amounts,
)
from bots.understanding.numbers import Qty
from bots.understanding.units import CURRENCY

_MONEY_CUES = {"earn", "earning", "earnings", "make", "making", "salary", "income", "get",
               "getting", "paid", "pay", "take", "taking", "budget", "spend", "spending", "ctc",
               "package", "afford", "invest", "around", "about", "roughly", "approximately",
               "nearly", "almost", "drawing", "draw", "gross", "net", "home", "hand", "is",
               "of", "than", "like", "set", "aside", "saved", "earns", "makes", "gets", "be"}
_NOT_MONEY_AFTER = {"year", "years", "old", "month", "months", "week", "weeks", "day", "days",
                    "percent", "people", "kids", "children", "times", "hours", "hour", "members",
                    "employees", "oclock", "minutes", "km", "kilometers", "miles", "sq",
                    "square", "feet", "ft", "bhk", "bedroom", "bedrooms", "rooms", "floors",
                    "saal", "mahine", "mahina", "din", "hafte", "of"}
_AGE_BEFORE = {"age", "aged"}

# Period phrases for money, and how many of them make a month.
_PER_MONTH = {"month": 1.0, "year": 1 / 12, "week": 52 / 12, "day": 30.0, "hour": 40 * 52 / 12}
_PERIOD_WORDS = {
    "month": "month", "months": "month", "mahina": "month", "mahine": "month", "mensem": "month",
    "year": "year", "annum": "year", "saal": "year", "week": "week", "day": "day", "hour": "hour",
}
_PERIOD_ADVERBS = {"monthly": "month", "pm": "month", "yearly": "year", "annually": "year",
                   "annual": "year", "pa": "year", "weekly": "week", "daily": "day",
                   "hourly": "hour", "salana": "year"}
_PERIOD_LEADS = {"a", "an", "per", "every", "each", "one", "in"}
_YEAR_HINTS = {"ctc", "package"}  # Indian salary talk: CTC and "package" are annual


def _periods(toks: list[str]) -> list[tuple[int, str]]:
    out = []
    for k, t in enumerate(toks):
        if t in _PERIOD_ADVERBS:
            out.append((k, _PERIOD_ADVERBS[t]))
        elif t in _PERIOD_WORDS and k > 0 and (toks[k - 1] in _PERIOD_LEADS or toks[k - 1] == "the"
                                               and k > 1 and toks[k - 2] in ("per", "in")):
            out.append((k, _PERIOD_WORDS[t]))
    return out


def _convert_period(value: float, said: str, wanted: str) -> float:
    if not wanted or not said or said == wanted or wanted not in _PER_MONTH:
        return value
    return value * _PER_MONTH[said] / _PER_MONTH[wanted]


def _pick_money(toks: list[str], qtys: list[Qty]) -> Qty | None:
    """The quantity that answers a money question.

    Rule: drop quantities that are plainly something else (followed by a time
    or count noun such as "years", "people", "percent"); score the rest by
    evidence that they are money: a currency word or symbol next to them (+3),
    a scale word such as thousand/k/lakh (+2), a money verb or noun just
    before ("earn", "salary", "budget", "about") (+2); an unscaled bare number
    right after "I am" / "age" is an age (-3). Highest score wins, ties go to
    the larger value (amounts asked about dwarf incidental small numbers).
    """
    best, best_key = None, None
    for q in qtys:
        after = toks[q.end] if q.end < len(toks) else ""
        if after in _NOT_MONEY_AFTER:
            continue
        before = toks[max(0, q.start - 3):q.start]
        score = 0
        if after in CURRENCY or (q.start > 0 and toks[q.start - 1] in CURRENCY):
            score += 3
        if q.scale > 1:
            score += 2
        if any(b in _MONEY_CUES for b in before):
            score += 2
        if q.scale == 1 and score < 3 and (before[-2:] == ["i", "am"] or any(b in _AGE_BEFORE for b in before)):
            score -= 3
        key = (score, q.value)
        if best_key is None or key > best_key:
            best, best_key = q, key
    return best


_AMOUNT_CORRECTIONS = {"no", "sorry", "actually", "mean", "wait", "rather", "correction"}


def _corrected(toks: list[str], qtys: list[Qty]) -> list[Qty]:
    """After a self-correction ("thirty thousand... no, thirty-two") only later amounts count.

    A corrected figure said without its scale inherits the scale of the one it
    replaces when that makes them comparable ("thirty-two" -> 32,000).
    """
    if len(qtys) < 2:
        return qtys
    cut = [k for k, t in enumerate(toks) if t in _AMOUNT_CORRECTIONS and qtys[0].end <= k < qtys[-1].start]
    if not cut:
        return qtys
    before = [q for q in qtys if q.end <= cut[-1]]
    after = [q for q in qtys if q.start > cut[-1]]
    prev = before[-1]
    out = []
    for q in after:
        if q.scale == 1 and prev.scale > 1 and 0.5 <= q.value * prev.scale / prev.value <= 2:
            q = Qty(q.start, q.end, q.value * prev.scale, prev.scale)
        out.append(q)
    return out


def read_money(toks: list[str], qtys: list[Qty], period: str) -> Said | None:
    """The amount of money the answer states, per `period` ("month", "year" or "" for as said);
    not `sure` when it is negated or its scale word was lost (bots.understanding.evidence)."""
    kept = _corrected(toks, qtys)
    q = _pick_money(toks, kept)
    if q is None:
        return None
    periods = _periods(toks)
    said = ""
    if periods:
        # the period phrase nearest after the amount, else the nearest before it
        after = [p for p in periods if p[0] >= q.end]
        said = (after[0] if after else min(periods, key=lambda p: abs(p[0] - q.start)))[1]
    elif any(t in _YEAR_HINTS for t in toks):
        said = "year"
    sure = not (negated_at(toks, q.start) or lost_scale(toks, q) or lost_period(toks, q, period, said)
                or split_number(toks, qtys, q) or cut_number(toks, q) or two_amounts(kept))
    return Said(_convert_period(q.value, said, period), q.start, sure)
