"""A recorded phone call (Twilio Media Streams through the phone-line simulator) whose
caller presses 2 at the consent line: nothing after the press is in the file."""
from __future__ import annotations

import time

import pytest
from channels.db import database_sync_to_async

from calls.models import Call
from tests.calls.test_recorded_calls import recording_bots, since_start, stored_recording  # noqa: F401  (fixture)
from devtools.phoneline import twilio_inbound

pytestmark = [pytest.mark.speech, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("call_bots")]


async def test_no_to_consent_on_a_phone_line_leaves_no_audio_after_it(twilio_settings):
    line = await twilio_inbound("quickrupee-loan", caller="+919876543210")
    await line.heard_line()  # greeting and consent line
    pressed = time.time()
    await line.press("2")
    await line.heard_line()  # "Understood, this call is not being recorded." and the first question
    await line.say("yes I am")
    await line.heard_line()
    await line.say("about forty thousand a month")
    await line.heard_line()
    await line.hang_up()
    await line.closed()
    call = await database_sync_to_async(Call.objects.get)(provider_call_id=line.call_sid)
    call, got = await stored_recording(str(call.pk))
    assert call.recording_consent is False
    stop = since_start(got, pressed)
    assert got.duration < stop + 0.5  # the file ends at the press: the rest of the call is not in it
    assert (call.ended_at - call.started_at).total_seconds() > got.duration + 3
    assert got.rms("bot", 0.2, stop - 0.5) > 0.01  # what the caller was told is in it
    await line.close()
