"""A campaign's call end to end: the dialer dials through the fake Twilio, the callee
answers, and the answered line is a real Twilio Media Stream from the phone-line simulator
(devtools/phoneline.py) carrying espeak-ng speech, so the bot (Piper, Whisper, Silero) runs
the call; the pipeline's decision and the REST hang-up settle the lead. A second lead
presses 9: the number goes on the do-not-call list."""
from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import connections

from calls.models import Call
from campaigns.models import Attempt, DoNotCall, Lead
from devtools.fakecallee import QUALIFIES
from devtools.phoneline import PhoneLine
from devtools.fakecallee import token_of
from tests.campaigns.support import Drive, campaign

pytestmark = [pytest.mark.speech, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("dialling")]


async def answered(drive: Drive):
    """Dial, then the first person who answered, as Twilio connects their line: the stream."""
    await sync_to_async(drive.burst, thread_sensitive=True)()
    call = drive.callees.people.popleft()
    return call, await PhoneLine.twilio(token_of(call), call_sid=call.sid)


async def test_a_campaign_call_runs_the_bot_on_a_real_phone_stream(dialling, fake_now, loan_bot):
    c = await database_sync_to_async(campaign)(loan_bot, max_lines=1)
    for phone in ("+919876500081", "+919876500082"):
        await database_sync_to_async(Lead.objects.create)(campaign=c, phone=phone, next_try_at=fake_now(),
                                                          created_at=fake_now())
    drive = Drive(dialling, fake_now, decide=None)  # the bot decides: nothing is written for it
    drive.callees.default = QUALIFIES
    try:
        carrier, line = await answered(drive)
        for answer in ["yes I am", "about forty thousand a month", "yes I live in Mumbai"]:
            await line.heard_line()
            await line.say(answer)
        assert await line.closed() == 1000
        await line.close()
        assert [u.one("Status") for u in dialling.updates_of(carrier.sid)] == ["completed"]  # hung up over REST
        await sync_to_async(drive.callees.pump, thread_sensitive=True)()  # Twilio: completed

        carrier, line = await answered(drive)  # the second lead: max_lines 1 let it wait
        await line.heard_line()
        await line.press("9")
        assert await line.closed() == 1000
        await line.close()
        await sync_to_async(drive.callees.pump, thread_sensitive=True)()
        await sync_to_async(drive.round, thread_sensitive=True)()

        @database_sync_to_async
        def stored():
            return (dict(Lead.objects.values_list("phone", "state")),
                    [(a.lead.phone, a.result, a.call.outcome, a.call.end_reason)
                     for a in Attempt.objects.select_related("lead", "call").order_by("id")],
                    list(DoNotCall.objects.values_list("phone", "source")))

        leads, attempts, listed = await stored()
        assert leads == {"+919876500081": "qualified", "+919876500082": "do_not_call"}
        assert attempts == [("+919876500081", "answered_human", Call.Outcome.QUALIFIED, "all_answers_qualify"),
                            ("+919876500082", "answered_human", Call.Outcome.REJECTED, "do_not_call")]
        assert listed == [("+919876500082", "caller")]
    finally:
        await database_sync_to_async(connections.close_all)()
