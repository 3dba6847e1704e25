"""Phone lines at the edge: closed unless configured, the same limits as web calls,
and no socket held without a `start`.

- Without TWILIO_AUTH_TOKEN every Twilio endpoint answers 404 and the stream refuses
  its handshake (Exotel likewise without EXOTEL_STREAM_KEY).
- The Voice webhook rejects with a busy tone (TwiML `<Reject reason="busy"/>`) a call
  that may not start: the worker drains, every line is taken, or the caller's number
  is over the call rate limit. A stream that reaches a full or draining worker, or an
  Exotel caller over the limit, hears "all lines are busy" and is hung up.
- A stream that sends no valid `start` within PHONE_START_TIMEOUT_S is closed 4408.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import caches

from calls.http.tokens import make_token
from calls.models import Call
from calls.persistence import lifecycle
from calls.worker.registry import live_calls
from devtools.faketwilio import AUTH_TOKEN
from devtools.phoneline import PhoneLine
from devtools.servers import asgi_application
from tests.telephony.conftest import EXOTEL_KEY
from tests.telephony.test_webhooks import FORM, VOICE, inbound_form, post_signed, stream_of



@pytest.fixture
def held_lines(settings) -> Iterator[list]:
    """A worker of MAX_CALLS_PER_WORKER=1 lines; a test takes the line by appending
    `live_calls.admit(...)`; every line taken is given back afterwards."""
    settings.MAX_CALLS_PER_WORKER = 1
    taken: list = []
    yield taken
    for line in taken:
        if line is not None:
            live_calls.release(line)


@pytest.fixture
def draining() -> Iterator[None]:
    live_calls.draining = True
    try:
        yield
    finally:
        live_calls.draining = False


def rejected_busy(response) -> bool:
    root = ElementTree.fromstring(response.content)
    reject = root.find("Reject")
    return response.status_code == 200 and reject is not None and reject.get("reason") == "busy" and root.find("Connect") is None


# ---------------------------------------------------------------------------- closed unless configured
@pytest.mark.django_db
def test_without_a_twilio_token_every_twilio_endpoint_answers_404(client, brief_bots, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    open_call = lifecycle.create_phone_call(brief_bots["quickrupee-loan"], caller_phone="+919876543210", provider_call_id="CA" + "7" * 32)
    assert client.post(VOICE, data=urlencode(inbound_form()), content_type=FORM).status_code == 404
    assert client.get(VOICE).status_code == 404
    status = {"CallSid": open_call.provider_call_id, "CallStatus": "completed"}
    assert client.post("/telephony/twilio/status/", data=urlencode(status), content_type=FORM).status_code == 404
    assert list(Call.objects.values_list("pk", "status")) == [(open_call.pk, "created")]  # nothing created, nothing ended


@pytest.mark.parametrize("path", ["/ws/telephony/twilio/", f"/ws/telephony/exotel/?bot=short&key={EXOTEL_KEY}"])
async def test_without_credentials_a_carrier_stream_refuses_the_handshake(settings, path):
    settings.TWILIO_AUTH_TOKEN = ""
    settings.EXOTEL_STREAM_KEY = ""
    comm = WebsocketCommunicator(asgi_application(), path)
    connected, _ = await comm.connect(timeout=10)
    assert not connected
    await comm.wait()


# ---------------------------------------------------------------------------- the Voice webhook's limits
@pytest.mark.django_db
def test_a_draining_worker_rejects_a_phone_call_busy(client, brief_bots, settings, draining):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    assert rejected_busy(post_signed(client, VOICE, inbound_form()))
    assert not Call.objects.exists()


@pytest.mark.django_db
def test_a_full_server_rejects_a_phone_call_busy(client, brief_bots, settings, held_lines):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    held_lines.append(live_calls.admit("a-web-call", 1))
    assert rejected_busy(post_signed(client, VOICE, inbound_form()))
    assert not Call.objects.exists()
    live_calls.release(held_lines.pop())
    stream_of(post_signed(client, VOICE, inbound_form()))  # a line is free again: connected
    assert Call.objects.count() == 1


@pytest.mark.django_db
def test_the_call_rate_limit_counts_each_caller_number(client, brief_bots, settings):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.CALL_RATE_LIMIT, settings.CALL_RATE_WINDOW = 2, 3600
    caches["default"].clear()
    for i in range(2):
        stream_of(post_signed(client, VOICE, inbound_form(sid=f"CA{i:032d}", caller="+919876543210")))
    assert rejected_busy(post_signed(client, VOICE, inbound_form(sid="CA" + "8" * 32, caller="+919876543210")))
    stream_of(post_signed(client, VOICE, inbound_form(sid="CA" + "9" * 32, caller="+14155550100")))  # another caller
    # Withheld numbers are counted together, per source.
    for i in range(2):
        stream_of(post_signed(client, VOICE, inbound_form(sid=f"CA{i:031d}a", caller="anonymous")))
    assert rejected_busy(post_signed(client, VOICE, inbound_form(sid="CA" + "b" * 32, caller="")))
    assert Call.objects.count() == 5


# ---------------------------------------------------------------------------- no start, no socket
@pytest.mark.parametrize("path", ["/ws/telephony/twilio/", f"/ws/telephony/exotel/?bot=short&key={EXOTEL_KEY}"])
async def test_a_stream_that_sends_no_start_is_closed_4408(settings, path):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.EXOTEL_STREAM_KEY = EXOTEL_KEY
    settings.PHONE_START_TIMEOUT_S = 0.2
    comm = WebsocketCommunicator(asgi_application(), path)
    assert (await comm.connect(timeout=10))[0]
    await comm.send_to(text_data=json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
    await comm.send_to(text_data=json.dumps({"event": "media", "media": {"payload": ""}}))  # not a start
    assert await comm.receive_output(timeout=10) == {"type": "websocket.close", "code": 4408}
    await comm.wait()


# ---------------------------------------------------------------------------- a stream that may not start
@database_sync_to_async
def phone_calls() -> list[tuple[str, str]]:
    return list(Call.objects.order_by("created_at").values_list("caller_phone", "status"))


async def hears_busy_and_is_hung_up(line: PhoneLine) -> None:
    await line.heard_line()  # the busy line played out (its mark came back)
    assert await line.closed() == 1000
    assert not line.violations and line.media() and line.marks_echoed == ["busy"]
    await line.close()


@pytest.mark.speech  # the busy line is spoken by the bots' voice
@pytest.mark.django_db(transaction=True)
async def test_an_exotel_caller_to_a_full_worker_hears_busy_and_no_call_is_made(phone_lines, held_lines):
    held_lines.append(live_calls.admit("a-web-call", 1))
    await hears_busy_and_is_hung_up(await PhoneLine.exotel("short", EXOTEL_KEY))
    assert await phone_calls() == [] and len(live_calls) == 1


@pytest.mark.speech
@pytest.mark.django_db(transaction=True)
async def test_an_exotel_caller_to_a_draining_worker_hears_busy(phone_lines, draining):
    await hears_busy_and_is_hung_up(await PhoneLine.exotel("short", EXOTEL_KEY))
    assert await phone_calls() == []


@pytest.mark.speech
@pytest.mark.django_db(transaction=True)
async def test_an_exotel_caller_over_the_rate_limit_hears_busy(phone_lines, settings):
    settings.CALL_RATE_LIMIT, settings.CALL_RATE_WINDOW = 1, 3600
    await database_sync_to_async(caches["default"].clear)()
    settings.PHONE_START_TIMEOUT_S = 0.2  # a started call outlives the deadline
    first = await PhoneLine.exotel("short", EXOTEL_KEY, caller="09812345678")
    await first.heard_line()  # the greeting: a call, past the start deadline
    again = await PhoneLine.exotel("short", EXOTEL_KEY, caller="098-1234-5678")  # the same number, written otherwise
    await hears_busy_and_is_hung_up(again)
    await first.hang_up()
    assert await first.closed() == 1000
    await first.close()
    assert await phone_calls() == [("09812345678", "ended")]


@pytest.mark.speech
@pytest.mark.django_db(transaction=True)
async def test_a_twilio_stream_that_reaches_a_full_worker_hears_busy_and_is_hung_up(phone_lines, short_bot, held_lines):
    """The webhook found a free line somewhere; the worker the stream reached is full."""
    call = await database_sync_to_async(lifecycle.create_phone_call)(
        short_bot, caller_phone="+14155550123", provider_call_id="CA" + "5" * 32
    )
    held_lines.append(live_calls.admit("a-web-call", 1))
    await hears_busy_and_is_hung_up(await PhoneLine.twilio(make_token(str(call.pk)), call_sid=call.provider_call_id))
    (hangup,) = phone_lines.updates_of(call.provider_call_id)  # through Twilio's REST API
    assert hangup.one("Status") == "completed"
    assert (await database_sync_to_async(Call.objects.get)(pk=call.pk)).status == "created"  # never claimed
