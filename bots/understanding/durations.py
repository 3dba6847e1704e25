"""Durations: how soon or how long, for questions whose unit is a time span.

"Are you planning to start within the next three months?" is answered with "next
month", "a month or two", "in six weeks", "right away" or "2 saal": set phrases with
a length of their own, or a quantity followed by a time word. This module turns the
earliest span stated into the question's unit (months, weeks, days or years); the
lengths of the time words are in `units.DAYS`.
"""
from __future__ import annotations

from bots.understanding.evidence import Said, negated_at
from bots.understanding.numbers import SCALES, Qty
from bots.understanding.tokens import index_phrases, match_phrase, skip
from bots.understanding.units import CURRENCY, DAYS

_WHEN = [  # (phrase, days from now)
    ("right away", 0), ("straight away", 0), ("straightaway", 0), ("immediately", 0),
    ("asap", 0), ("as soon as possible", 0), ("right now", 0), ("now", 0), ("today", 0),
    ("tonight", 0), ("at once", 0), ("tomorrow", 1), ("this week", 7.5), ("next week", 7.5),
    ("this month", 15), ("end of the month", 15), ("end of this month", 15),
    ("next month", 30), ("next year", 360), ("turant", 0), ("abhi", 0),
    ("next few weeks", 22.5), ("next few months", 90), ("next couple of weeks", 15),
    ("next couple of months", 60), ("couple of weeks", 15), ("couple weeks", 15),
    ("couple of months", 60), ("couple months", 60), ("few weeks", 22.5), ("few months", 90),
    ("few days", 3), ("couple of days", 2), ("half a year", 180), ("half year", 180),
    ("six months time", 180), ("a year and a half", 540), ("year and a half", 540),
    ("a month and a half", 45), ("month and a half", 45), ("half a month", 15),
    ("a week or two", 11.25), ("a month or two", 45), ("a year or two", 540),
    ("a day or two", 1.5), ("a week or so", 7.5), ("a month or so", 30), ("a year or so", 360),
]
_WHEN_INDEX = index_phrases((phrase, float(days)) for phrase, days in _WHEN)


def read_duration(toks: list[str], qtys: list[Qty], unit: str) -> Said | None:
    """Earliest time span stated, in the question's unit (months, weeks, days or years);
    not `sure` when it is negated ("not right away")."""
    target = DAYS[unit]
    cands: list[tuple[int, int, float]] = []  # (priority, position, days)
    n = len(toks)
    taken: set[int] = set()
    for i, t in enumerate(toks):
        said = match_phrase(toks, i, _WHEN_INDEX) if i not in taken else None
        if said is not None:
            end, days = said
            cands.append((2, i, days))
            taken.update(range(i, end))
        elif t in ("a", "an") and i + 1 < n and toks[i + 1] in DAYS and i not in taken:
            days = DAYS[toks[i + 1]]
            if i + 4 < n and toks[i + 2:i + 5] == ["and", "a", "half"]:
                days *= 1.5
            cands.append((2, i, days))
    for q in qtys:
        if q.start in taken:
            continue
        j = skip(toks, q.end, {"more", "full", "whole", "odd", "of"}, 2)
        after = toks[j] if j < n else ""
        before = toks[q.start - 1] if q.start > 0 else ""
        if after in DAYS:
            days = q.value * DAYS[after]
            if j + 3 < n and toks[j + 1:j + 4] == ["and", "a", "half"]:
                days += 0.5 * DAYS[after]
            cands.append((2, q.start, days))
        elif after in SCALES or after in CURRENCY or before in CURRENCY or q.scale > 1:
            continue
        elif after not in ("percent", "people", "times", "oclock"):
            cands.append((1, q.start, q.value * target))
    if len(cands) > 1:  # a bare "now" beside another time is the recogniser's "no": "Now sometime next year."
        cands = [c for c in cands if not (c[2] == 0 and toks[c[1]] == "now" and (c[1] == 0 or toks[c[1] - 1] != "right"))]
    if not cands:
        return None
    cands.sort(key=lambda c: (-c[0], c[1]))
    _, start, days = cands[0]
    return Said(days / target, start, not negated_at(toks, start))
