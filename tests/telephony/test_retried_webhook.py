"""Issue 31 B3: a retried Twilio webhook never creates two calls, even when the retry
races the first request (two workers, one PostgreSQL): the database keeps one call per
carrier call id (`one_call_per_carrier_call_id`, migration 0006, which also makes
the ids of calls created twice before it unique)."""
from __future__ import annotations

import threading
import time
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone
from twilio.request_validator import RequestValidator

from calls.http.tokens import token_call_id
from calls.models import Call
from calls.persistence import lifecycle
from devtools.faketwilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

SID = "CA" + "7" * 32
VOICE = "/telephony/twilio/voice/?bot=quickrupee-loan"


@pytest.mark.django_db
def test_the_database_keeps_one_call_per_carrier_call_id(loan_bot):
    Call.objects.create(bot=loan_bot, channel=Call.Channel.PHONE, provider_call_id=SID)
    with pytest.raises(IntegrityError), transaction.atomic():
        Call.objects.create(bot=loan_bot, channel=Call.Channel.PHONE, provider_call_id=SID)
    for _ in range(3):  # calls without a carrier id (web calls) are not constrained
        Call.objects.create(bot=loan_bot)
    assert Call.objects.filter(provider_call_id="").count() == 3


def _voice_webhook(results: list) -> None:
    """Twilio's retry of the Voice webhook, signed, in a thread of its own (a second worker)."""
    form = {"AccountSid": ACCOUNT_SID, "CallSid": SID, "From": "+14155550123", "To": FROM_NUMBER, "CallStatus": "ringing"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature("http://testserver" + VOICE, form)
    try:
        response = Client().post(VOICE, data=urlencode(form), content_type="application/x-www-form-urlencoded",
                                 HTTP_X_TWILIO_SIGNATURE=signature)
        results.append(response)
    finally:
        connection.close()


def _someone_waits_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
        return cursor.fetchone()[0] > 0


@pytest.mark.allow_skip("two requests in two open transactions at once: runs in the PostgreSQL pass (SQLite serialises writers)")
@pytest.mark.django_db(transaction=True)
def test_a_retry_racing_the_first_webhook_gets_the_same_call(brief_bots, settings):
    if connection.vendor != "postgresql":
        pytest.skip("two requests in two transactions at once: PostgreSQL (SQLite serialises writers)")
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    first_in, release = threading.Event(), threading.Event()
    first: list[Call] = []

    def first_request() -> None:  # the first webhook, its call inserted and not yet committed
        try:
            with transaction.atomic():
                first.append(lifecycle.create_phone_call(brief_bots["quickrupee-loan"], caller_phone="+14155550123",
                                                         provider_call_id=SID))
                first_in.set()
                release.wait(30)
        finally:
            connection.close()

    results: list = []
    one = threading.Thread(target=first_request)
    one.start()
    assert first_in.wait(30)
    retry = threading.Thread(target=_voice_webhook, args=(results,))
    retry.start()
    # The retry either finished (it did not see the first call: a second one) or waits
    # on the first's uncommitted row in the unique index: then the first commits.
    deadline = time.monotonic() + 30
    while retry.is_alive() and not _someone_waits_on_a_lock():
        assert time.monotonic() < deadline, "the retry neither finished nor waited"
        time.sleep(0.02)  # a bounded poll of the database's own state
    release.set()
    one.join(30)
    retry.join(30)

    assert Call.objects.filter(provider_call_id=SID).count() == 1 and Call.objects.count() == 1
    (response,) = results
    assert response.status_code == 200
    token = ElementTree.fromstring(response.content).find("./Connect/Stream/Parameter").get("value")
    assert token_call_id(token) == str(first[0].pk)


@pytest.mark.django_db(transaction=True)
def test_the_migration_makes_ids_of_calls_created_twice_unique(brief_bots):
    executor = MigrationExecutor(connection)
    before, after = [("calls", "0005_call_end_provisional")], executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    try:
        apps = executor.loader.project_state(before).apps
        OldCall = apps.get_model("calls", "Call")
        bot_id = brief_bots["quickrupee-loan"].pk
        now = timezone.now()
        never_joined = OldCall.objects.create(bot_id=bot_id, channel="phone", provider_call_id=SID)
        joined = OldCall.objects.create(bot_id=bot_id, channel="phone", provider_call_id=SID, status="ended",
                                        started_at=now)
        other = OldCall.objects.create(bot_id=bot_id, channel="phone", provider_call_id="CA" + "8" * 32)
        web = [OldCall.objects.create(bot_id=bot_id) for _ in range(2)]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(after)
    ids = dict(Call.objects.values_list("pk", "provider_call_id"))
    assert ids[joined.pk] == SID  # the call the carrier's stream joined keeps the id
    assert ids[never_joined.pk] == "" and ids[other.pk] == "CA" + "8" * 32
    assert [ids[w.pk] for w in web] == ["", ""]
