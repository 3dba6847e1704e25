"""Standard Webhooks secrets and signatures, through the maintained `standardwebhooks`
package: no HMAC code of our own.

A secret is `whsec_` + base64 of 32 random bytes. While a secret is being rotated an
attempt carries one signature per secret, space-separated in `webhook-signature`, so
a receiver holding either one verifies it (the package's `verify` tries each).
"""
from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_BYTES = 32


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature_header(keys: Sequence[str], webhook_id: str, at: datetime, body: bytes) -> str:
    """`webhook-signature`: `v1,<base64>` for each key, space-separated."""
    return " ".join(Webhook(key).sign(webhook_id, at, body) for key in keys)


def masked(secret: str) -> str:
    """A secret as staff may see it after creation: its prefix and last 4 characters."""
    return f"whsec_…{secret[-4:]}" if secret else ""
