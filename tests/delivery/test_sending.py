"""Done-when (issue 28): lead webhooks reach real HTTP receivers on loopback, signed,
retried on the schedule, in order; 410 disables; private addresses, redirects and
endless bodies are handled. The runner runs on an injected clock: retry timing is
the clock's, never a sleep."""
from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from calls import metrics
from calls.delivery.models import Delivery, Destination
from calls.delivery.transport import USER_AGENT
from calls.outbox.items import Status
from calls.outbox.runner import Runner
from devtools.webhook_receiver import Reply
from tests.delivery.support import add_destination, ended_call, run_until_idle

pytestmark = pytest.mark.django_db

DEFAULT_SCHEDULE = [5, 30, 120, 600, 1800, 7200, 21600, 43200, 86400]


def sample(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def verified(destination: Destination, received) -> dict:
    """The receiving side: the standardwebhooks package checks the signature."""
    return Webhook(destination.secret).verify(received.body, received.headers)


def test_500_twice_then_200_is_retried_on_the_schedule_with_one_webhook_id(loan_bot, receivers, runner, clock, settings):
    assert settings.WEBHOOK_RETRY_S == DEFAULT_SCHEDULE
    hook = receivers([500, 500])
    crm = add_destination(loan_bot, hook.url, event_types=["call.ended"])
    call = ended_call(loan_bot)
    retried, delivered = sample("voicebot_webhook_deliveries_total", result="retried"), sample(
        "voicebot_webhook_deliveries_total", result="delivered")

    assert runner.run_once() == 1  # attempt 1: 500
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at == clock.now + timedelta(seconds=5)
    clock.advance(4.9)
    assert runner.run_once() == 0  # not before its time
    clock.advance(0.1)
    assert runner.run_once() == 1  # attempt 2: 500 again, then 30 s
    clock.advance(29)
    assert runner.run_once() == 0
    clock.advance(1)
    assert runner.run_once() == 1  # attempt 3: 200

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("done", 3, 200)
    got = hook.requests
    assert len(got) == 3 and len({r.webhook_id for r in got}) == 1
    assert got[0].webhook_id == delivery.event.webhook_id
    for received in got:
        body = verified(crm, received)
        assert body["type"] == "call.ended" and body["data"]["call_id"] == str(call.pk)
        assert received.headers["content-type"] == "application/json"
        assert received.headers["user-agent"] == USER_AGENT
    assert sample("voicebot_webhook_deliveries_total", result="retried") == retried + 2
    assert sample("voicebot_webhook_deliveries_total", result="delivered") == delivered + 1
    crm.refresh_from_db()
    assert crm.failing_since is None and crm.last_success_at == clock.now


def test_after_the_last_retry_the_delivery_is_failed_and_resendable(loan_bot, receivers, runner, clock, settings):
    settings.WEBHOOK_RETRY_S = [5, 30]
    hook = receivers(default=503)
    add_destination(loan_bot, hook.url, event_types=["call.ended"])
    ended_call(loan_bot)
    for wait in (0, 5, 30):
        clock.advance(wait)
        assert runner.run_once() == 1
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert "HTTP 503" in delivery.last_error
    clock.advance(86400)
    assert runner.run_once() == 0


def test_a_receiver_that_does_not_answer_in_time_is_retried(loan_bot, receivers, runner, clock, settings):
    settings.WEBHOOK_TIMEOUT_S = 0.5
    answer_late = threading.Event()
    hook = receivers([Reply(200, hold=answer_late)])
    add_destination(loan_bot, hook.url)
    ended_call(loan_bot, outcome="rejected", reason="not_qualified:salaried")
    started = time.monotonic()
    assert runner.run_once() == 1
    assert time.monotonic() - started < 5
    answer_late.set()
    delivery = Delivery.objects.get()
    assert delivery.status == "pending" and delivery.last_error == "no answer within 0.5 s"
    assert delivery.last_status_code is None
    clock.advance(5)
    assert runner.run_once() == 1
    delivery.refresh_from_db()
    assert delivery.status == "done"
    assert [r.webhook_id for r in hook.requests] == [delivery.event.webhook_id] * 2


def test_410_disables_the_destination_and_staff_see_why(loan_bot, receivers, runner, clock):
    hook = receivers([410])
    crm = add_destination(loan_bot, hook.url)
    other = add_destination(loan_bot, receivers().url, name="Spreadsheet")
    ended_call(loan_bot, outcome="rejected", reason="not_qualified:salaried")
    gone = sample("voicebot_webhook_deliveries_total", result="gone")
    assert run_until_idle(runner) == 2
    crm.refresh_from_db()
    assert not crm.active and "410 Gone" in crm.disabled_reason
    assert Delivery.objects.get(destination=crm).status == "failed"
    assert Delivery.objects.get(destination=other).status == "done"
    assert sample("voicebot_webhook_deliveries_total", result="gone") == gone + 1

    ended_call(loan_bot, outcome="rejected", reason="not_qualified:salaried")  # waits for the disabled one
    clock.advance(3600)
    assert run_until_idle(runner) == 1 and len(hook.requests) == 1
    waiting = Delivery.objects.get(destination=crm, status="pending")
    Destination.objects.filter(pk=crm.pk).update(active=True)
    assert run_until_idle(runner) == 1
    waiting.refresh_from_db()
    assert waiting.status == "done" and hook.ids()[-1] == waiting.event.webhook_id


def test_call_ended_reaches_a_destination_before_lead_qualified(loan_bot, receivers, runner, clock):
    hook = receivers([500])  # call.ended fails once: lead.qualified must wait for it
    crm = add_destination(loan_bot, hook.url)
    call = ended_call(loan_bot)
    assert runner.run_once() == 1  # only call.ended is claimable
    clock.advance(60)
    assert runner.run_once() == 1  # call.ended delivered
    assert runner.run_once() == 1  # then lead.qualified
    bodies = [verified(crm, r) for r in hook.requests]
    assert [b["type"] for b in bodies] == ["call.ended", "call.ended", "lead.qualified"]
    assert all(b["data"]["call_id"] == str(call.pk) for b in bodies)


def test_the_body_is_the_protocol_s(loan_bot, receivers, runner, settings):
    settings.PUBLIC_BASE_URL = "https://bot.example.com"
    hook = receivers()
    crm = add_destination(loan_bot, hook.url, event_types=["lead.qualified"])
    call = ended_call(loan_bot)
    run_until_idle(runner)
    (received,) = hook.requests
    body = verified(crm, received)
    assert set(body) == {"type", "timestamp", "data"} and body["type"] == "lead.qualified"
    data = body["data"]
    assert set(data) == {"call_id", "bot", "channel", "mode", "outcome", "reason", "started_at", "ended_at",
                         "callback_due_at", "caller", "answers", "transcript", "dashboard_url", "recording_url",
                         "campaign", "lead_fields"}
    assert (data["campaign"], data["lead_fields"]) == (None, {})  # not a campaign's call (tests/campaigns: one that is)
    assert data["bot"] == {"slug": "quickrupee-loan", "name": loan_bot.name}
    assert (data["channel"], data["mode"], data["outcome"], data["reason"]) == (
        "web", "push_to_talk", "qualified", "all_answers_qualify")
    assert data["caller"] == {"name": "Asha", "phone": "+919800000000"}
    assert data["ended_at"].endswith("Z") and body["timestamp"].endswith("Z")
    assert (data["callback_due_at"] is not None) == bool(loan_bot.callback_minutes)
    assert data["answers"][1] == {"question": "monthly_salary", "prompt": "What is your monthly salary?",
                                  "value": 50000, "text": "fifty thousand", "understood": True, "confidence": 0.88}
    assert [(t["speaker"], t["text"]) for t in data["transcript"]] == [
        ("bot", "Hello, are you salaried?"), ("caller", "yes I am salaried")]
    assert data["dashboard_url"] == f"https://bot.example.com/dashboard/calls/{call.pk}/"
    assert data["recording_url"] is None  # not recorded (tests/delivery/test_recording_url.py)
    assert json.loads(received.body) == body


def test_a_phone_call_s_mode_is_phone(loan_bot, receivers, runner):
    hook = receivers()
    add_destination(loan_bot, hook.url, event_types=["call.ended"])
    ended_call(loan_bot, outcome="incomplete", reason="caller_silent", channel="phone", provider_call_id="CA1")
    run_until_idle(runner)
    data = json.loads(hook.requests[0].body)["data"]
    assert (data["channel"], data["mode"], data["caller"]["name"]) == ("phone", "phone", "")


def test_a_rotated_secret_signs_beside_the_old_one_for_24_hours(loan_bot, receivers, runner, clock):
    hook = receivers()
    crm = add_destination(loan_bot, hook.url, event_types=["call.ended"])
    old = crm.secret
    new = crm.rotate_secret()
    ended_call(loan_bot)
    run_until_idle(runner)
    received = hook.requests[0]
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(received.body, received.headers)  # a receiver not yet updated
    Webhook(new).verify(received.body, received.headers)

    Destination.objects.filter(pk=crm.pk).update(previous_secret_until=timezone.now() - timedelta(seconds=1))
    ended_call(loan_bot)
    run_until_idle(runner)
    later = hook.requests[1]
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(later.body, later.headers)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(old).verify(later.body, later.headers)


def test_a_private_address_is_refused_at_send_time(loan_bot, receivers, runner, settings):
    hook = receivers()
    port = hook.url.split(":")[2].split("/")[0]
    add_destination(loan_bot, f"http://localhost:{port}/hook", name="By name")  # resolves to loopback
    add_destination(loan_bot, hook.url, name="By address")
    ended_call(loan_bot, outcome="rejected", reason="not_qualified:salaried")
    settings.WEBHOOK_ALLOW_PRIVATE = False
    refused = sample("voicebot_webhook_deliveries_total", result="refused")
    assert run_until_idle(runner) == 2
    assert hook.requests == []
    for delivery in Delivery.objects.all():
        assert delivery.status == "failed" and "refused" in delivery.last_error
        assert "127.0.0.1" in delivery.last_error or "::1" in delivery.last_error
    assert sample("voicebot_webhook_deliveries_total", result="refused") == refused + 2


@pytest.mark.parametrize("address", ["10.1.2.3", "169.254.169.254", "192.168.0.1", "224.0.0.1", "::1",
                                     "fe80::1", "::ffff:127.0.0.1", "0.0.0.0", "100.64.0.1"])
def test_non_public_addresses_are_forbidden(address):
    from calls.delivery.transport import forbidden

    assert forbidden(address)
    assert not forbidden("93.184.215.14")


def test_redirects_are_not_followed(loan_bot, receivers, runner):
    elsewhere = receivers()
    hook = receivers([Reply(307, headers={"location": elsewhere.url})])
    add_destination(loan_bot, hook.url, event_types=["call.ended"])
    ended_call(loan_bot)
    run_until_idle(runner)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("pending", 307)
    assert elsewhere.requests == []


def test_an_endless_response_body_is_not_read_to_its_end(loan_bot, receivers, runner, settings):
    settings.WEBHOOK_TIMEOUT_S = 30
    hook = receivers([Reply(200, endless=True)])
    add_destination(loan_bot, hook.url, event_types=["call.ended"])
    ended_call(loan_bot)
    started = time.monotonic()
    run_until_idle(runner)
    assert time.monotonic() - started < 10  # 64 KiB read, then the connection is dropped
    assert Delivery.objects.get().status == "done"


def test_lead_webhook_settings_give_every_bot_a_destination(loan_bot, renovation_bot, receivers, runner, settings):
    hook = receivers()
    settings.LEAD_WEBHOOK_URL = hook.url
    settings.LEAD_WEBHOOK_SECRET = "whsec_" + "A" * 43 + "="
    ended_call(loan_bot, outcome="rejected", reason="not_qualified:salaried")
    ended_call(renovation_bot, outcome="rejected", reason="not_qualified:salaried")
    run_until_idle(runner)
    assert len(hook.requests) == 2
    for received in hook.requests:
        Webhook(settings.LEAD_WEBHOOK_SECRET).verify(received.body, received.headers)
    assert Destination.objects.get().from_settings


def test_with_no_destination_nothing_is_written(loan_bot, settings):
    settings.LEAD_WEBHOOK_URL = ""
    ended_call(loan_bot)
    assert not Delivery.objects.exists()


def test_an_attempt_that_raises_is_retried_and_logged(loan_bot, receivers, clock, settings):
    from calls.delivery.queue import DeliveryQueue

    class Broken(DeliveryQueue):
        def perform(self, item):
            raise RuntimeError("bug")

    add_destination(loan_bot, receivers().url)
    ended_call(loan_bot)
    runner = Runner([Broken()], owner="t", concurrency=1, clock=clock)
    assert runner.run_once() == 1
    delivery = Delivery.objects.get(event__type="call.ended")
    assert delivery.status == Status.PENDING and "RuntimeError: bug" in delivery.last_error
