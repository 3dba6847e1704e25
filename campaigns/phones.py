"""Phone numbers as the dialer stores and compares them: E.164, parsed by `phonenumbers`
(Google's libphonenumber rules per country), never by a regex, so "+91 98765-43210",
"098765 43210" with region IN and "+919876543210" are one lead and one do-not-call entry.
"""
from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat


class BadNumber(ValueError):
    """Not a phone number that can be dialled; the message says why, for people."""


def normalise(raw: str, region: str | None = None) -> str:
    """`raw` as E.164. A number without a leading + needs `region` (ISO 3166 alpha-2, e.g. IN).
    Raises BadNumber."""
    text = (raw or "").strip()
    if not text:
        raise BadNumber("no phone number")
    if len(text) > 40:
        raise BadNumber("the phone number is too long")
    try:
        number = phonenumbers.parse(text, (region or "").upper() or None)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            raise BadNumber(f"{text!r} has no country code (write it as +<country><number>)") from exc
        raise BadNumber(f"{text!r} is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise BadNumber(f"{text!r} is not a valid number for its country")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def is_do_not_call(phone: str) -> bool:
    from campaigns.models import DoNotCall

    return DoNotCall.objects.filter(phone=phone).exists()
