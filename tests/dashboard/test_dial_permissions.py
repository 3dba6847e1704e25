"""Who may place calls, and read them (toll fraud, personal data).

"Call now" and the outbound API dial only for staff with the change permission on
calls, only numbers of calls already in the system, and at most OUTBOUND_DIAL_LIMIT
times per window per staff account (the API key has the same rate). The call detail
API asks staff for the dashboard's view permission. Dials go through the official SDK
to the local fake of Twilio's REST API, which records them.
"""
from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import caches
from django.test import Client

from calls.models import Call
from tests.dashboard.conftest import make_call

pytestmark = pytest.mark.django_db

KEY = "secret-outbound-key"


def staff(django_user_model, username: str, *, group: str | None = None, perms: tuple[str, ...] = ()) -> Client:
    user = django_user_model.objects.create_user(username=username, password="x-pass-123456", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(content_type__app_label="calls", codename=codename))
    browser = Client()
    browser.force_login(user)
    return browser


@pytest.fixture
def viewer(django_user_model) -> Client:
    """A staff member who may read leads but not change them."""
    return staff(django_user_model, "viewer", perms=("view_call",))


@pytest.fixture
def agent(django_user_model) -> Client:
    """A sales agent (the "Sales agents" group: view and change calls)."""
    return staff(django_user_model, "agent", group="Sales agents")


@pytest.fixture
def dial_limit(settings):
    settings.OUTBOUND_DIAL_LIMIT, settings.OUTBOUND_DIAL_WINDOW = 2, 3600
    settings.OUTBOUND_API_KEY = KEY
    caches["default"].clear()


def outbound(browser: Client, to: str, **headers):
    return browser.post(
        "/api/outbound-calls/", data=json.dumps({"bot": "quickrupee-loan", "to": to}), content_type="application/json", **headers
    )


def dials(fake) -> list[str]:
    return [r.one("To") for r in fake.requests if r.path.endswith("/Calls.json")]


def test_call_now_needs_the_change_permission(viewer, loan_bot, twilio_settings):
    lead = make_call(loan_bot, name="Asha", phone="+91 98765 43210", outcome="qualified")
    assert "Call now" not in viewer.get(f"/dashboard/calls/{lead.pk}/").content.decode()
    assert viewer.post(f"/dashboard/calls/{lead.pk}/call-now/").status_code == 403
    assert dials(twilio_settings) == [] and Call.objects.count() == 1


def test_the_outbound_api_needs_the_change_permission_from_staff(viewer, loan_bot, twilio_settings, dial_limit):
    make_call(loan_bot, name="Asha", phone="+91 98765 43210")
    response = outbound(viewer, "+919876543210")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert dials(twilio_settings) == []


def test_staff_dial_only_numbers_of_calls_in_the_system(agent, loan_bot, twilio_settings, dial_limit):
    make_call(loan_bot, name="Asha", phone="+91 98765 43210")  # stored as the caller typed it
    stranger = outbound(agent, "+919876500000")
    assert stranger.status_code == 403 and stranger.json()["error"]["code"] == "unknown_number"
    assert outbound(agent, "+919876543210").status_code == 201
    assert dials(twilio_settings) == ["+919876543210"]


def test_dials_are_bounded_per_staff_account(agent, django_user_model, loan_bot, twilio_settings, dial_limit):
    lead = make_call(loan_bot, name="Asha", phone="+919876543210", outcome="qualified")
    assert outbound(agent, "+919876543210").status_code == 201
    assert agent.post(f"/dashboard/calls/{lead.pk}/call-now/").status_code == 302  # the second dial of two
    limited = outbound(agent, "+919876543210")
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert int(limited["Retry-After"]) >= 1
    page = agent.post(f"/dashboard/calls/{lead.pk}/call-now/", follow=True).content.decode()
    assert "Too many calls placed from this account" in page
    assert len(dials(twilio_settings)) == 2
    colleague = staff(django_user_model, "colleague", group="Sales agents")
    assert outbound(colleague, "+919876543210").status_code == 201  # a budget of its own


def test_the_api_key_is_held_to_the_same_rate(client, loan_bot, twilio_settings, dial_limit):
    for _ in range(2):  # an integration dialling new leads: any number
        assert outbound(client, "+14155550100", HTTP_AUTHORIZATION=f"Bearer {KEY}").status_code == 201
    limited = outbound(client, "+14155550101", HTTP_AUTHORIZATION=f"Bearer {KEY}")
    assert limited.status_code == 429 and len(dials(twilio_settings)) == 2


def test_the_call_detail_api_asks_staff_for_the_dashboards_permission(django_user_model, viewer, loan_bot):
    lead = make_call(loan_bot, name="Asha", phone="+919876543210")
    bare = staff(django_user_model, "bare")  # staff, with no permission on calls
    refused = bare.get(f"/api/calls/{lead.pk}/")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert viewer.get(f"/api/calls/{lead.pk}/").json()["caller"]["name"] == "Asha"
