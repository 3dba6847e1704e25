"""The dialer against the fake Twilio (REST API, status and AMD callbacks), on an injected
clock: leads reach their final states, retries come at the configured delays, AMD sends
machines to voicemail, and every limit holds."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from calls.delivery.models import Destination, Event
from calls.models import Call
from campaigns import clock
from campaigns.models import Attempt, Campaign, Lead
from devtools.fakecallee import BUSY, FAILED, NO_ANSWER, QUALIFIES, REJECTS, VOICEMAIL
from tests.campaigns.support import Drive, campaign

pytestmark = pytest.mark.usefixtures("dialling")


def lead(c: Campaign, phone: str, **fields) -> Lead:
    return Lead.objects.create(campaign=c, phone=phone, next_try_at=clock.now(), created_at=clock.now(), **fields)


def test_each_behaviour_reaches_its_final_state_with_retries_at_the_configured_delays(dialling, fake_now, loan_bot):
    c = campaign(loan_bot, max_attempts=3, retry_no_answer_min=60, retry_busy_min=10, retry_voicemail_min=240)
    people = {
        "+919876500001": [QUALIFIES], "+919876500002": [REJECTS], "+919876500003": [NO_ANSWER] * 3,
        "+919876500004": [BUSY, QUALIFIES], "+919876500005": [VOICEMAIL, VOICEMAIL, VOICEMAIL],
        "+919876500006": [FAILED, NO_ANSWER, REJECTS],
    }
    for phone in people:
        lead(c, phone, time_zone="Asia/Kolkata")
    fake_now.t = fake_now.t.replace(hour=5)  # 10:30 in Kolkata
    Lead.objects.update(next_try_at=fake_now())
    drive = Drive(dialling, fake_now)
    for phone, behaviours in people.items():
        drive.callees.script(phone, *behaviours)
    started = fake_now()
    drive.until_settled(step=timedelta(minutes=1))
    states = dict(Lead.objects.values_list("phone", "state"))
    assert states == {
        "+919876500001": "qualified", "+919876500002": "rejected", "+919876500003": "no_answer",
        "+919876500004": "qualified", "+919876500005": "voicemail", "+919876500006": "rejected",
    }
    def planned(phone: str) -> list[float]:
        return [round((a.planned_at - started).total_seconds() / 60, 1) for a in Attempt.objects.filter(lead__phone=phone)]
    assert planned("+919876500003") == [0, 60, 120]  # no answer: an hour apart
    assert planned("+919876500004") == [0, 10]  # busy: ten minutes
    assert planned("+919876500005") == [0, 240, 480]  # voicemail: four hours (still inside 09:00-20:00 IST)
    assert planned("+919876500006") == [0, 30, 90]  # failed: the default 30, then no answer: 60
    results = list(Attempt.objects.filter(lead__phone="+919876500005").values_list("result", "amd_result"))
    assert results == [("machine", "machine_end_beep")] * 3
    assert Campaign.objects.get(pk=c.pk).state == Campaign.State.FINISHED
    assert not drive.callees.violations
    # Every dial asked Twilio for asynchronous AMD with its callback.
    creates = [r for r in dialling.requests if r.path.endswith("/Calls.json")]
    assert {(r.one("MachineDetection"), r.one("AsyncAmd")) for r in creates} == {("DetectMessageEnd", "true")}
    assert all("/telephony/twilio/campaigns/amd/?attempt=" in r.one("AsyncAmdStatusCallback") for r in creates)


def test_voicemail_message_is_left_after_the_beep_then_the_call_ends(dialling, fake_now, loan_bot):
    c = campaign(loan_bot, voicemail_action=Campaign.VoicemailAction.LEAVE_MESSAGE,
                 voicemail_message="Hello from QuickRupee, we will call you back.", max_attempts=1)
    lead(c, "+919876500010", time_zone="Europe/London")
    drive = Drive(dialling, fake_now)
    drive.callees.script("+919876500010", VOICEMAIL)
    drive.until_settled()
    attempt = Attempt.objects.get()
    assert (attempt.result, attempt.voicemail_left, attempt.lead.state) == ("machine", True, "voicemail")
    (update,) = dialling.updates_of(attempt.carrier_sid)
    assert "<Say>Hello from QuickRupee, we will call you back.</Say>" in update.one("Twiml")
    call = Call.objects.get(pk=attempt.call_id)
    assert (call.outcome, call.end_reason) == ("incomplete", "voicemail")


def test_machine_is_hung_up_on_when_the_action_is_hang_up(dialling, fake_now, loan_bot):
    c = campaign(loan_bot, max_attempts=2, retry_voicemail_min=30)
    lead(c, "+919876500011")
    drive = Drive(dialling, fake_now)
    drive.callees.script("+919876500011", VOICEMAIL, QUALIFIES)
    drive.until_settled()
    first, second = Attempt.objects.order_by("number")
    assert [u.one("Status") for u in dialling.updates_of(first.carrier_sid)] == ["completed"]
    assert (first.result, first.voicemail_left, second.result) == ("machine", False, "answered_human")
    assert Lead.objects.get().state == "qualified"


def test_never_more_lines_than_the_campaign_allows(dialling, fake_now, loan_bot):
    c = campaign(loan_bot, max_lines=3)
    for i in range(12):
        lead(c, f"+9198765001{i:02d}")
    drive = Drive(dialling, fake_now, decide=None)  # people answer and stay on the line
    drive.callees.default = QUALIFIES
    drive.burst()
    assert Lead.objects.filter(state__in=["dialling", "in_call"]).count() == 3
    assert len(drive.callees.live) == 3
    fake_now.advance(minutes=5)
    drive.burst()
    assert len(drive.callees.live) == 3  # nothing more while the three are in their calls
    drive.callees.complete(drive.callees.people.popleft().sid)  # one hangs up
    drive.callees.pump()
    drive.burst()
    assert len(drive.callees.live) == 3 and len(drive.callees.dials) == 4


def test_never_more_lines_than_the_workers_can_take(dialling, fake_now, loan_bot, settings):
    settings.MAX_CALLS_PER_WORKER = 2
    c = campaign(loan_bot, max_lines=10)
    for i in range(6):
        lead(c, f"+9198765002{i:02d}")
    drive = Drive(dialling, fake_now, decide=None)
    drive.callees.default = QUALIFIES  # they answer and stay on the line
    assert drive.burst() == 2  # two free slots, less the lines ringing or in a call
    fake_now.advance(minutes=1)
    assert drive.burst() == 0


def test_dials_are_spaced_by_twilio_cps(dialling, fake_now, loan_bot, settings):
    settings.TWILIO_CPS = 2.0
    c = campaign(loan_bot, max_lines=10)
    for i in range(6):
        lead(c, f"+9198765003{i:02d}")
    drive = Drive(dialling, fake_now)
    drive.callees.default = NO_ANSWER
    assert drive.runner.run_once() == 1  # the first slot is now; the next at +0.5 s
    assert drive.runner.run_once() == 0
    fake_now.advance(seconds=0.5)
    assert drive.runner.run_once() == 1
    fake_now.advance(seconds=1.0)
    assert drive.runner.run_once() == 2
    dials = Attempt.objects.order_by("dial__next_attempt_at").values_list("dial__next_attempt_at", flat=True)
    gaps = [(b - a).total_seconds() for a, b in zip(dials, dials[1:])]
    assert gaps and min(gaps) >= 0.5


def test_call_ended_body_carries_the_campaign_and_the_leads_fields(dialling, fake_now, loan_bot, settings):
    Destination.objects.create(name="CRM", url="https://crm.example.com/hook")
    c = campaign(loan_bot, name="Diwali loans")
    lead(c, "+919876500020", name="Asha", fields={"utm_source": "google", "amount": "50000"})
    drive = Drive(dialling, fake_now)
    drive.callees.script("+919876500020", QUALIFIES)
    drive.until_settled()
    attempt = Attempt.objects.get()
    bodies = [json.loads(e.payload) for e in Event.objects.filter(call_id=attempt.call_id).order_by("id")]
    assert [b["type"] for b in bodies] == ["call.ended", "lead.qualified"]
    for body in bodies:
        assert body["data"]["campaign"] == {"id": c.pk, "name": "Diwali loans", "lead_id": attempt.lead_id, "attempt": 1}
        assert body["data"]["lead_fields"] == {"utm_source": "google", "amount": "50000"}
        assert body["data"]["outcome"] == "qualified"
