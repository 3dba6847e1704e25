"""What staff do with lead delivery: add a destination (its secret shown once), rotate
the secret, read its health, see a call's deliveries on its page, resend (the same
webhook-ids), and the metrics and alert behind "a destination has failed for 15 min"."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from calls import metrics
from calls.delivery.models import Delivery, Destination
from calls.delivery.queue import DeliveryQueue
from tests.delivery.support import add_destination, ended_call, run_until_idle

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]{40,}")


def test_a_new_destination_s_secret_is_shown_once_and_signs(admin_client, loan_bot, receivers, runner, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    hook = receivers()
    response = admin_client.post("/admin/delivery/destination/add/", {
        "name": "HubSpot", "bot": loan_bot.pk, "url": hook.url, "event_types": ["call.ended", "lead.qualified"],
        "active": "on",
    }, follow=True)
    assert response.status_code == 200
    shown = SECRET.findall(response.content.decode())
    crm = Destination.objects.get()
    assert shown == [crm.secret]
    again = admin_client.get(f"/admin/delivery/destination/{crm.pk}/change/").content.decode()
    assert not SECRET.search(again) and f"whsec_…{crm.secret[-4:]}" in again

    ended_call(loan_bot)
    run_until_idle(runner)
    assert len(hook.requests) == 2
    for received in hook.requests:
        Webhook(shown[0]).verify(received.body, received.headers)


def test_a_private_address_is_refused_when_saved(admin_client, loan_bot, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = admin_client.post("/admin/delivery/destination/add/", {
        "name": "Internal", "bot": loan_bot.pk, "url": "http://127.0.0.1:9/hook", "event_types": ["call.ended"],
    })
    assert response.status_code == 200 and "are refused" in response.content.decode()
    assert not Destination.objects.exists()


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_for_a_day(admin_client, loan_bot):
    crm = add_destination(loan_bot, "https://crm.example.com/hook")
    old = crm.secret
    page = admin_client.post(f"/admin/delivery/destination/{crm.pk}/rotate-secret/", follow=True).content.decode()
    crm.refresh_from_db()
    assert crm.secret != old and SECRET.findall(page) == [crm.secret]
    assert crm.previous_secret == old
    assert timedelta(hours=23, minutes=59) < crm.previous_secret_until - timezone.now() <= timedelta(hours=24)
    assert crm.signing_secrets(timezone.now()) == [crm.secret, old]
    assert crm.signing_secrets(timezone.now() + timedelta(hours=25)) == [crm.secret]
    assert admin_client.get(f"/admin/delivery/destination/{crm.pk}/rotate-secret/").status_code == 403


def test_the_destination_page_shows_its_health(admin_client, loan_bot, receivers, runner):
    hook = receivers([410])
    crm = add_destination(loan_bot, hook.url)
    ended_call(loan_bot, outcome="rejected", reason="not_qualified:salaried")
    run_until_idle(runner)
    page = admin_client.get(f"/admin/delivery/destination/{crm.pk}/change/").content.decode()
    assert 'data-state="disabled"' in page and "410 Gone" in page and "1 failed" in page


def test_staff_reactivate_the_settings_destination_after_a_410(admin_client, loan_bot, receivers, runner, settings):
    hook = receivers([410])
    settings.LEAD_WEBHOOK_URL, settings.LEAD_WEBHOOK_SECRET = hook.url, "whsec_" + "B" * 43 + "="
    ended_call(loan_bot, outcome="rejected", reason="not_qualified:salaried")
    run_until_idle(runner)
    crm = Destination.objects.get()
    assert crm.from_settings and not crm.active
    page = admin_client.get(f"/admin/delivery/destination/{crm.pk}/change/").content.decode()
    assert "410 Gone" in page and "LEAD_WEBHOOK_SECRET (from the settings)" in page
    response = admin_client.post(f"/admin/delivery/destination/{crm.pk}/change/", {"active": "on"})
    assert response.status_code == 302
    crm.refresh_from_db()
    assert crm.active and crm.disabled_reason == "" and crm.url == hook.url


def test_resend_failed_since_a_day_uses_the_same_webhook_ids(admin_client, loan_bot, receivers, runner, clock, settings):
    settings.WEBHOOK_RETRY_S = [5]
    hook = receivers([500, 500, 500, 500])
    crm = add_destination(loan_bot, hook.url, event_types=["call.ended"])
    ended_call(loan_bot, outcome="rejected", reason="not_qualified:salaried")
    ended_call(loan_bot, outcome="rejected", reason="not_qualified:salaried")
    run_until_idle(runner)
    clock.advance(5)
    run_until_idle(runner)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"failed"}
    first_ids = sorted(set(hook.ids()))

    response = admin_client.post(f"/admin/delivery/destination/{crm.pk}/resend-failed/",
                                 {"since": timezone.localdate().isoformat()}, follow=True)
    assert "2 failed deliveries sent again" in response.content.decode()
    run_until_idle(runner)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"done"}
    assert sorted(set(hook.ids())) == first_ids and len(hook.requests) == 6


def test_the_call_page_lists_its_deliveries_and_resends_them(admin_client, loan_bot, receivers, runner, clock):
    hook = receivers([500])
    add_destination(loan_bot, hook.url, name="Zoho")
    call = ended_call(loan_bot)
    runner.run_once()
    page = admin_client.get(f"/dashboard/calls/{call.pk}/").content.decode()
    event = Delivery.objects.get(event__type="call.ended").event
    assert "Sent to your CRM" in page and event.webhook_id in page and "HTTP 500" in page and "Zoho" in page
    clock.advance(5)
    run_until_idle(runner)
    assert len(hook.requests) == 3

    response = admin_client.post(f"/dashboard/webhooks/calls/{call.pk}/resend/", follow=True)
    assert "2 webhook deliveries sent again" in response.content.decode()
    run_until_idle(runner)
    assert hook.ids()[3:] == hook.ids()[1:3]  # call.ended then lead.qualified, the same ids again


def test_resend_needs_the_change_permission(client, django_user_model, loan_bot):
    call = ended_call(loan_bot)
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    client.force_login(viewer)
    assert client.post(f"/dashboard/webhooks/calls/{call.pk}/resend/").status_code == 403


def test_gauges_report_the_oldest_undelivered_event_and_a_failing_destination(loan_bot, receivers, runner, clock):
    hook = receivers(default=500)
    add_destination(loan_bot, hook.url, name="Failing CRM", event_types=["call.ended"])
    call = ended_call(loan_bot)
    runner.run_once()
    queue = DeliveryQueue()
    later = clock.now + timedelta(minutes=16)
    queue.observe(later)
    assert metrics.WEBHOOK_DESTINATION_FAILING.labels("Failing CRM")._value.get() == pytest.approx(16 * 60)
    ended_at = Delivery.objects.get().created_at
    assert metrics.WEBHOOK_OLDEST_UNDELIVERED._value.get() == pytest.approx((later - ended_at).total_seconds())
    Delivery.objects.filter(event__call=call).update(status="done")
    Destination.objects.update(failing_since=None)
    queue.observe(later)
    assert metrics.WEBHOOK_DESTINATION_FAILING.labels("Failing CRM")._value.get() == 0
    assert metrics.WEBHOOK_OLDEST_UNDELIVERED._value.get() == 0
