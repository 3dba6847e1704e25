"""Strict environment helpers: a malformed setting fails loudly at start-up.

Every setting the product reads goes through these, so `.env.example` and
docs/settings.md can list them all and a typo never silently becomes a default.
"""
from __future__ import annotations

import base64
import binascii
import os

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ImproperSetting(RuntimeError):
    """An environment variable is set but cannot be used."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperSetting(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ImproperSetting(f"{name}={raw!r} is not an integer") from exc
    if minimum is not None and value < minimum:
        raise ImproperSetting(f"{name}={value} is below the minimum {minimum}")
    return value


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ImproperSetting(f"{name}={raw!r} is not a number") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: set[str]) -> str:
    value = os.environ.get(name, default).strip().lower() or default
    if value not in choices:
        raise ImproperSetting(f"{name}={value!r} must be one of {sorted(choices)}")
    return value


def env_seconds_list(name: str, default: list[int]) -> list[int]:
    """Comma-separated whole seconds (0 or more), at least one: a retry schedule."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        values = [int(item) for item in raw.split(",") if item.strip()]
    except ValueError as exc:
        raise ImproperSetting(f"{name}={raw!r} is not a comma-separated list of whole seconds") from exc
    if not values or min(values) < 0:
        raise ImproperSetting(f"{name}={raw!r} needs at least one delay, none negative")
    return values


def valid_webhook_secret(secret: str) -> bool:
    """A Standard Webhooks signing secret: `whsec_` + base64 of 24 to 64 random bytes."""
    if not secret.startswith("whsec_"):
        return False
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        return False
    return 24 <= len(key) <= 64
