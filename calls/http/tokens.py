"""Call tokens: signed by the server, bound to one call, short-lived.

The token is the only thing that lets a client join a call or read it back.
"""
from __future__ import annotations

from django.conf import settings
from django.core import signing

_SALT = "calls.call-token.v1"


def make_token(call_id: str) -> str:
    return signing.dumps({"call": str(call_id)}, salt=_SALT, compress=False)


def token_matches(token: str, call_id: str) -> bool:
    """True when `token` was made for `call_id` and has not expired."""
    return token_call_id(token) == str(call_id)


def token_call_id(token: str) -> str | None:
    """The call a valid, unexpired token was made for; None for anything else.

    Phone streams carry only the token (a TwiML <Parameter>), so the call is read from it.
    """
    if not token:
        return None
    try:
        payload = signing.loads(token, salt=_SALT, max_age=settings.CALL_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    call = payload.get("call") if isinstance(payload, dict) else None
    return call if isinstance(call, str) else None
