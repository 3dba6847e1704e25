"""Structured logs: JSON lines, call context across tasks and threads, no secrets."""
from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest
from asgiref.sync import sync_to_async

from config import logs

log = logging.getLogger("tests.ops.logs")


@pytest.fixture
def captured():
    """Lines the root logger writes through the JSON formatter and the call filter, as in production."""
    import config.asgi  # noqa: F401  (its django.setup() reconfigures logging: do it before adding our handler)

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.CallContextFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_logging_setting_uses_the_json_formatter_when_asked():
    config = logs.logging_config("json", "INFO")
    assert config["handlers"]["console"]["formatter"] == "json"
    assert config["formatters"]["json"]["()"] == "config.logs.JsonFormatter"
    assert config["handlers"]["console"]["filters"] == ["call"]


def test_one_json_object_per_line_with_event(captured):
    log.info("plain line", extra={"event": "test.plain"})
    log.warning("multi\nline message")
    lines = [line for line in captured() if line["logger"] == log.name]
    assert len(lines) == 2
    assert lines[0]["event"] == "test.plain" and lines[0]["level"] == "INFO" and lines[0]["logger"] == "tests.ops.logs"
    assert lines[1]["message"] == "multi\nline message"
    assert lines[1]["event"] == "test_logs.test_one_json_object_per_line_with_event"  # module.function by default
    assert "call_id" not in lines[0]  # not about a call


async def test_call_context_reaches_child_tasks_and_threads(captured):
    async def handle_call() -> None:
        logs.bind_call("c-123", "quickrupee-loan", "phone")
        log.info("started", extra={"event": "call.started"})

        async def turn_worker() -> None:
            logs.bind_turn(2)
            log.info("turn", extra={"event": "turn.handled"})
            await sync_to_async(lambda: log.info("stored", extra={"event": "db.write"}))()
            await asyncio.to_thread(log.info, "in a worker thread")

        await asyncio.create_task(turn_worker())

    await asyncio.create_task(handle_call())
    log.info("after the call")
    started, turn, stored, threaded, after = [line for line in captured() if line["logger"] == log.name]
    assert started["call_id"] == "c-123" and started["bot"] == "quickrupee-loan" and started["turn"] == 0
    assert started["channel"] == "phone"
    for line in (turn, stored, threaded):
        assert (line["call_id"], line["bot"], line["turn"]) == ("c-123", "quickrupee-loan", 2)
        assert line["event"]
    assert "call_id" not in after


def test_exceptions_are_one_line_with_the_traceback(captured):
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("it failed", extra={"event": "test.failed"})
    (line,) = [line for line in captured() if line["logger"] == log.name]
    assert "ValueError: boom" in line["exc"] and line["event"] == "test.failed"


def test_secrets_never_reach_the_log(captured, settings):
    settings.OPENAI_API_KEY = "sk-live-abcdef123456"
    settings.METRICS_TOKEN = "scrape-token-987654"
    settings.SECRET_KEY = "django-secret-key-for-this-test"
    settings.DATABASE_URL = "postgres://voicebot:db-password-1234@db.internal:5432/voicebot"
    log.error("request failed with key sk-live-abcdef123456 and Authorization: Bearer scrape-token-987654")
    log.warning("socket /ws/calls/abc/?token=eyJjYWxsIjoiYWJjIn0:1tX:sig&x=1 refused")
    log.info("connect postgres://voicebot:db-password-1234@db.internal failed, secret %s", settings.SECRET_KEY)
    try:
        raise RuntimeError("vendor echoed sk-live-abcdef123456")
    except RuntimeError:
        log.exception("with a traceback")
    text = "\n".join(json.dumps(line) for line in captured())
    for secret in ("sk-live-abcdef123456", "scrape-token-987654", "django-secret-key-for-this-test",
                   "db-password-1234", "eyJjYWxsIjoiYWJjIn0"):
        assert secret not in text
    assert text.count("***") >= 6 and "x=1" in text


def test_plain_format_redacts_and_names_the_call(settings):
    settings.ELEVENLABS_API_KEY = "el-key-0123456789"
    formatter = logs.RedactingFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key el-key-0123456789", None, None)
    record.call_id, record.turn = "c-9", 3
    assert formatter.format(record) == "[call c-9 turn 3] INFO key ***"


@pytest.mark.speech  # the bot speaks its lines through Piper
@pytest.mark.django_db(transaction=True)
async def test_a_whole_call_logs_its_context_and_keeps_the_callers_words_at_debug(captured, short_bot):
    from channels.db import database_sync_to_async
    from django.db import connections

    from devtools.callclient import CallClient

    said = ["yes we own it outright", "yes pretty soon indeed"]
    client = await CallClient.start("short", mode="push_to_talk")
    for text in said:
        await client.say_text(text)
    ended = await client.until("call.ended", timeout=60)
    assert ended["outcome"] == "qualified"
    await client.drain()
    await database_sync_to_async(connections.close_all)()
    lines = [line for line in captured() if line.get("call_id") == client.call_id]
    events = [line["event"] for line in lines]
    assert "call.started" in events and "call.ended" in events
    for line in lines:
        assert line["bot"] == "short" and isinstance(line["turn"], int) and line["event"]
    transcripts = [line for line in lines if line["event"] == "turn.transcript"]
    assert [line["turn"] for line in transcripts] == [1, 2] and all(t["level"] == "DEBUG" for t in transcripts)
    assert any(said[0] in line["message"] for line in transcripts)  # DEBUG keeps them ...
    above_debug = "\n".join(json.dumps(line) for line in captured() if line["level"] != "DEBUG")
    for text in said:  # ... and nothing above DEBUG does
        assert text not in above_debug
