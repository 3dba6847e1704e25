"""Staff-side hardening: CSV formula cells, the "Sales agents" group, login throttling,
and which calls count as leads."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.cache import caches
from django.utils import timezone

from calls.models import Call
from tests.dashboard.conftest import make_call

pytestmark = pytest.mark.django_db


def test_csv_export_escapes_formula_cells(staff_client, loan_bot):
    nasty = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]
    for text in nasty:
        make_call(loan_bot, name=text, phone="+91 98765 43210", lead_note="=cmd|' /C calc'!A0", outcome="rejected")
    make_call(loan_bot, name="Asha Rao", outcome="rejected")
    rows = list(csv.DictReader(io.StringIO(staff_client.get("/dashboard/export.csv").content.decode())))
    names = {row["caller_name"] for row in rows}
    assert names == {"'" + text for text in nasty} | {"Asha Rao"}
    assert all(row["lead_note"] in ("", "'=cmd|' /C calc'!A0") for row in rows)
    assert all(not row[key].startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for key in row)


@pytest.fixture
def agent(django_user_model):
    user = django_user_model.objects.create_user(username="sales1", password="a-long-pass-42!", is_staff=True)
    user.groups.add(Group.objects.get(name="Sales agents"))
    return user


def test_sales_agents_group_can_use_the_dashboard_but_not_edit_bots(client, agent, leads):
    client.force_login(agent)
    call = leads["qualified"]
    assert client.get("/dashboard/").status_code == 200
    assert client.get("/dashboard/export.csv").status_code == 200
    assert client.get(f"/dashboard/calls/{call.pk}/").status_code == 200
    response = client.post(f"/dashboard/calls/{call.pk}/", {"lead_status": "contacted", "lead_note": "rang back"})
    assert response.status_code == 302
    call.refresh_from_db()
    assert call.lead_status == "contacted" and call.lead_updated_by == agent
    assert client.get(f"/admin/bots/bot/{call.bot_id}/change/").status_code in (200, 403)  # view only
    assert client.post(f"/admin/bots/bot/{call.bot_id}/change/", {"name": "hacked"}).status_code == 403


def test_staff_without_the_group_are_refused(client, django_user_model, leads):
    user = django_user_model.objects.create_user(username="intern", password="a-long-pass-43!", is_staff=True)
    client.force_login(user)
    assert client.get("/dashboard/").status_code == 403
    assert client.get("/dashboard/export.csv").status_code == 403


def test_login_is_throttled_after_repeated_failures(client, agent, settings):
    settings.AXES_FAILURE_LIMIT = 3
    caches["default"].clear()
    form = {"username": "sales1", "password": "wrong", "next": "/dashboard/"}
    statuses = [client.post("/admin/login/", form, REMOTE_ADDR="198.51.100.20").status_code for _ in range(3)]
    assert statuses[:2] == [200, 200]  # the form again, with an error
    assert statuses[2] == 429
    # Locked out: even the right password is refused from there for the cool-off time.
    right = {**form, "password": "a-long-pass-42!"}
    assert client.post("/admin/login/", right, REMOTE_ADDR="198.51.100.20").status_code == 429
    # Another address is not locked out by someone else's failures.
    assert client.post("/admin/login/", right, REMOTE_ADDR="198.51.100.21").status_code == 302


def test_standard_password_validators_are_on():
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ("password123", "12345678901", "short"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("correct horse battery staple 9")


def test_expired_never_connected_calls_leave_the_lead_list(staff_client, loan_bot, settings):
    old = make_call(loan_bot, name="Ghost", status=Call.Status.CREATED, age=timedelta(seconds=settings.CALL_TOKEN_MAX_AGE + 60))
    fresh = make_call(loan_bot, name="Fresh", status=Call.Status.CREATED, age=timedelta(seconds=5))
    html = staff_client.get("/dashboard/").content.decode()
    assert str(fresh.pk) in html and str(old.pk) not in html
