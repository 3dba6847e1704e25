"""Leads coming in: CSV import (bad rows by line, good rows kept, extra columns as fields,
duplicates merged), numbers normalised to E.164, the do-not-call import, and the web-form
API (`POST /api/campaigns/<id>/leads/`): closed without its key, and a lead that arrives
inside calling hours dialled at once by the serving dialer."""
from __future__ import annotations

import json
import threading
import time as wall
from datetime import time

import pytest

from calls.outbox.runner import Runner
from campaigns.dialer import DialQueue
from campaigns.leads_in import BadLead, import_csv, import_do_not_call
from campaigns.models import DoNotCall, Lead, Pacer
from campaigns.phones import BadNumber, normalise
from devtools.fakecallee import QUALIFIES, Callees, django_sender
from tests.campaigns.conftest import API_KEY
from tests.campaigns.support import campaign

CSV = """name,phone,time_zone,utm_source,amount
Asha,+91 98765 43210,Asia/Kolkata,google,50000
Bob,12345,,fb,
"Rao,
 Ravi",+1 (212) 555-0100,America/New_York,,
Asha again,+919876543210,,newsletter,
Mars,+442079460958,Mars/Base,,
,,,,
Extra,+442079460959,,a,b,c
"""


def test_normalise_to_e164():
    assert normalise("+91 98765-43210") == "+919876543210"
    assert normalise("098765 43210", "IN") == "+919876543210"
    assert normalise("(212) 555-0100", "us") == "+12125550100"
    for bad, why in [("12345", "country code"), ("+91 123", "not a valid"), ("call me", "not a phone"), ("", "no phone")]:
        with pytest.raises(BadNumber, match=why):
            normalise(bad)


def test_csv_keeps_good_rows_reports_bad_ones_by_line_and_merges_duplicates(loan_bot):
    c = campaign(loan_bot, state="draft")
    report = import_csv(c, CSV)
    assert (report.created, report.merged) == (2, 1)
    assert report.errors == [
        (3, "'12345' has no country code (write it as +<country><number>)"),
        (7, "'Mars/Base' is not an IANA time zone (like Asia/Kolkata)"),
        (8, "no phone number"),
        (9, "the row has more cells than the header has columns"),
    ]
    asha = Lead.objects.get(phone="+919876543210")
    assert (asha.name, asha.time_zone) == ("Asha again", "Asia/Kolkata")
    assert asha.fields == {"utm_source": "newsletter", "amount": "50000"}
    rao = Lead.objects.get(phone="+12125550100")
    assert (rao.name, rao.time_zone, rao.fields, rao.state) == ("Rao,\n Ravi", "America/New_York", {}, "queued")


def test_csv_without_a_phone_column_is_refused(loan_bot):
    with pytest.raises(BadLead, match="no 'phone' column"):
        import_csv(campaign(loan_bot), "name,number\nA,+919876543210\n")


def test_do_not_call_import_marks_waiting_leads(loan_bot):
    c = campaign(loan_bot, state="draft")
    import_csv(c, "phone\n+919876543210\n+12125550100\n")
    report = import_do_not_call("phone\n+91 98765 43210\nnot a number\n+919876543210\n")
    assert (report.created, report.merged, [line for line, _ in report.errors]) == (1, 1, [3])
    assert DoNotCall.objects.get().source == "csv"
    assert dict(Lead.objects.values_list("phone", "state")) == {"+919876543210": "do_not_call", "+12125550100": "queued"}
    import_csv(c, "phone\n+91-98765-43210\n")  # arriving again changes nothing
    assert Lead.objects.get(phone="+919876543210").state == "do_not_call"


def post(client, campaign_id: int, body: object, key: str | None = API_KEY):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post(f"/api/campaigns/{campaign_id}/leads/", data=json.dumps(body), content_type="application/json",
                       headers=headers)


def test_api_is_closed_without_its_key(client, loan_bot, settings):
    c = campaign(loan_bot)
    settings.OUTBOUND_API_KEY = ""
    assert post(client, c.pk, {"phone": "+919876543210"}).status_code == 404
    settings.OUTBOUND_API_KEY = API_KEY
    answer = post(client, c.pk, {"phone": "+919876543210"}, key="wrong")
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "unauthorized")
    assert post(client, c.pk, {"phone": "+919876543210"}, key=None).status_code == 401
    assert not Lead.objects.exists()


def test_api_checks_its_input(client, loan_bot, settings):
    settings.OUTBOUND_API_KEY = API_KEY
    c = campaign(loan_bot)
    cases = [
        ({"phone": "12345"}, 400, "bad_lead"), ({"phone": "+919876543210", "time_zone": "Nowhere"}, 400, "bad_lead"),
        ({"phone": 919876543210}, 400, "bad_request"), ({"phone": "+919876543210", "fields": []}, 400, "bad_request"),
        (["+919876543210"], 400, "bad_request"),
    ]
    for body, status, code in cases:
        answer = post(client, c.pk, body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), body
    assert post(client, c.pk + 99, {"phone": "+919876543210"}).json()["error"]["code"] == "unknown_campaign"
    first = post(client, c.pk, {"phone": "098765 43210", "region": "IN", "name": "Asha", "fields": {"loan": "car"}})
    again = post(client, c.pk, {"phone": "+919876543210", "fields": {"amount": "9000"}})
    assert (first.status_code, first.json()["merged"], again.status_code, again.json()["merged"]) == (201, False, 200, True)
    assert Lead.objects.get().fields == {"loan": "car", "amount": "9000"}


@pytest.mark.django_db(transaction=True)
def test_a_web_lead_inside_calling_hours_is_dialled_at_once(dialling, client, loan_bot, settings):
    """The serving runner polls once an hour here: only the wake on the lead's commit can
    make it dial, and it must within 60 s."""
    from campaigns import clock

    clock.set_clock(None)  # the wall clock: a server's runner, as in production
    c = campaign(loan_bot, hours_start=time(0), hours_end=time(23, 59, 59), days=list(range(7)))
    callees = Callees(dialling, django_sender())
    callees.default = QUALIFIES
    runner = Runner([DialQueue()], owner="test-serving", poll_s=3600)
    stop = threading.Event()
    thread = threading.Thread(target=runner.serve, args=(stop,), daemon=True)
    import calls.outbox.runner as runner_module

    runner_module._runner = runner
    try:
        thread.start()
        deadline = wall.monotonic() + 30
        while not Pacer.objects.exists() and wall.monotonic() < deadline:  # its first round is done:
            wall.sleep(0.01)  # from now on it waits on its hour-long poll, and only a wake is faster
        assert Pacer.objects.exists()
        arrived = wall.monotonic()
        assert post(client, c.pk, {"phone": "+919876543210"}).status_code == 201
        deadline = arrived + 60
        while not callees.dials and wall.monotonic() < deadline:
            wall.sleep(0.05)
        assert callees.dials, "the lead was not dialled within 60 s"
        assert callees.dials[0][0] - arrived < 60
    finally:
        runner_module._runner = None
        stop.set()
        runner.wakeup.set()
        thread.join(30)
