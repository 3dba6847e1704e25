"""Comparisons: "more than that", "less than 30k", "not even 20", "at least a lakh".

To a threshold question a caller often answers with a direction rather than (or
besides) an amount. This module reads that direction, negation applied ("not more
than"), into `Reading.relation`; the dialogue decides what it means against the
threshold. Its comparative words are also what keeps "no more than that" from being
read as the answer "no" (see `polarity`).
"""
from __future__ import annotations

from typing import Literal

from bots.understanding.numbers import is_num_start

_ABOVE = {"more", "over", "above", "higher", "greater", "bigger", "exceed", "exceeds",
          "exceeding", "beyond", "plus", "upwards", "zyada", "jyada", "zada", "jada", "adhik",
          "upar", "excess", "minimum", "larger", "much"}
_BELOW = {"less", "under", "below", "lower", "fewer", "smaller", "beneath", "kam", "neeche",
          "lesser", "max", "maximum", "short"}
_TIME_ABOVE = {"later", "longer", "after", "beyond"}
_TIME_BELOW = {"sooner", "earlier", "before", "within", "quicker", "faster"}
COMPARATIVE_WORDS = (_ABOVE | _BELOW | _TIME_ABOVE | _TIME_BELOW) - {"much", "short", "within", "before", "after"}
_INTENSIFIERS = {"much", "way", "a", "bit", "little", "lot", "any", "far", "slightly", "even",
                 "somewhat", "quite"}


def read_relation(toks: list[str], duration: bool) -> Literal["above", "below"] | None:
    """Direction of a comparative in the utterance, negation applied; None if absent or mixed."""
    found: set[str] = set()
    n, i = len(toks), 0
    while i < n:
        t = toks[i]
        two = toks[i + 1] if i + 1 < n else ""
        if t == "more" and two == "or" and i + 2 < n and toks[i + 2] == "less":
            i += 3
            continue
        if t == "not" and two == "even":
            found.add("below")
            i += 2
            continue
        if t == "at" and two in ("least", "most"):
            found.add("above" if two == "least" else "below")
            i += 2
            continue
        if t in ("up", "upto") and (t == "upto" or two == "to"):
            found.add("below")
            i += 1 if t == "upto" else 2
            continue
        direction = None
        if t in _ABOVE and t != "much" or (duration and t in _TIME_ABOVE):
            direction = "above"
        elif t in _BELOW and t != "short" or (t == "short" and two == "of") or (duration and t in _TIME_BELOW):
            direction = "below"
        if t == "over" and two in ("the", "phone"):
            direction = None
        if t in ("after", "before", "within") and not (two in ("that", "this", "then", "those") or (
                i + 1 < n and is_num_start(toks, i + 1))):
            direction = None  # "after Diwali" is a date, not a comparison
        if direction:
            k = i - 1
            while k >= 0 and toks[k] in _INTENSIFIERS:
                k -= 1
            negated = (k >= 0 and toks[k] in ("not", "no", "never")) or two in ("nahi", "nahin")
            if negated:
                direction = "below" if direction == "above" else "above"
            found.add(direction)
        i += 1
    return found.pop() if len(found) == 1 else None  # type: ignore[return-value]
