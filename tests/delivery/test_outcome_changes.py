"""A decided outcome wins, at the receiver too (issue 31 B, docs/lead-delivery.md "When a
call's outcome changes"): an `incomplete` from a carrier, the sweep or a drain is held
back; a decision stored meanwhile replaces it unsent; a decision stored after it went
follows it under a new webhook-id, so the receiver's last `call.ended` is the decision."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from calls.delivery.models import Delivery
from calls.models import Call
from calls.outbox.items import Result
from calls.persistence import lifecycle
from tests.delivery.support import add_destination, run_until_idle, start_call

pytestmark = pytest.mark.django_db


def bodies(hook) -> list[tuple[str, str, str]]:
    out = []
    for received in hook.requests:
        body = json.loads(received.body)
        out.append((received.webhook_id, body["type"], body["data"]["outcome"]))
    return out


def hung_up_by_the_carrier(bot) -> Call:
    """The Twilio race: the status callback `completed` comes before the pipeline's decision."""
    call = start_call(bot, channel="phone", provider_call_id="CA-race")
    lifecycle.carrier_status("CA-race", "completed")
    call.refresh_from_db()
    assert (call.outcome, call.end_reason) == ("incomplete", "caller_hangup")
    return call


def test_a_decision_within_the_hold_replaces_the_provisional_end_unsent(loan_bot, receivers, runner, clock, settings):
    settings.WEBHOOK_PROVISIONAL_HOLD_S = 35
    hook = receivers()
    add_destination(loan_bot, hook.url)
    clock.now = timezone.now()
    call = hung_up_by_the_carrier(loan_bot)
    held = Delivery.objects.get()
    assert held.event.provisional and held.next_attempt_at >= clock.now + timedelta(seconds=34)
    assert run_until_idle(runner) == 0  # held back

    lifecycle.end_call(str(call.pk), "qualified", "all_answers_qualify")  # the pipeline's decision
    call.refresh_from_db()
    assert call.outcome == "qualified"
    held.refresh_from_db()
    assert held.state == "superseded"
    clock.advance(3600)
    run_until_idle(runner)
    assert [(kind, outcome) for _, kind, outcome in bodies(hook)] == [
        ("call.ended", "qualified"), ("lead.qualified", "qualified")]


def test_a_decision_after_the_provisional_end_went_follows_it(loan_bot, receivers, runner, clock, settings):
    settings.WEBHOOK_PROVISIONAL_HOLD_S = 0
    hook = receivers()
    add_destination(loan_bot, hook.url)
    call = hung_up_by_the_carrier(loan_bot)
    run_until_idle(runner)
    lifecycle.end_call(str(call.pk), "qualified", "all_answers_qualify")
    run_until_idle(runner)
    got = bodies(hook)
    assert [(kind, outcome) for _, kind, outcome in got] == [
        ("call.ended", "incomplete"), ("call.ended", "qualified"), ("lead.qualified", "qualified")]
    assert len({webhook_id for webhook_id, _, _ in got}) == 3  # a new id: receivers do not drop it as a duplicate
    last_ended = [outcome for _, kind, outcome in got if kind == "call.ended"][-1]
    assert last_ended == "qualified"


def test_a_decision_while_the_provisional_end_is_in_flight_waits_for_that_attempt(
    loan_bot, receivers, runner, clock, settings
):
    settings.WEBHOOK_PROVISIONAL_HOLD_S = 0
    hook = receivers()
    add_destination(loan_bot, hook.url, event_types=["call.ended"])
    call = hung_up_by_the_carrier(loan_bot)
    queue = runner.queues[0]
    (in_flight,) = runner.claim(queue, clock.now, 10)  # an attempt under way
    lifecycle.end_call(str(call.pk), "qualified", "all_answers_qualify")
    assert runner.run_once() == 0  # the newer event does not overtake it
    assert runner.record(queue, in_flight, Result(ok=True), clock.now) == ""  # superseded meanwhile: let go
    assert run_until_idle(runner) == 1
    assert [(kind, outcome) for _, kind, outcome in bodies(hook)] == [("call.ended", "qualified")]


def test_a_provisional_end_never_replaces_a_decision(loan_bot, receivers, runner):
    hook = receivers()
    add_destination(loan_bot, hook.url)
    call = start_call(loan_bot, channel="phone", provider_call_id="CA-late")
    lifecycle.end_call(str(call.pk), "qualified", "all_answers_qualify")
    lifecycle.carrier_status("CA-late", "completed")
    call.refresh_from_db()
    assert call.outcome == "qualified"
    run_until_idle(runner)
    assert [(kind, outcome) for _, kind, outcome in bodies(hook)] == [
        ("call.ended", "qualified"), ("lead.qualified", "qualified")]


def test_a_resumed_call_sends_only_its_final_outcome(loan_bot, receivers, runner, clock, settings):
    settings.WEBHOOK_PROVISIONAL_HOLD_S = 35
    hook = receivers()
    add_destination(loan_bot, hook.url)
    clock.now = timezone.now()
    call = start_call(loan_bot)
    lifecycle.end_call(str(call.pk), "incomplete", "caller_disconnected")  # the socket dropped
    assert run_until_idle(runner) == 0
    lifecycle.claim_call(str(call.pk))  # the caller reconnects
    lifecycle.end_call(str(call.pk), "qualified", "all_answers_qualify")
    clock.advance(3600)
    run_until_idle(runner)
    assert [(kind, outcome) for _, kind, outcome in bodies(hook)] == [
        ("call.ended", "qualified"), ("lead.qualified", "qualified")]


def test_the_stale_call_sweep_writes_a_held_event(loan_bot, receivers, runner, clock, settings):
    settings.WEBHOOK_PROVISIONAL_HOLD_S = 35
    hook = receivers()
    add_destination(loan_bot, hook.url)
    call = start_call(loan_bot)
    now = timezone.now()
    Call.objects.filter(pk=call.pk).update(heartbeat_at=now - timedelta(hours=1))
    assert lifecycle.close_stale_calls(now=now) == 1
    (held,) = Delivery.objects.all()
    assert held.event.provisional and held.next_attempt_at == now + timedelta(seconds=35)
    clock.now = now + timedelta(seconds=35)
    run_until_idle(runner)
    assert [(kind, outcome) for _, kind, outcome in bodies(hook)] == [("call.ended", "incomplete")]
