"""The lead page's "Call now" button: shown only with a Twilio account, it dials the
lead through the official SDK (against the local fake of Twilio's REST API), and the
new call's page follows its progress live."""
from __future__ import annotations

from xml.etree import ElementTree

import pytest

from calls.http.tokens import token_call_id
from calls.models import Call
from tests.dashboard.conftest import make_call

pytestmark = pytest.mark.django_db


def test_no_button_without_a_twilio_account(staff_client, loan_bot, settings):
    settings.TWILIO_ACCOUNT_SID = ""
    lead = make_call(loan_bot, name="Asha", phone="+91 98765 43210", outcome="qualified")
    page = staff_client.get(f"/dashboard/calls/{lead.pk}/").content.decode()
    assert "Call now" not in page and "call-now" not in page
    response = staff_client.post(f"/dashboard/calls/{lead.pk}/call-now/")
    assert response.status_code == 302 and Call.objects.count() == 1


def test_no_button_for_a_number_that_cannot_be_dialled(staff_client, loan_bot, twilio_settings):
    lead = make_call(loan_bot, name="Asha", phone="555", outcome="qualified")
    assert "Call now" not in staff_client.get(f"/dashboard/calls/{lead.pk}/").content.decode()


def test_call_now_dials_the_lead_and_shows_the_new_call(staff_client, loan_bot, twilio_settings):
    lead = make_call(loan_bot, name="Asha", phone="+91 98765 43210", outcome="qualified")
    page = staff_client.get(f"/dashboard/calls/{lead.pk}/").content.decode()
    assert "Call now" in page
    response = staff_client.post(f"/dashboard/calls/{lead.pk}/call-now/", follow=True)
    new = Call.objects.exclude(pk=lead.pk).get()
    assert response.redirect_chain[-1][0] == f"/dashboard/calls/{new.pk}/"
    assert (new.channel, new.caller_phone, new.caller_name, new.bot_id, new.status) == ("phone", "+919876543210", "Asha", loan_bot.pk, "created")
    (dialled,) = twilio_settings.requests
    assert dialled.one("To") == "+919876543210" and new.provider_call_id.startswith("CA")
    stream = ElementTree.fromstring(dialled.one("Twiml")).find("./Connect/Stream")
    assert token_call_id(stream.find("Parameter").get("value")) == str(new.pk)
    html = response.content.decode()
    assert 'id="call-progress"' in html and "dialling" in html and "call-progress.js" in html


def test_call_now_needs_staff_and_post(staff_client, loan_bot, twilio_settings):
    from django.test import Client

    lead = make_call(loan_bot, name="Asha", phone="+919876543210", outcome="qualified")
    assert Client().post(f"/dashboard/calls/{lead.pk}/call-now/").status_code == 302  # to the login page
    assert staff_client.get(f"/dashboard/calls/{lead.pk}/call-now/").status_code == 405
    assert not twilio_settings.requests


def test_a_refused_dial_is_reported_on_the_lead_page(staff_client, loan_bot, twilio_settings):
    lead = make_call(loan_bot, name="Asha", phone="+919876543210", outcome="qualified")
    twilio_settings.fail_next(500)
    response = staff_client.post(f"/dashboard/calls/{lead.pk}/call-now/", follow=True)
    assert response.redirect_chain[-1][0] == f"/dashboard/calls/{lead.pk}/"
    assert "Twilio did not place the call" in response.content.decode()


@pytest.mark.django_db(transaction=True)
async def test_carrier_progress_reaches_the_dashboard_socket(staff_user, loan_bot, settings):
    """Status callbacks are broadcast with the carrier's state for the live page."""
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator
    from django.test import AsyncClient

    from calls.persistence import lifecycle
    from config.asgi import application

    from twilio.request_validator import RequestValidator

    from devtools.faketwilio import AUTH_TOKEN

    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    call = await database_sync_to_async(lifecycle.create_phone_call)(loan_bot, caller_phone="+919876543210", provider_call_id="CA" + "3" * 32)
    browser = AsyncClient()
    await browser.aforce_login(staff_user)
    cookie = browser.cookies["sessionid"].value
    comm = WebsocketCommunicator(application, "/ws/dashboard/leads/", headers=[
        (b"cookie", f"sessionid={cookie}".encode()), (b"host", b"testserver"), (b"origin", b"http://testserver"),  # the dashboard page
    ])
    assert (await comm.connect())[0]
    form = {"CallSid": call.provider_call_id, "CallStatus": "ringing"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature("http://testserver/telephony/twilio/status/", form)
    await browser.post("/telephony/twilio/status/", data=form, headers={"X-Twilio-Signature": signature})
    update = await comm.receive_json_from(timeout=10)
    assert (update["call_id"], update["progress"], update["status"]) == (str(call.pk), "ringing", "created")
    await comm.disconnect()
