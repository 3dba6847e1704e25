"""The HTTP half of the call protocol (docs/protocol.md §1)."""
from __future__ import annotations

import json

import pytest
from django.test import override_settings

from calls.http.tokens import make_token
from calls.models import Call

pytestmark = pytest.mark.django_db


def post_call(client, body, **extra):
    return client.post("/api/calls/", data=json.dumps(body) if not isinstance(body, str) else body,
                        content_type="application/json", **extra)


def test_list_bots_shows_active_bots_only(client, loan_bot, renovation_bot):
    renovation_bot.active = False
    renovation_bot.save()
    response = client.get("/api/bots/")
    assert response.status_code == 200
    bots = response.json()["bots"]
    assert bots == [{"slug": "quickrupee-loan", "name": loan_bot.name, "description": loan_bot.description}]


def test_both_brief_bots_ship_with_three_questions(client):
    slugs = {b["slug"] for b in client.get("/api/bots/").json()["bots"]}
    assert slugs == {"quickrupee-loan", "home-renovation"}


def test_start_call_returns_ids_and_a_call_bound_token(client, loan_bot):
    response = post_call(client, {"bot": "quickrupee-loan", "caller": {"name": "Asha", "phone": "+91 98"}, "mode": "push_to_talk"})
    assert response.status_code == 201
    body = response.json()
    call = Call.objects.get(pk=body["call_id"])
    assert call.caller_name == "Asha" and call.mode == "push_to_talk" and call.status == "created"
    assert body["bot"] == {"slug": "quickrupee-loan", "name": loan_bot.name}
    assert body["ws_url"].startswith(f"/ws/calls/{call.pk}/?token=")
    token = body["ws_url"].split("token=", 1)[1]
    detail = client.get(f"/api/calls/{call.pk}/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert detail.status_code == 200 and detail.json()["status"] == "created"


def test_default_mode_is_vad(client, loan_bot):
    body = post_call(client, {"bot": "quickrupee-loan"}).json()
    assert Call.objects.get(pk=body["call_id"]).mode == "vad"


@pytest.mark.parametrize(
    "body, code",
    [
        ("not json", "bad_json"),
        ([1, 2], "bad_request"),
        ({}, "bad_request"),
        ({"bot": "quickrupee-loan", "mode": "shout"}, "bad_request"),
        ({"bot": "quickrupee-loan", "caller": "Asha"}, "bad_request"),
    ],
)
def test_malformed_bodies_get_json_400(client, loan_bot, body, code):
    response = post_call(client, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]


def test_unknown_or_inactive_bot_is_404(client, loan_bot):
    assert post_call(client, {"bot": "nope"}).status_code == 404
    loan_bot.active = False
    loan_bot.save()
    response = post_call(client, {"bot": "quickrupee-loan"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_bot"


@override_settings(CALL_RATE_LIMIT=3)
def test_rate_limit_per_client_answers_429(client, loan_bot):
    from django.core.cache import cache

    cache.clear()
    statuses = [post_call(client, {"bot": "quickrupee-loan"}, REMOTE_ADDR="10.9.9.9").status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    limited = post_call(client, {"bot": "quickrupee-loan"}, REMOTE_ADDR="10.9.9.9")
    assert limited.json()["error"]["code"] == "rate_limited" and int(limited["Retry-After"]) >= 1
    # Another client is not affected.
    assert post_call(client, {"bot": "quickrupee-loan"}, REMOTE_ADDR="10.9.9.10").status_code == 201


def test_call_detail_needs_the_calls_token_or_staff(client, call, staff_user):
    url = f"/api/calls/{call.pk}/"
    assert client.get(url).status_code == 401
    other = Call.objects.create(bot=call.bot)
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {make_token(str(other.pk))}").status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION="Bearer garbage").status_code == 401
    client.force_login(staff_user)
    assert client.get(url).status_code == 200
    import uuid

    assert client.get(f"/api/calls/{uuid.uuid4()}/").status_code == 404


def test_expired_token_is_refused(client, call, settings):
    token = make_token(str(call.pk))
    settings.CALL_TOKEN_MAX_AGE = -1
    assert client.get(f"/api/calls/{call.pk}/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_call_detail_shape(client, call):
    from bots.dialogue import AnswerRecord
    from calls.persistence import lifecycle

    lifecycle.add_turn(str(call.pk), 0, "bot", "Hello. Are you salaried?")
    lifecycle.add_turn(str(call.pk), 1, "caller", "yes")
    lifecycle.record_answer(str(call.pk), AnswerRecord("salaried", "Are you salaried?", 1, "yes", True, True, True, 1))
    lifecycle.add_latency(str(call.pk), 1, {"asr": 300.0, "nlu": 0.2, "tts_first_audio": 1.0, "response": 320.0}, {"asr": "whisper-local"})
    body = client.get(f"/api/calls/{call.pk}/", HTTP_AUTHORIZATION=f"Bearer {make_token(str(call.pk))}").json()
    assert body["answers"] == [
        {"question": "salaried", "question_text": "Are you salaried?", "transcript": "yes", "value": True,
         "understood": True, "qualifies": True, "attempts": 1}
    ]
    assert [(t["speaker"], t["text"]) for t in body["turns"]] == [("bot", "Hello. Are you salaried?"), ("caller", "yes")]
    assert body["latency"][0]["turn"] == 1 and body["latency"][0]["response_ms"] == 320.0
    assert body["latency"][0]["providers"]["asr"] == "whisper-local"
