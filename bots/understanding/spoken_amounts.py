"""Saying an amount back: (125000, "rupees") -> "one lakh twenty-five thousand rupees".

The bot confirms amounts it is unsure of ("Just to confirm, did you say ...?") and
gives example answers, in words a speech engine reads naturally: rupees in lakh and
crore, other units in thousand and million, halves as "and a half". The reverse of
`numbers`, kept apart from it because it is about speaking, not reading.
"""
from __future__ import annotations

from bots.understanding.units import MONEY_UNITS, unit_kind

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]
_TENS_WORDS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _below_thousand(n: int) -> str:
    parts = []
    if n >= 100:
        parts.append(f"{_ONES[n // 100]} hundred")
        n %= 100
    if n >= 20:
        parts.append(_TENS_WORDS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else ""))
    elif n or not parts:
        parts.append(_ONES[n])
    return " ".join(parts)


def _int_words(n: int, indian: bool) -> str:
    if n < 1000:
        return _below_thousand(n)
    scales = [(10**7, "crore"), (10**5, "lakh"), (1000, "thousand")] if indian else [
        (10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand")]
    parts = []
    for size, name in scales:
        if n >= size:
            parts.append(f"{_int_words(n // size, indian)} {name}")
            n %= size
    if n:
        parts.append(_below_thousand(n))
    return " ".join(parts)


def _singular(unit: str) -> str:
    return unit[:-1] if unit.endswith("s") and not unit.endswith("ss") else unit


def spoken_amount(value: float, unit: str = "") -> str:
    """Words for the bot to say: (125000, "rupees") -> "one lakh twenty-five thousand rupees".

    Rupee amounts use lakh/crore, others thousand/million; money is rounded
    to whole units; other units keep halves ("one and a half months") or two
    decimals ("one point two five months").
    """
    unit = unit.strip()
    sign = "minus " if value < 0 else ""
    value = abs(value)
    indian = unit_kind(unit) == "indian"
    if unit.lower() in MONEY_UNITS:
        value = float(round(value))
    whole = int(value)
    frac = round(value - whole, 2)
    if frac >= 0.995:
        whole, frac = whole + 1, 0.0
    if frac == 0:
        words = _int_words(whole, indian)
        noun = _singular(unit) if whole == 1 else unit
    elif frac == 0.5:
        if whole == 0:
            return f"{sign}half a {_singular(unit)}".strip() if unit else f"{sign}a half"
        words, noun = f"{_int_words(whole, indian)} and a half", unit
    else:
        decimals = " ".join(_ONES[int(d)] for d in f"{frac:.2f}"[2:].rstrip("0"))
        words, noun = f"{_int_words(whole, indian)} point {decimals}", unit
    return f"{sign}{words} {noun}".strip()
