"""The read-only call admin (calls/admin.py); kept with the other staff-surface tests."""
from __future__ import annotations

import pytest

from calls.models import Answer, LatencySample, Turn

pytestmark = pytest.mark.django_db


@pytest.fixture
def recorded(call):
    Turn.objects.create(call=call, index=0, speaker="bot", text="Are you a salaried employee?")
    Turn.objects.create(call=call, index=1, speaker="caller", text="yes I am")
    Answer.objects.create(call=call, order=1, question_key="salaried", question_text="Salaried?", value=True,
                          understood=True, qualifies=True, attempts=1, transcript="yes I am")
    LatencySample.objects.create(call=call, turn=1, stage="response", ms=432.0, provider="piper")
    return call


def test_call_change_page_shows_turns_and_answers_read_only(admin_client, recorded):
    response = admin_client.get(f"/admin/calls/call/{recorded.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "yes I am" in html and "Are you a salaried employee?" in html
    form = response.context["adminform"].form
    assert set(form.fields) == {"lead_status", "lead_note"}  # everything else is read-only
    assert not response.context["has_add_permission"] and not response.context["has_delete_permission"]


def test_lead_fields_are_editable_and_stamped(admin_client, admin_user, recorded):
    response = admin_client.post(f"/admin/calls/call/{recorded.pk}/change/",
                                 {"lead_status": "won", "lead_note": "Signed",
                                  "turns-TOTAL_FORMS": "0", "turns-INITIAL_FORMS": "0",
                                  "answers-TOTAL_FORMS": "0", "answers-INITIAL_FORMS": "0"})
    assert response.status_code == 302
    recorded.refresh_from_db()
    assert recorded.lead_status == "won" and recorded.lead_updated_by == admin_user


@pytest.mark.parametrize("model", ["call", "answer", "latencysample"])
def test_no_adding_or_deleting_records(admin_client, recorded, model):
    assert admin_client.get(f"/admin/calls/{model}/add/").status_code == 403
    listing = admin_client.get(f"/admin/calls/{model}/")
    assert listing.status_code == 200 and "delete_selected" not in listing.content.decode()


@pytest.mark.parametrize(
    "url, expected",
    [
        ("/admin/calls/call/?q=Asha", 1),
        ("/admin/calls/call/?q=nobody", 0),
        ("/admin/calls/call/?outcome=qualified", 0),
        ("/admin/calls/latencysample/?stage=response&provider=piper", 1),
        ("/admin/calls/latencysample/?stage=asr", 0),
        ("/admin/calls/answer/?qualifies__exact=1", 1),
    ],
)
def test_filters_and_search(admin_client, recorded, url, expected):
    response = admin_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == expected


def test_search_by_call_id(admin_client, recorded):
    response = admin_client.get(f"/admin/calls/call/?q={str(recorded.pk)[:8]}")
    assert response.context["cl"].result_count == 1
