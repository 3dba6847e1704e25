"""Twilio's webhooks (voice, status) with real signatures, and the outbound-call API
dialling through the official SDK against a local fake of Twilio's REST API."""
from __future__ import annotations

import json
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from twilio.request_validator import RequestValidator

from calls.http.tokens import token_call_id
from calls.models import Call
from calls.transport.phone import twilio_rest
from devtools.faketwilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
VOICE = "/telephony/twilio/voice/?bot=quickrupee-loan"


def inbound_form(sid: str = "CA" + "1" * 32, caller: str = "+919876543210") -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "CallSid": sid, "From": caller, "To": FROM_NUMBER, "CallStatus": "ringing", "Direction": "inbound"}


def post_signed(client, path: str, form: dict[str, str], *, token: str = AUTH_TOKEN, base: str = "http://testserver", signature: str | None = None, **extra):
    if signature is None:
        signature = RequestValidator(token).compute_signature(base + path, form)
    return client.post(path, data=urlencode(form), content_type=FORM, HTTP_X_TWILIO_SIGNATURE=signature, **extra)


def stream_of(response) -> tuple[str, str]:
    """The <Stream url> and its token <Parameter> from TwiML."""
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    root = ElementTree.fromstring(response.content)
    stream = root.find("./Connect/Stream")
    assert stream is not None, response.content
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    return stream.get("url"), params["token"]


# ---------------------------------------------------------------------------- voice webhook
@pytest.fixture(autouse=True)
def _twilio_token(settings):
    """Twilio's endpoints exist only with an auth token (tests of their absence unset it)."""
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN


def test_voice_webhook_creates_a_phone_call_and_connects_a_stream(client, brief_bots):
    response = post_signed(client, VOICE, inbound_form())
    url, token = stream_of(response)
    assert url == "ws://testserver/ws/telephony/twilio/"  # plain HTTP request -> ws://
    call = Call.objects.get()
    assert token_call_id(token) == str(call.pk)
    assert (call.channel, call.caller_phone, call.provider_call_id, call.status, call.mode) == (
        "phone", "+919876543210", "CA" + "1" * 32, "created", "vad"
    )
    assert call.bot.slug == "quickrupee-loan" and call.input_sample_rate == 8000


def test_signed_webhook_behind_a_public_https_address(client, brief_bots, settings):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.PUBLIC_BASE_URL = "https://bot.example.com"
    response = post_signed(client, VOICE, inbound_form(), base="https://bot.example.com")
    url, token = stream_of(response)
    assert url == "wss://bot.example.com/ws/telephony/twilio/"
    assert token_call_id(token) == str(Call.objects.get().pk)


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl", None])
def test_a_wrong_signature_is_403_and_creates_no_call(client, brief_bots, settings, signature):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    if signature is None:  # signed with another account's token
        response = post_signed(client, VOICE, inbound_form(), token="someone-elses-token")
    elif signature:
        response = post_signed(client, VOICE, inbound_form(), signature=signature)
    else:
        response = client.post(VOICE, data=urlencode(inbound_form()), content_type=FORM)
    assert response.status_code == 403
    assert not Call.objects.exists()


def test_a_signature_for_other_form_values_is_refused(client, brief_bots, settings):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    signature = RequestValidator(AUTH_TOKEN).compute_signature("http://testserver" + VOICE, inbound_form())
    tampered = inbound_form(caller="+15550000000")
    response = post_signed(client, VOICE, tampered, signature=signature)
    assert response.status_code == 403 and not Call.objects.exists()


def test_a_retried_webhook_gets_the_same_call(client, brief_bots):
    first = stream_of(post_signed(client, VOICE, inbound_form()))
    second = stream_of(post_signed(client, VOICE, inbound_form()))
    assert token_call_id(first[1]) == token_call_id(second[1]) and Call.objects.count() == 1


def test_an_unknown_bot_is_told_to_the_caller_and_hung_up(client, brief_bots):
    response = post_signed(client, "/telephony/twilio/voice/?bot=nope", inbound_form())
    root = ElementTree.fromstring(response.content)
    assert response.status_code == 200 and root.find("Say") is not None and root.find("Hangup") is not None
    assert not Call.objects.exists()


# ---------------------------------------------------------------------------- status callback
@pytest.mark.parametrize(
    "status, reason", [("completed", "caller_hangup"), ("no-answer", "no_answer"), ("failed", "call_failed"), ("busy", "line_busy")]
)
def test_status_callback_ends_an_open_call(client, brief_bots, settings, status, reason):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    url, token = stream_of(post_signed(client, VOICE, inbound_form()))
    form = {"AccountSid": ACCOUNT_SID, "CallSid": "CA" + "1" * 32, "CallStatus": status}
    assert post_signed(client, "/telephony/twilio/status/", form).status_code == 204
    call = Call.objects.get()
    assert (call.status, call.outcome, call.end_reason) == ("ended", "incomplete", reason)


def test_status_callback_keeps_a_finished_calls_outcome_and_ignores_progress(client, brief_bots, settings):
    from calls.persistence import lifecycle

    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    post_signed(client, VOICE, inbound_form())
    call = Call.objects.get()
    form = {"AccountSid": ACCOUNT_SID, "CallSid": call.provider_call_id, "CallStatus": "in-progress"}
    assert post_signed(client, "/telephony/twilio/status/", form).status_code == 204
    assert Call.objects.get().status == "created"
    lifecycle.end_call(str(call.pk), "qualified", "all_answers_qualify")
    form["CallStatus"] = "completed"
    post_signed(client, "/telephony/twilio/status/", form)
    assert Call.objects.get().outcome == "qualified"


def test_status_callback_with_a_wrong_signature_touches_no_call(client, brief_bots, settings):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    post_signed(client, VOICE, inbound_form())
    form = {"AccountSid": ACCOUNT_SID, "CallSid": "CA" + "1" * 32, "CallStatus": "completed"}
    assert post_signed(client, "/telephony/twilio/status/", form, token="wrong").status_code == 403
    assert Call.objects.get().status == "created"


# ---------------------------------------------------------------------------- outbound API
def outbound(client, body, **headers):
    return client.post("/api/outbound-calls/", data=json.dumps(body), content_type="application/json", **headers)


def test_outbound_is_503_without_a_twilio_account(client, brief_bots, settings):
    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = settings.TWILIO_FROM_NUMBER = ""
    settings.OUTBOUND_API_KEY = "k" * 32
    response = outbound(client, {"bot": "quickrupee-loan", "to": "+919876543210"}, HTTP_AUTHORIZATION="Bearer " + "k" * 32)
    assert response.status_code == 503 and response.json()["error"]["code"] == "telephony_disabled"
    assert not Call.objects.exists()


def test_outbound_dials_through_twilio_with_the_same_twiml(client, brief_bots, settings, twilio_settings):
    settings.OUTBOUND_API_KEY = "secret-outbound-key"
    response = outbound(
        client, {"bot": "home-renovation", "to": "+14155550100", "caller": {"name": "Dana"}},
        HTTP_AUTHORIZATION="Bearer secret-outbound-key",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    call = Call.objects.get(pk=body["call_id"])
    assert call.provider_call_id == body["provider_call_id"] and body["provider_call_id"].startswith("CA")
    assert (call.channel, call.caller_phone, call.caller_name, call.bot.slug) == ("phone", "+14155550100", "Dana", "home-renovation")
    (dialled,) = [r for r in twilio_settings.requests if r.path.endswith("/Calls.json")]
    assert dialled.one("To") == "+14155550100" and dialled.one("From") == FROM_NUMBER
    assert dialled.one("StatusCallback") == "https://bot.example.com/telephony/twilio/status/"
    assert set(dialled.form["StatusCallbackEvent"]) >= {"ringing", "answered", "completed"}
    root = ElementTree.fromstring(dialled.one("Twiml"))
    stream = root.find("./Connect/Stream")
    assert stream.get("url") == "wss://bot.example.com/ws/telephony/twilio/"
    assert token_call_id(stream.find("Parameter").get("value")) == str(call.pk)


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"bot": "quickrupee-loan", "to": "9876543210"}, 400, "bad_number"),
        ({"bot": "quickrupee-loan", "to": "+0123"}, 400, "bad_number"),
        ({"bot": "quickrupee-loan"}, 400, "bad_number"),
        ({"to": "+919876543210"}, 400, "bad_request"),
        ({"bot": "nope", "to": "+919876543210"}, 404, "unknown_bot"),
    ],
)
def test_outbound_refuses_bad_requests(client, brief_bots, settings, twilio_settings, body, status, code):
    settings.OUTBOUND_API_KEY = "secret-outbound-key"
    response = outbound(client, body, HTTP_AUTHORIZATION="Bearer secret-outbound-key")
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert not twilio_settings.requests and not Call.objects.exists()


@pytest.mark.parametrize("auth", [None, "Bearer wrong-key", "Bearer "])
def test_outbound_needs_the_key_or_staff(client, brief_bots, settings, twilio_settings, auth):
    settings.OUTBOUND_API_KEY = "secret-outbound-key"
    headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
    response = outbound(client, {"bot": "quickrupee-loan", "to": "+919876543210"}, **headers)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert not twilio_settings.requests and not Call.objects.exists()


def test_outbound_from_a_staff_session_needs_the_csrf_token(brief_bots, staff_user, twilio_settings, call):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_user)
    refused = outbound(browser, {"bot": "quickrupee-loan", "to": "+919876543210"})  # the number of `call`
    assert refused.status_code == 403 and Call.objects.count() == 1
    browser.get("/dashboard/")  # sets the csrftoken cookie
    token = browser.cookies["csrftoken"].value
    placed = outbound(browser, {"bot": "quickrupee-loan", "to": "+919876543210"}, HTTP_X_CSRFTOKEN=token)
    assert placed.status_code == 201 and Call.objects.count() == 2


def test_a_refused_dial_is_a_502_and_the_call_is_stored_as_failed(client, brief_bots, settings, twilio_settings):
    settings.OUTBOUND_API_KEY = "secret-outbound-key"
    twilio_settings.fail_next(500)
    response = outbound(client, {"bot": "quickrupee-loan", "to": "+919876543210"}, HTTP_AUTHORIZATION="Bearer secret-outbound-key")
    assert response.status_code == 502 and response.json()["error"]["code"] == "dial_failed"
    call = Call.objects.get()
    assert (call.status, call.outcome, call.end_reason) == ("ended", "error", "dial_failed")


def test_wrong_twilio_credentials_fail_the_dial_cleanly(client, brief_bots, settings, twilio_settings):
    settings.OUTBOUND_API_KEY = "secret-outbound-key"
    settings.TWILIO_AUTH_TOKEN = "not-the-token"
    response = outbound(client, {"bot": "quickrupee-loan", "to": "+919876543210"}, HTTP_AUTHORIZATION="Bearer secret-outbound-key")
    assert response.status_code == 502 and twilio_settings.requests[-1].status == 401


# ---------------------------------------------------------------------------- REST hang-up
def test_hang_up_goes_through_the_sdk(twilio_settings):
    assert twilio_rest.hang_up("CA" + "2" * 32) is True
    (update,) = twilio_settings.updates_of("CA" + "2" * 32)
    assert update.one("Status") == "completed"


def test_hang_up_without_an_account_does_nothing(settings, fake_twilio):
    settings.TWILIO_ACCOUNT_SID = ""
    assert twilio_rest.hang_up("CA" + "2" * 32) is False and not fake_twilio.requests
