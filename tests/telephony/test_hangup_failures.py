"""A Twilio call whose REST hang-up fails is still closed and torn down (issue 31 C7).

The bot ends the call, its goodbye plays, and Twilio is told to hang up through its
REST API (the local fake, devtools/faketwilio.py). When that request fails, with an
error Twilio answers or with a page that is not Twilio's at all (a proxy in the
way), the stream is still closed (Twilio then ends the call itself), the call
leaves the worker's registry, `voicebot_calls_active` goes back down and its
timers stop. The stream's pipeline runs on a fake clock, so no timer of the call
may be left waiting on it.
"""
from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.db import connections
from prometheus_client import REGISTRY

from calls.models import Call
from calls.transport.phone.streams import PhoneStreamConsumer
from calls.worker.registry import live_calls
from devtools.phoneline import twilio_inbound
from tests.clock import FakeClock

pytestmark = [pytest.mark.speech, pytest.mark.django_db(transaction=True)]

TEARDOWN_S = 30  # a bound, never a pause


@pytest.fixture
async def clock(monkeypatch, settings, short_bot, twilio_settings):
    settings.PUBLIC_BASE_URL = "https://bot.example.com"
    settings.SILENCE_TIMEOUT_S = 900  # armed after each line (a timer to stop), never fires here
    fake = FakeClock()
    monkeypatch.setattr(PhoneStreamConsumer, "clock", fake)
    yield fake
    await database_sync_to_async(connections.close_all)()


def calls_active() -> float:
    return REGISTRY.get_sample_value("voicebot_calls_active", {"bot": "short", "channel": "phone"}) or 0.0


async def left_registry(call_id: str, timeout: float) -> bool:
    """Wait (at most `timeout` s) until `call_id` is no longer live on this worker."""
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()
    unwatch = live_calls.watch(lambda: loop.call_soon_threadsafe(changed.set))
    try:
        async with asyncio.timeout(timeout):
            while call_id in live_calls.call_ids():
                changed.clear()
                await changed.wait()
        return True
    except TimeoutError:
        return False
    finally:
        unwatch()


@pytest.mark.parametrize("failure", ["an error from Twilio", "a page that is not JSON"])
async def test_a_failed_rest_hang_up_still_closes_the_stream_and_tears_the_call_down(clock, twilio_settings, failure):
    before = calls_active()
    line = await twilio_inbound("short")
    await line.heard_line()
    call = await database_sync_to_async(Call.objects.get)(provider_call_id=line.call_sid)
    call_id = str(call.pk)
    assert call_id in live_calls.call_ids() and calls_active() == before + 1
    assert clock.sleeping >= 2  # the call's time limit and the silence watch
    if failure == "an error from Twilio":
        twilio_settings.fail_next(500)
    else:
        twilio_settings.garble_next()
    await line.press("2")  # "no": the short bot rejects, says goodbye and hangs up
    assert await line.closed(timeout=TEARDOWN_S) == 1000  # the stream is closed all the same
    assert len(twilio_settings.updates_of(line.call_sid)) == 1  # the hang-up was tried, and failed
    assert await left_registry(call_id, TEARDOWN_S), "the call stayed in the worker's registry"
    assert calls_active() == before  # the gauge went back down
    assert clock.sleeping == 0  # no timer of the call is left
    await database_sync_to_async(call.refresh_from_db)()
    assert (call.status, call.outcome) == ("ended", "rejected")
    await line.close()
