"""The rules a campaign must keep, on an injected clock against the fake Twilio: 200 leads
with a mix of behaviours all reach their final states; no lead is ever dialled twice at
once; no call starts outside the lead's calling hours (another zone, a window across
midnight, a daylight-saving change); the do-not-call list holds; a paused campaign dials
nobody."""
from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

import pytest

from campaigns import clock
from campaigns.calling_hours import is_open
from campaigns.dialer import window_of
from campaigns.leads_in import add_do_not_call
from campaigns.models import Attempt, Campaign, Lead
from devtools.fakecallee import BUSY, FAILED, NO_ANSWER, QUALIFIES, REJECTS, VOICEMAIL
from tests.campaigns.support import Drive, campaign

pytestmark = pytest.mark.usefixtures("dialling")


def lead(c: Campaign, phone: str, **fields) -> Lead:
    return Lead.objects.create(campaign=c, phone=phone, next_try_at=clock.now(), created_at=clock.now(), **fields)


def assert_never_twice_at_once() -> None:
    """Every lead's attempts follow one another: each was planned after the one before ended."""
    last: dict[int, Attempt] = {}
    for attempt in Attempt.objects.order_by("lead_id", "number"):
        before = last.get(attempt.lead_id)
        if before is not None:
            assert before.ended_at is not None and attempt.planned_at >= before.ended_at, (before, attempt)
        last[attempt.lead_id] = attempt


def assert_every_dial_inside_hours() -> None:
    for attempt in Attempt.objects.select_related("lead__campaign", "dial"):
        lead = attempt.lead
        at = attempt.dial.next_attempt_at  # the slot it was placed in
        assert is_open(window_of(lead.campaign), lead.zone, at), (lead.phone, lead.zone, at)


def test_two_hundred_leads_with_a_mix_reach_their_final_states(dialling, fake_now, loan_bot):
    c = campaign(loan_bot, max_lines=20, max_attempts=3, retry_no_answer_min=30, retry_busy_min=5,
                 retry_failed_min=15, retry_voicemail_min=60, time_zone="Asia/Kolkata", hours_start=time(9),
                 hours_end=time(21), days=[0, 1, 2, 3, 4, 5])
    fake_now.t = datetime(2026, 1, 14, 4, 0, tzinfo=UTC)  # 09:30 in Kolkata
    kinds = [QUALIFIES, REJECTS, NO_ANSWER, BUSY, VOICEMAIL, FAILED]
    rng = random.Random(30)
    drive = Drive(dialling, fake_now)
    expected: dict[str, str] = {}
    for i in range(200):
        phone = f"+9198765{i:05d}"
        script = [rng.choice(kinds) for _ in range(3)]
        drive.callees.script(phone, *script)
        lead(c, phone)
        expected[phone] = _final_state(script)
    checks = 0

    def check() -> None:
        nonlocal checks
        checks += 1
        live = Lead.objects.filter(campaign=c, state__in=["dialling", "in_call"]).count()
        assert live <= 20
        assert not drive.callees.violations, drive.callees.violations

    drive.until_settled(step=timedelta(minutes=1), check=check)
    assert dict(Lead.objects.values_list("phone", "state")) == expected
    assert_never_twice_at_once()
    assert_every_dial_inside_hours()
    assert Attempt.objects.filter(result="").count() == 0
    assert Attempt.objects.count() == len(drive.callees.dials)
    assert drive.callees.peak_live <= 20
    assert Campaign.objects.get(pk=c.pk).state == Campaign.State.FINISHED


def _final_state(script: list[str]) -> str:
    final = {NO_ANSWER: "no_answer", BUSY: "busy", VOICEMAIL: "voicemail", FAILED: "failed"}
    for behaviour in script:
        if behaviour == QUALIFIES:
            return "qualified"
        if behaviour == REJECTS:
            return "rejected"
    return final[script[-1]]


def test_a_lead_in_another_zone_waits_for_its_own_morning(dialling, fake_now, loan_bot):
    c = campaign(loan_bot, time_zone="Europe/London", hours_start=time(9), hours_end=time(20), days=list(range(7)))
    fake_now.t = datetime(2026, 1, 14, 15, 0, tzinfo=UTC)  # 15:00 London, 20:30 Kolkata
    lead(c, "+919876500001", time_zone="Asia/Kolkata")
    lead(c, "+442079460001")
    drive = Drive(dialling, fake_now)
    drive.callees.default = QUALIFIES
    drive.until_settled(step=timedelta(minutes=10))
    first = {a.lead.phone: a.dial.next_attempt_at for a in Attempt.objects.select_related("lead", "dial")}
    assert first["+442079460001"] == datetime(2026, 1, 14, 15, 0, tzinfo=UTC)
    assert first["+919876500001"] == datetime(2026, 1, 15, 3, 30, tzinfo=UTC)  # 09:00 IST the next day
    assert_every_dial_inside_hours()


def test_a_window_across_midnight(dialling, fake_now, loan_bot):
    # Night shift: 22:00-02:00 New York time, Fridays only (so Saturday 00:30 is still Friday's window).
    c = campaign(loan_bot, time_zone="America/New_York", hours_start=time(22), hours_end=time(2), days=[4],
                 max_attempts=3, retry_no_answer_min=120)
    fake_now.t = datetime(2026, 1, 16, 20, 0, tzinfo=UTC)  # Friday 15:00 EST
    lead(c, "+12125550101")
    drive = Drive(dialling, fake_now)
    drive.callees.script("+12125550101", NO_ANSWER, NO_ANSWER, NO_ANSWER)
    drive.until_settled(step=timedelta(minutes=15))
    planned = [a.dial.next_attempt_at for a in Attempt.objects.select_related("dial").order_by("number")]
    assert planned == [
        datetime(2026, 1, 17, 3, 0, tzinfo=UTC),  # Friday 22:00 EST
        datetime(2026, 1, 17, 5, 0, tzinfo=UTC),  # Saturday 00:00 EST, still Friday's window
        datetime(2026, 1, 24, 3, 0, tzinfo=UTC),  # 02:00 would be past the window: next Friday 22:00
    ]
    assert_every_dial_inside_hours()


def test_daylight_saving_change_moves_the_window_in_utc(dialling, fake_now, loan_bot):
    c = campaign(loan_bot, time_zone="America/New_York", hours_start=time(9), hours_end=time(20), days=list(range(7)),
                 max_attempts=2, retry_no_answer_min=60 * 24)
    fake_now.t = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # Saturday 07:00 EST
    lead(c, "+12125550102")
    drive = Drive(dialling, fake_now)
    drive.callees.script("+12125550102", NO_ANSWER, NO_ANSWER)
    drive.until_settled(step=timedelta(minutes=15))
    planned = [a.dial.next_attempt_at for a in Attempt.objects.select_related("dial").order_by("number")]
    # 09:00 EST is 14:00 UTC; a day later the clocks went forward: 14:00 UTC is 10:00 EDT, inside.
    assert planned == [datetime(2026, 3, 7, 14, 0, tzinfo=UTC), datetime(2026, 3, 8, 14, 0, tzinfo=UTC)]
    # After the autumn change, 12:30 UTC is 07:30 EST: too early, it waits for 14:00 UTC.
    Lead.objects.update(state="queued", attempts=0, next_try_at=datetime(2026, 11, 1, 12, 30, tzinfo=UTC))
    Attempt.objects.all().delete()
    Campaign.objects.update(state=Campaign.State.RUNNING)
    fake_now.t = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)
    drive.callees.script("+12125550102", QUALIFIES)
    drive.until_settled(step=timedelta(minutes=15))
    (attempt,) = Attempt.objects.select_related("dial")
    assert attempt.dial.next_attempt_at == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)


def test_the_do_not_call_list_holds(dialling, fake_now, loan_bot):
    c = campaign(loan_bot, max_attempts=3, retry_no_answer_min=10)
    add_do_not_call("+919876500031", source="admin")
    lead(c, "+919876500031")  # listed before it arrived
    lead(c, "+919876500032")  # listed after its first dial
    lead(c, "+919876500033")
    drive = Drive(dialling, fake_now)
    drive.callees.script("+919876500032", NO_ANSWER, QUALIFIES)
    drive.callees.script("+919876500033", NO_ANSWER, QUALIFIES)
    drive.burst()
    add_do_not_call("+919876500032", source="csv")
    drive.until_settled()
    assert dict(Lead.objects.values_list("phone", "state")) == {
        "+919876500031": "do_not_call", "+919876500032": "do_not_call", "+919876500033": "qualified",
    }
    dialled = [number for _, number, _ in drive.callees.dials]
    assert "+919876500031" not in dialled and dialled.count("+919876500032") == 1


def test_a_paused_campaign_dials_nobody_until_it_runs_again(dialling, fake_now, loan_bot):
    c = campaign(loan_bot, state=Campaign.State.PAUSED)
    lead(c, "+919876500041")
    drive = Drive(dialling, fake_now)
    drive.callees.default = QUALIFIES
    for _ in range(3):
        drive.burst()
        fake_now.advance(minutes=5)
    assert drive.callees.dials == []
    Campaign.objects.filter(pk=c.pk).update(state=Campaign.State.RUNNING)
    drive.until_settled()
    assert Lead.objects.get().state == "qualified"


def test_lost_callbacks_are_fetched_from_twilio(dialling, fake_now, loan_bot, settings):
    settings.CAMPAIGN_RECONCILE_S = 120
    c = campaign(loan_bot, max_attempts=1)
    lead(c, "+919876500051")
    drive = Drive(dialling, fake_now)
    drive.callees.script("+919876500051", NO_ANSWER)
    drive.callees.send = lambda url, form, headers: (_ for _ in ()).throw(ConnectionRefusedError("server down"))
    drive.burst()
    assert Lead.objects.get().state == "dialling" and drive.callees.undelivered
    fake_now.advance(minutes=1)
    drive.burst()
    assert Lead.objects.get().state == "dialling"  # not yet CAMPAIGN_RECONCILE_S
    fake_now.advance(minutes=2)
    drive.round()
    lead_row = Lead.objects.get()
    assert lead_row.state == "no_answer"
    assert Attempt.objects.get().result == "no_answer"


def test_a_caller_who_asks_not_to_be_called_again_goes_on_the_list(dialling, fake_now, loan_bot):
    from calls.http.tokens import token_call_id
    from calls.models import Call
    from calls.persistence import lifecycle
    from calls.transport.phone import twilio_rest
    from campaigns.models import DoNotCall
    from devtools.fakecallee import token_of

    def opts_out(call, behaviour) -> None:  # presses 9: the dialogue ends the call so (tests/bots/test_keypad.py)
        lifecycle.end_call(token_call_id(token_of(call)), Call.Outcome.REJECTED, "do_not_call")
        twilio_rest.hang_up(call.sid)

    first, second = campaign(loan_bot, name="First"), campaign(loan_bot, name="Second", state=Campaign.State.PAUSED)
    lead(first, "+919876500071")
    lead(second, "+919876500071")
    drive = Drive(dialling, fake_now, decide=opts_out)
    drive.callees.default = QUALIFIES
    drive.until_settled()
    listed = DoNotCall.objects.get()
    assert (listed.phone, listed.source) == ("+919876500071", "caller")
    assert list(Lead.objects.values_list("state", flat=True)) == ["do_not_call", "do_not_call"]
    Campaign.objects.filter(pk=second.pk).update(state=Campaign.State.RUNNING)
    drive.burst()
    assert len(drive.callees.dials) == 1  # the other campaign never calls them
