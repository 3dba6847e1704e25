"""Numbers: quantities in spoken and written form, as floats.

Callers say "one lakh twenty-five thousand", "40k", "pachas hazaar", "half a
million", "two and a half", "thirty to forty thousand"; a recogniser writes some of
them as digits and some as words. Money and durations both start from the
quantities found here, so the number grammar (English words, Hindi numbers before a
scale, hundred / thousand / lakh / crore / million scales, "a", "half a", "and a
half", "point five", ranges at their midpoint) lives in one place and knows nothing
of what the number measures.
"""
from __future__ import annotations

from typing import NamedTuple

from bots.understanding.tokens import tokenise
from bots.understanding.units import CURRENCY

SMALL = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
# Hindi number words, read only right before a scale word ("pachas hazaar",
# "do lakh") because several are also English words ("do", "das").
_HINDI = {
    "ek": 1, "do": 2, "teen": 3, "char": 4, "chaar": 4, "paanch": 5, "panch": 5, "chhe": 6,
    "saat": 7, "aath": 8, "nau": 9, "das": 10, "bees": 20, "pachees": 25, "pachchis": 25,
    "tees": 30, "chalis": 40, "chaalis": 40, "pachas": 50, "pachaas": 50, "saath": 60,
    "sattar": 70, "assi": 80, "nabbe": 90, "dedh": 1.5, "derh": 1.5, "dhai": 2.5,
    "dhaai": 2.5, "sava": 1.25,
}
_VAGUE = {"couple": 2, "few": 3, "several": 4, "dozen": 12}
_HUNDRED = {"hundred", "sau"}
SCALES = {
    "thousand": 1e3, "thousands": 1e3, "k": 1e3, "grand": 1e3, "thou": 1e3,
    "hazaar": 1e3, "hazar": 1e3, "hajar": 1e3, "hazzar": 1e3, "hazaaar": 1e3,
    "lakh": 1e5, "lakhs": 1e5, "lac": 1e5, "lacs": 1e5, "lack": 1e5, "lacks": 1e5,
    "lak": 1e5, "laakh": 1e5,
    "crore": 1e7, "crores": 1e7, "cr": 1e7, "karod": 1e7, "karor": 1e7,
    "million": 1e6, "millions": 1e6, "mil": 1e6, "mn": 1e6,
    "billion": 1e9, "billions": 1e9, "bn": 1e9,
}
_DIGIT_SCALES = {"l": 1e5, "m": 1e6, "b": 1e9}  # only right after digits: "5L", "2M"
_RANGE_JOIN = {"to", "or", "till", "until", "and"}


class Qty(NamedTuple):
    """A quantity found in a token list: toks[start:end] say `value`."""

    start: int
    end: int  # exclusive
    value: float
    scale: float  # largest scale word used (1 if none)


def is_num_start(toks: list[str], i: int) -> bool:
    """Does a number (digits or an English number word) start at toks[i]?"""
    t = toks[i]
    return t[0].isdigit() or t in SMALL


def _fits(current: float, v: float) -> bool:
    """May word-number `v` be added to `current` ("twenty" + "five", "hundred" + "ten")?"""
    if current != int(current) or v != int(v):
        return False
    c = int(current)
    if c % 100 == 0:
        return v < 100
    return c % 100 >= 20 and c % 10 == 0 and v < 10


def _scale_at(toks: list[str], j: int, after_digit: bool) -> float:
    t = toks[j]
    s = SCALES.get(t, 0.0)
    if not s and after_digit:
        s = _DIGIT_SCALES.get(t, 0.0)
    return s


def _parse_at(toks: list[str], i: int) -> Qty | None:
    """Read one quantity starting exactly at token i, or None."""
    n = len(toks)
    t = toks[i]
    nxt = toks[i + 1] if i + 1 < n else ""
    # "half a lakh", "half a million"
    if t == "half" and nxt in ("a", "an") and i + 2 < n and toks[i + 2] in SCALES:
        s = SCALES[toks[i + 2]]
        return Qty(i, i + 3, 0.5 * s, s)
    total, current, last_scale, top_scale = 0.0, 0.0, float("inf"), 1.0
    have, prev = False, ""  # prev: "num" | "hundred" | "scale"
    j = i
    if t in ("a", "an"):
        if nxt in SCALES or nxt in _HUNDRED:
            current, have, prev, j = 1.0, True, "num", i + 1
        elif nxt in _VAGUE:
            current, have, prev, j = float(_VAGUE[nxt]), True, "num", i + 2
        else:
            return None
    elif t in _VAGUE:
        current, have, prev, j = float(_VAGUE[t]), True, "num", i + 1
    if prev == "num" and j < n and toks[j] == "of" and j + 1 < n and (
        toks[j + 1] in SCALES or toks[j + 1] in _HUNDRED
    ):
        j += 1  # "a couple of lakh"
    while j < n:
        t = toks[j]
        if t[0].isdigit():
            if have and (current != 0 or prev != "scale"):
                break
            current, have, prev = float(t), True, "digit"
            j += 1
        elif t in SMALL or (t in _HINDI and j + 1 < n and (toks[j + 1] in SCALES or toks[j + 1] in _HUNDRED)):
            v = float(SMALL.get(t, _HINDI.get(t, 0)))
            if have and current != 0:
                if prev in ("num", "hundred") and _fits(current, v):
                    current += v
                else:
                    break
            else:
                current = v
            have, prev = True, "num"
            j += 1
        elif t in _HUNDRED:
            if not have or (current == 0 and prev == "scale"):
                break
            current = (current or 1.0) * 100
            prev = "hundred"
            j += 1
        elif have and (s := _scale_at(toks, j, prev == "digit")):
            if s >= last_scale or current == 0:
                break
            total += current * s
            current, last_scale, prev = 0.0, s, "scale"
            top_scale = max(top_scale, s)
            j += 1
        elif t == "and" and have:
            if j + 2 < n and toks[j + 1] == "a" and toks[j + 2] == "half":
                if prev == "scale":
                    total += 0.5 * last_scale
                else:
                    current += 0.5
                j += 3
                continue
            if prev == "hundred" and j + 1 < n and toks[j + 1] in SMALL and SMALL[toks[j + 1]] < 100:
                j += 1
                continue
            if prev == "scale" and j + 1 < n and is_num_start(toks, j + 1):
                sub = _parse_at(toks, j + 1)
                if sub is not None and sub.value < last_scale:
                    total += sub.value
                    j = sub.end
            break
        elif t == "point" and have and j + 1 < n and toks[j + 1] in SMALL and SMALL[toks[j + 1]] < 10:
            k, frac, div = j + 1, 0.0, 10.0
            while k < n and toks[k] in SMALL and SMALL[toks[k]] < 10:
                frac += SMALL[toks[k]] / div
                div *= 10
                k += 1
            current += frac
            prev, j = "num", k
        else:
            break
    if not have:
        return None
    return Qty(i, j, total + current, top_scale)


def scan(toks: list[str]) -> list[Qty]:
    """All quantities in order, with ranges ("30 to 40 thousand") merged at their midpoint."""
    found: list[Qty] = []
    i, n = 0, len(toks)
    while i < n:
        q = _parse_at(toks, i)
        if q is None or q.end == i:
            i += 1
            continue
        found.append(q)
        i = q.end
    merged: list[Qty] = []
    for q in found:
        if merged:
            p = merged[-1]
            gap = [t for t in toks[p.end:q.start] if t not in CURRENCY]
            k = p.start - 1
            while k >= 0 and toks[k] in CURRENCY:
                k -= 1
            ok_gap = not gap or gap == [","] or (len(gap) == 1 and gap[0] in _RANGE_JOIN and (
                gap[0] != "and" or (k >= 0 and toks[k] == "between")))
            if ok_gap:
                low = p.value * q.scale if p.scale == 1 and q.scale > 1 else p.value
                if 0 < low <= q.value <= 10 * low:
                    merged[-1] = Qty(p.start, q.end, (low + q.value) / 2, max(p.scale, q.scale))
                    continue
        merged.append(q)
    return merged


def parse_number(text: str) -> float | None:
    """The first quantity in `text` ("40k", "1.5 lakh", "twenty five thousand five hundred").

    A spoken range ("30 to 40 thousand") counts as one quantity, its midpoint.
    """
    found = scan(tokenise(text))
    return found[0].value if found else None


def misheard_tens(toks: list[str]) -> list[str]:
    """Whisper writes a spoken "forty thousand" as "for the thousand" often enough to
    matter; before a scale word in an amount answer it can only be forty."""
    out: list[str] = []
    i = 0
    while i < len(toks):
        if toks[i] == "for" and toks[i + 1 : i + 2] == ["the"] and i + 2 < len(toks) and toks[i + 2] in SCALES:
            out.append("forty")
            i += 2
            continue
        out.append(toks[i])
        i += 1
    return out
