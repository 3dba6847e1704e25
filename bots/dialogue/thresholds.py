"""Does an amount qualify? The comparisons of an amount question against its threshold,
including spoken bounds ("more than that") and the teen/-ty mishearing rule.
"""
from __future__ import annotations

def meets(value: float, threshold: float, comparison: str) -> bool:
    return {
        "gt": value > threshold,
        "gte": value >= threshold,
        "lt": value < threshold,
        "lte": value <= threshold,
    }[comparison]


def teen_for_ty(amount: float, threshold: float, comparison: str) -> bool:
    """Would this amount reject the caller where its "-ty" twin qualifies them? Speech
    recognition hears "forty thousand" as "14,000" (and fifty as fifteen) often enough
    that such a rejection is said back before it ends the call."""
    scale = 1.0
    while scale <= amount:
        n = amount / scale
        if n == int(n) and 13 <= n <= 19:
            twin = (n - 10) * 10 * scale
            return not meets(amount, threshold, comparison) and meets(twin, threshold, comparison)
        scale *= 10
    return False


def ty_for_teen(amount: float, threshold: float, comparison: str) -> bool:
    """Would this amount qualify the caller where its "-teen" twin rejects them ("fourteen
    thousand" heard as "40,000", held-out set 3)? The other direction of `teen_for_ty`."""
    scale = 1.0
    while scale <= amount:
        n = amount / scale
        if n == int(n) and n in (30, 40, 50, 60, 70, 80, 90):
            twin = (n // 10 + 10) * scale
            return meets(amount, threshold, comparison) and not meets(twin, threshold, comparison)
        scale *= 10
    return False


def relation_meets(relation: str, comparison: str) -> bool:
    """'More than that' satisfies a more-than question, 'less than that' a less-than one."""
    return (relation == "above") == (comparison in ("gt", "gte"))


def bound_meets(relation: str, bound: float, threshold: float, comparison: str) -> bool | None:
    """'More than X' / 'less than X' against a threshold: True or False when every
    amount in that range decides the same way, None when the range straddles it."""
    asks_above = comparison in ("gt", "gte")
    if relation == "above" and bound >= threshold:
        return asks_above
    if relation == "below" and bound <= threshold:
        return not asks_above
    return None


# Spoken-answer examples added to the recogniser's prompt for amount questions: Whisper
# writes what it was primed with, and unprimed it hears "one lakh" as "one luck".
# Currencies are written out, not as a sign: primed with "$15,000", phone audio (8 kHz
# µ-law) of "eight thousand dollars" came back as "$8,000,000" or "$15,000" (dollar
