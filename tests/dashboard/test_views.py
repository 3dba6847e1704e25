"""The lead dashboard pages, through the Django test client on a real database."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from calls.models import Call, LatencySample
from dashboard.leads import callback_of
from tests.dashboard.conftest import answer, make_call

pytestmark = pytest.mark.django_db

PAGES = ["/dashboard/", "/dashboard/export.csv", "/dashboard/bots/quickrupee-loan/"]


def row_ids(response) -> list[str]:
    return re.findall(r'<tr id="call-([0-9a-f-]{36})"', response.content.decode())


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_is_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={url}"


def test_call_page_needs_login_too(client, call):
    response = client.get(f"/dashboard/calls/{call.pk}/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("url", PAGES)
def test_non_staff_user_is_refused(client, django_user_model, url, loan_bot):
    user = django_user_model.objects.create_user(username="caller", password="x-pass-123")
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_qualified_leads_first_then_newest(staff_client, leads):
    response = staff_client.get("/dashboard/")
    assert response.status_code == 200
    expected = [leads["qualified"], leads["hot"], leads["running"], leads["rejected"]]
    assert row_ids(response) == [str(c.pk) for c in expected]


def test_outcome_shows_the_bot_label_and_transfer_flag(staff_client, leads):
    html = staff_client.get("/dashboard/").content.decode()
    hot_row = re.search(rf'<tr id="call-{leads["hot"].pk}".*?</tr>', html, re.S).group(0)
    assert "hot lead" in hot_row and "transfer to specialist" in hot_row
    loan_row = re.search(rf'<tr id="call-{leads["qualified"].pk}".*?</tr>', html, re.S).group(0)
    assert "eligible" in loan_row and "transfer to specialist" not in loan_row


@pytest.mark.parametrize(
    "query, expected",
    [
        ("bot=home-renovation", ["hot"]),
        ("outcome=rejected", ["rejected"]),
        ("outcome=none", ["running"]),
        ("status=active", ["running"]),
        ("q=ravi", ["rejected"]),
        ("q=9876543210", ["qualified"]),  # phone digits match without the spaces
        ("q=%2B1+555", ["hot"]),
        ("bot=quickrupee-loan&outcome=qualified", ["qualified"]),
    ],
)
def test_filters_and_search(staff_client, leads, query, expected):
    response = staff_client.get(f"/dashboard/?{query}")
    assert row_ids(response) == [str(leads[name].pk) for name in expected]


def test_lead_status_and_date_filters(staff_client, leads):
    Call.objects.filter(pk=leads["rejected"].pk).update(lead_status="won")
    assert row_ids(staff_client.get("/dashboard/?lead_status=won")) == [str(leads["rejected"].pk)]
    today = timezone.localdate()
    recent = row_ids(staff_client.get(f"/dashboard/?date_from={today - timedelta(days=1)}"))
    assert str(leads["hot"].pk) not in recent and len(recent) == 3
    old = row_ids(staff_client.get(f"/dashboard/?date_to={today - timedelta(days=2)}"))
    assert old == [str(leads["hot"].pk)]


def test_invalid_filter_value_is_ignored_not_an_error(staff_client, leads):
    response = staff_client.get("/dashboard/?date_from=not-a-date&bot=home-renovation")
    assert response.status_code == 200
    assert row_ids(response) == [str(leads["hot"].pk)]


def test_pagination_keeps_filters(staff_client, loan_bot):
    for i in range(30):
        make_call(loan_bot, name=f"Caller {i}", outcome="rejected", age=timedelta(minutes=i))
    first = staff_client.get("/dashboard/?bot=quickrupee-loan")
    assert len(row_ids(first)) == 25
    assert "?bot=quickrupee-loan&amp;page=2" in first.content.decode()
    second = staff_client.get("/dashboard/?bot=quickrupee-loan&page=2")
    assert len(row_ids(second)) == 5


def test_list_does_not_query_per_row(staff_client, loan_bot, renovation_bot, django_assert_max_num_queries):
    for i in range(20):
        make_call(loan_bot if i % 2 else renovation_bot, name=f"C{i}", outcome="qualified" if i % 3 else "",
                  callback_due_at=timezone.now())
    with django_assert_max_num_queries(8):
        response = staff_client.get("/dashboard/")
    assert len(row_ids(response)) == 20


def test_overdue_callback_is_flagged_only_while_lead_is_new(staff_client, leads):
    html = staff_client.get("/dashboard/").content.decode()
    row = re.search(rf'<tr id="call-{leads["qualified"].pk}".*?</tr>', html, re.S).group(0)
    assert "overdue by 3 min" in row and 'class="callback overdue"' in row

    Call.objects.filter(pk=leads["qualified"].pk).update(lead_status="contacted")
    html = staff_client.get("/dashboard/").content.decode()
    row = re.search(rf'<tr id="call-{leads["qualified"].pk}".*?</tr>', html, re.S).group(0)
    assert "overdue" not in row


def test_callback_wording(loan_bot):
    now = timezone.now()
    call = Call(bot=loan_bot, callback_due_at=now + timedelta(minutes=6, seconds=30))
    assert callback_of(call, now).text == "due in 7 min" and not callback_of(call, now).overdue
    call.callback_due_at = now - timedelta(minutes=3, seconds=10)
    assert callback_of(call, now).text == "overdue by 3 min" and callback_of(call, now).overdue
    call.callback_due_at = now - timedelta(hours=2, minutes=5)
    assert callback_of(call, now).text == "overdue by 2 h 5 min"
    call.callback_due_at = None
    assert callback_of(call, now) is None


def test_csv_export_has_filtered_rows_and_answer_columns(staff_client, leads):
    response = staff_client.get("/dashboard/export.csv?bot=quickrupee-loan&outcome=qualified")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 1
    row = rows[0]
    assert row["call_id"] == str(leads["qualified"].pk)
    assert row["caller_name"] == "Asha Rao" and row["outcome_label"] == "eligible"
    assert (row["salaried"], row["monthly_salary"], row["metro_city"]) == ("yes", "40000", "yes")
    assert "owns_home" not in row  # only this bot's questions


def test_csv_export_of_everything_has_every_bots_questions(staff_client, leads):
    response = staff_client.get("/dashboard/export.csv")
    reader = csv.DictReader(io.StringIO(response.content.decode()))
    rows = {r["call_id"]: r for r in reader}
    assert len(rows) == 4
    assert {"salaried", "monthly_salary", "metro_city", "owns_home", "budget", "start_soon"} <= set(reader.fieldnames)
    assert rows[str(leads["rejected"].pk)]["monthly_salary"] == "12000"
    assert rows[str(leads["rejected"].pk)]["metro_city"] == ""
    assert rows[str(leads["hot"].pk)]["transfer"] == "yes"


def test_call_page_shows_transcript_answers_and_latency(staff_client, conversation):
    response = staff_client.get(f"/dashboard/calls/{conversation.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    # transcript in order, speakers marked
    positions = [html.index(text) for text in
                 ["Hello, this is QuickRupee.", "Are you a salaried employee?", "yes I am", "forty thousand"]]
    assert positions == sorted(positions)
    assert 'class="turn caller' in html and 'class="turn bot' in html
    # answers
    assert "Question monthly_salary?" in html and "40000" in html
    # latency table: a row per turn with every stage and its provider
    assert response.context["latency_rows"][0]["turn"] == 1
    assert [s.ms for s in response.context["latency_rows"][1]["cells"]] == [260.0, 4.0, 150.0, 455.0]
    assert "455 ms" in html and "local-whisper" in html and "piper" in html


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("caller_silent", "(caller stayed silent)"),
        ("not_qualified:monthly_salary", "(monthly salary did not qualify)"),
        ("unclear:metro_city", "(metro city stayed unclear)"),
        ("something_new", "(something new)"),
    ],
)
def test_call_page_says_why_the_call_ended(staff_client, call, reason, shown):
    from django.utils import timezone

    call.status, call.outcome, call.end_reason, call.ended_at = "ended", "incomplete", reason, timezone.now()
    call.save()
    assert shown in staff_client.get(f"/dashboard/calls/{call.pk}/").content.decode()


def test_call_page_query_count_is_bounded(staff_client, conversation, django_assert_max_num_queries):
    with django_assert_max_num_queries(9):
        staff_client.get(f"/dashboard/calls/{conversation.pk}/")


def test_lead_status_update_stores_who_and_when(staff_client, staff_user, leads):
    call = leads["qualified"]
    before = timezone.now()
    response = staff_client.post(f"/dashboard/calls/{call.pk}/", {"lead_status": "contacted", "lead_note": "Rang back"})
    assert response.status_code == 302 and response["Location"] == f"/dashboard/calls/{call.pk}/"
    call.refresh_from_db()
    assert call.lead_status == "contacted" and call.lead_note == "Rang back"
    assert call.lead_updated_by == staff_user and call.lead_updated_at >= before
    page = staff_client.get(response["Location"]).content.decode()
    assert "Lead marked contacted." in page and "Last updated by agent" in page


def test_invalid_lead_status_is_refused(staff_client, leads):
    call = leads["qualified"]
    response = staff_client.post(f"/dashboard/calls/{call.pk}/", {"lead_status": "bribed"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    call.refresh_from_db()
    assert call.lead_status == "new" and call.lead_updated_at is None


def test_unknown_call_is_404(staff_client, db):
    assert staff_client.get("/dashboard/calls/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_bot_stats_funnel_numbers(staff_client, leads, loan_bot):
    # one more loan call that failed at question 1, and one never connected (not "started")
    failed = make_call(loan_bot, name="X", outcome="rejected")
    answer(failed, 1, "salaried", False, False)
    make_call(loan_bot, status=Call.Status.CREATED)
    response = staff_client.get("/dashboard/bots/quickrupee-loan/")
    assert response.status_code == 200
    steps = [(s.label, s.count) for s in response.context["steps"]]
    assert steps == [
        ("Calls started", 4),
        ("Passed Q1: salaried", 2),
        ("Passed Q2: monthly_salary", 1),
        ("Passed Q3: metro_city", 1),
        ("Eligible", 1),
    ]
    html = response.content.decode()
    assert '<svg class="chart funnel"' in html and html.count('class="bar"') == 5
    assert "25%" in html  # 1 of 4 qualified


def test_bot_stats_latency_chart(staff_client, conversation):
    earlier = LatencySample.objects.filter(stage="response").first()
    LatencySample.objects.filter(pk=earlier.pk).update(created_at=timezone.now() - timedelta(hours=5))
    response = staff_client.get("/dashboard/bots/quickrupee-loan/?days=1")
    html = response.content.decode()
    assert '<svg class="chart line"' in html and "polyline" in html
    buckets = response.context["latency"].buckets
    assert [b.count for b in buckets] == [1, 1] and response.context["latency"].bucket == "hour"
    stage_rows = dict(response.context["stage_rows"])
    assert stage_rows["Response (end of speech to first audio)"].p50 == pytest.approx(437.5)


def test_bot_stats_without_data_says_so(staff_client, renovation_bot):
    response = staff_client.get("/dashboard/bots/home-renovation/?days=oops")
    assert response.status_code == 200 and response.context["days"] == 7
    assert "No response latency recorded" in response.content.decode()


def test_list_links_to_stats_and_calls(staff_client, leads):
    html = staff_client.get("/dashboard/").content.decode()
    assert 'href="/dashboard/bots/home-renovation/"' in html
    assert f'href="/dashboard/calls/{leads["hot"].pk}/"' in html
    assert 'src="/static/dashboard/live.js"' in html
