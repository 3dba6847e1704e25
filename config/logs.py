"""Log lines an operator can search and alert on: call context on every line, JSON on demand, no secrets.

- Call context: the pipeline binds the call (`bind_call`) and the turn (`bind_turn`)
  in context variables, which asyncio copies into every task the call starts and
  asgiref into every database thread, so each line logged while a call is handled
  carries `call_id`, `bot` and `turn` without passing them around.
- `LOG_FORMAT=json`: one JSON object per line with `ts`, `level`, `logger`,
  `event` (a stable name such as `call.ended`, given with `extra={"event": ...}`,
  else the logging function's module and name), `message`, the call fields and
  the traceback, if any.
- Privacy: what the caller said (transcripts) is logged only at DEBUG, audio never.
- Secrets: every formatter redacts configured secrets (any setting whose name
  ends in KEY, TOKEN, SECRET or PASSWORD, and the passwords inside DATABASE_URL
  and REDIS_URL), call tokens in URLs (`token=...`) and bearer credentials, in
  the message and in tracebacks alike.
"""
from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

CALL_FIELDS = ("call_id", "bot", "channel", "turn")

_call: ContextVar[dict[str, Any] | None] = ContextVar("voicebot_call", default=None)


def bind_call(call_id: str, bot: str, channel: str = "web") -> None:
    """Every line logged from now on in this task (and the tasks and threads it starts) is about this call."""
    _call.set({"call_id": call_id, "bot": bot, "channel": channel, "turn": 0})


def bind_turn(turn: int) -> None:
    current = _call.get()
    if current is not None:
        _call.set({**current, "turn": turn})


def current_call() -> dict[str, Any] | None:
    return _call.get()


class CallContextFilter(logging.Filter):
    """Copies the bound call's fields onto each record (fields given with `extra=` win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _call.get()
        if context:
            for key, value in context.items():
                if not hasattr(record, key):
                    setattr(record, key, value)
        return True


# ---------------------------------------------------------------- redaction

_SECRET_SETTING = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)$")
_URL_SETTINGS = ("DATABASE_URL", "REDIS_URL")
_PATTERNS = (
    (re.compile(r"(token=)[^&\s\"'<>]+", re.IGNORECASE), r"\1***"),
    (re.compile(r"(bearer\s+)[A-Za-z0-9._~+/:=-]+", re.IGNORECASE), r"\1***"),
)
_MIN_SECRET_LEN = 6  # shorter values would redact ordinary words


def configured_secrets() -> list[str]:
    """The secret values in this process's settings, longest first."""
    from django.conf import settings

    found = set()
    for name in dir(settings):
        if name.isupper() and _SECRET_SETTING.search(name):
            value = getattr(settings, name, "")
            if isinstance(value, str) and len(value) >= _MIN_SECRET_LEN:
                found.add(value)
    for name in _URL_SETTINGS:
        url = getattr(settings, name, "") or ""
        try:
            password = urlsplit(url).password if url else None
        except ValueError:
            password = None
        if password and len(password) >= _MIN_SECRET_LEN:
            found.add(password)
    return sorted(found, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """A plain formatter that adds the call's id and turn and redacts secrets."""

    _secrets: list[str] | None = None

    def secrets(self) -> list[str]:
        if self._secrets is None:
            try:
                self._secrets = configured_secrets()
            except Exception:  # settings not configured yet: patterns still apply
                return []
        return self._secrets

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        call_id = getattr(record, "call_id", None)
        if call_id:
            text = f"[call {call_id} turn {getattr(record, 'turn', '-')}] {text}"
        return redact(text, self.secrets())


def default_event(record: logging.LogRecord) -> str:
    return f"{record.module}.{record.funcName}"


class JsonFormatter(RedactingFormatter):
    """One JSON object per line (see the module docstring for the fields)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": getattr(record, "event", None) or default_event(record),
            "message": record.getMessage(),
        }
        for key in CALL_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                data[key] = value
        for key in ("outcome", "reason", "provider", "duration_s"):
            value = getattr(record, key, None)
            if value is not None:
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exc"] = record.exc_text
        secrets = self.secrets()
        return json.dumps({k: redact(v, secrets) if isinstance(v, str) else v for k, v in data.items()},
                          ensure_ascii=False, default=str)


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """The LOGGING setting: one console handler, plain or JSON, call context and redaction on both."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"call": {"()": "config.logs.CallContextFilter"}},
        "formatters": {
            "plain": {"()": "config.logs.RedactingFormatter", "format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "json": {"()": "config.logs.JsonFormatter"},
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["call"]}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "daphne": {"level": "WARNING"},
            # One INFO line per HTTP request (every webhook attempt, every vendor call): results
            # that matter are logged by our own code (calls.delivery.queue, calls.providers).
            "httpx": {"level": "WARNING"},
            # Django's own console handler (DEBUG only) would print a second, unformatted copy.
            "django": {"handlers": [], "level": "INFO", "propagate": True},
        },
    }
