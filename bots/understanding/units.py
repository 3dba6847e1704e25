"""Units: the words that name money and time spans, and how a question's unit is read.

The number grammar, the money reader, the duration reader and the words the bot says
back all need to know that "rs" is a currency and "mahine" is months; this module is
that one vocabulary, so a new currency or time word is added in one place.
"""
from __future__ import annotations

# Currency words as callers say them (and as tokenise() writes ₹, $, £, €).
CURRENCY = {"usd", "inr", "rs", "rupees", "rupee", "dollars", "dollar", "bucks", "rupaye",
            "rupaiye", "rupay", "rupiya", "rupya", "eur", "euros", "euro", "gbp", "pounds",
            "rupes", "ruppees"}

# A question's unit that is money (rounded to whole units when said back) ...
MONEY_UNITS = {"rupees", "rupee", "inr", "rs", "dollars", "dollar", "usd", "euros", "pounds"}
# ... and the money units said in lakh and crore.
INDIAN_UNITS = {"rupees", "rupee", "inr", "rs"}

# Time-span words and their length in days. A month is four weeks / thirty days when
# people talk about start dates ("six weeks" ~ one and a half months); a year is
# twelve months.
DAYS = {"day": 1.0, "days": 1.0, "din": 1.0, "week": 7.5, "weeks": 7.5, "hafta": 7.5,
        "hafte": 7.5, "fortnight": 15.0, "fortnights": 15.0, "month": 30.0, "months": 30.0,
        "mahina": 30.0, "mahine": 30.0, "mahino": 30.0, "year": 360.0, "years": 360.0,
        "saal": 360.0}


def unit_kind(unit: str) -> str:
    """How amounts in `unit` are read and said: "duration" (months, weeks, saal...),
    "indian" (rupees: lakh and crore), "other" (dollars, kg...), or "" for no unit."""
    key = (unit or "").lower().strip()
    if key in DAYS:
        return "duration"
    if key in INDIAN_UNITS:
        return "indian"
    return "other" if key else ""
