"""The campaign pages of the dashboard through Django's test client: who may see and change
what, start/pause/resume, CSV upload, the export, the lead page, and the progress counts the
page polls following a lead through the dialer's own state changes (campaigns.dialer,
campaigns.outcomes)."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from calls.models import Call
from calls.persistence import lifecycle
from campaigns import outcomes
from campaigns.dialer import start_attempt
from campaigns.models import Attempt, Campaign, DoNotCall, Lead
from tests.dashboard.conftest import answer

pytestmark = pytest.mark.django_db

S = Lead.State


def staff(django_user_model, username: str, *perms: str, group: str | None = None) -> Client:
    """A logged-in staff member with exactly these `app.codename` permissions."""
    user = django_user_model.objects.create_user(username=username, password="x-pass-123456", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    browser = Client()
    browser.force_login(user)
    return browser


@pytest.fixture
def campaign(loan_bot) -> Campaign:
    return Campaign.objects.create(name="Spring loans", bot=loan_bot, time_zone="Asia/Kolkata",
                                   state=Campaign.State.RUNNING, started_at=timezone.now())


def lead(campaign: Campaign, phone: str, state: str = S.QUEUED, **fields) -> Lead:
    return Lead.objects.create(campaign=campaign, phone=phone, state=state, **fields)


def dialled(lead_row: Lead, *, outcome: str = "", result: str = "", amd: str = "", reason: str = "") -> Attempt:
    """One more attempt of `lead_row` with the call it led to (ended with `outcome` when given)."""
    call = lifecycle.create_phone_call(lead_row.campaign.bot, caller_phone=lead_row.phone, caller_name=lead_row.name)
    number = Attempt.objects.filter(lead=lead_row).count() + 1
    attempt = Attempt.objects.create(lead=lead_row, number=number, call=call, planned_at=timezone.now(),
                                     result=result, amd_result=amd, carrier_status="completed")
    if outcome:
        Call.objects.filter(pk=call.pk).update(status=Call.Status.ENDED, outcome=outcome, started_at=timezone.now(),
                                               end_reason=reason or outcome)
    Lead.objects.filter(pk=lead_row.pk).update(attempts=number)
    return attempt


@pytest.fixture
def manager(django_user_model) -> Client:
    return staff(django_user_model, "manager", "campaigns.view_campaign", "campaigns.change_campaign",
                 "campaigns.view_lead", "campaigns.add_lead", "calls.view_call")


# ------------------------------------------------------------------ permissions


def test_staff_without_the_campaign_view_permission_get_403_everywhere(django_user_model, campaign):
    agent = staff(django_user_model, "agent", group="Sales agents")  # may read calls, not campaigns
    row = lead(campaign, "+919876543210")
    base = f"/dashboard/campaigns/{campaign.pk}/"
    for url in ["/dashboard/campaigns/", base, base + "progress.json", base + "leads.csv", f"{base}leads/{row.pk}/"]:
        assert agent.get(url).status_code == 403, url
    for url in [base + "pause/", base + "leads/upload/"]:
        assert agent.post(url).status_code == 403, url
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.RUNNING
    # and the header has no link to pages they cannot open
    assert 'href="/dashboard/campaigns/"' not in agent.get("/dashboard/").content.decode()


def test_anonymous_visitors_are_sent_to_the_login(client, campaign):
    response = client.get(f"/dashboard/campaigns/{campaign.pk}/progress.json")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_viewer_sees_counts_but_no_buttons_leads_or_export(django_user_model, campaign):
    viewer = staff(django_user_model, "viewer", "campaigns.view_campaign")
    lead(campaign, "+919876543210", name="Asha Rao")
    page = viewer.get(f"/dashboard/campaigns/{campaign.pk}/").content.decode()
    assert "Spring loans" in page and 'data-state="queued">1<' in page
    assert "Asha Rao" not in page and "leads.csv" not in page and "/pause/" not in page and 'name="file"' not in page
    header = viewer.get("/dashboard/campaigns/").content.decode()
    assert 'href="/dashboard/campaigns/" aria-current="page">Campaigns' in header
    assert 'href="/dashboard/">Dashboard' not in header  # the lead list needs calls.view_call
    assert viewer.post(f"/dashboard/campaigns/{campaign.pk}/pause/").status_code == 403
    assert viewer.get(f"/dashboard/campaigns/{campaign.pk}/leads.csv").status_code == 403
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.RUNNING


# ------------------------------------------------------------------ list, progress, funnel


def test_list_and_progress_count_leads_by_state(manager, campaign, loan_bot):
    for i, state in enumerate([S.QUEUED, S.QUEUED, S.DIALLING, S.IN_CALL, S.QUALIFIED, S.REJECTED, S.NO_ANSWER,
                               S.VOICEMAIL, S.FAILED, S.DO_NOT_CALL]):
        lead(campaign, f"+9198765432{i:02d}", state)
    other = Campaign.objects.create(name="Other", bot=loan_bot)
    lead(other, "+919876543299", S.QUALIFIED)

    listing = manager.get("/dashboard/campaigns/").content.decode()
    row = re.search(rf'<tr id="campaign-{campaign.pk}">.*?</tr>', listing, re.S).group(0)
    assert '<td class="num">10</td>' in row and 'data-state="queued">2<' in row and 'data-state="qualified">1<' in row

    progress = manager.get(f"/dashboard/campaigns/{campaign.pk}/progress.json").json()
    assert progress["state"] == "running" and progress["total"] == 10
    assert progress["counts"] == {
        "queued": 2, "dialling": 1, "in_call": 1, "qualified": 1, "rejected": 1, "no_answer": 1, "busy": 0,
        "voicemail": 1, "incomplete": 0, "failed": 1, "do_not_call": 1,
    }
    assert progress["done"] == 6


def test_progress_follows_a_lead_through_the_dialer_and_the_carrier(manager, campaign):
    """The counts the page polls come from the dialer's own writes: planned -> dialling,
    no answer -> queued again, answered and qualified -> qualified."""
    row = lead(campaign, "+919876543210", next_try_at=timezone.now())
    url = f"/dashboard/campaigns/{campaign.pk}/progress.json"
    now = timezone.now()
    first = start_attempt(Lead.objects.select_related("campaign__bot").get(pk=row.pk), now, now).attempt
    assert manager.get(url).json()["counts"]["dialling"] == 1

    outcomes.carrier_status(first.pk, "CA" + "1" * 32, "no-answer", now)
    counts = manager.get(url).json()["counts"]
    assert counts["dialling"] == 0 and counts["queued"] == 1

    second = start_attempt(Lead.objects.select_related("campaign__bot").get(pk=row.pk), now, now).attempt
    outcomes.carrier_status(second.pk, "CA" + "2" * 32, "in-progress", now)
    assert manager.get(url).json()["counts"]["in_call"] == 1
    lifecycle.end_call(str(second.call_id), Call.Outcome.QUALIFIED, "qualified")
    counts = manager.get(url).json()["counts"]
    assert counts["in_call"] == 0 and counts["qualified"] == 1

    page = manager.get(f"/dashboard/campaigns/{campaign.pk}/leads/{row.pk}/").content.decode()
    assert page.count('<tr id="attempt-') == 2
    assert "No answer" in page and f'href="/dashboard/calls/{second.call_id}/"' in page


def test_funnel_counts_the_calls_people_answered_in_this_campaign_only(manager, campaign, loan_bot):
    qualified = dialled(lead(campaign, "+919876543210", S.QUALIFIED), outcome="qualified", result="answered_human")
    for order, key in enumerate(["salaried", "monthly_salary", "metro_city"], start=1):
        answer(qualified.call, order, key, True, True)
    rejected = dialled(lead(campaign, "+919876543211", S.REJECTED), outcome="rejected", result="answered_human")
    answer(rejected.call, 1, "salaried", False, False)
    dialled(lead(campaign, "+919876543212", S.QUEUED), outcome="incomplete", result="machine", amd="machine_start",
            reason=outcomes.REASON_VOICEMAIL)
    dialled(lead(campaign, "+919876543213", S.QUEUED), result="no_answer")  # never connected
    elsewhere = dialled(lead(Campaign.objects.create(name="Other", bot=loan_bot), "+919876543214"), outcome="qualified")
    answer(elsewhere.call, 1, "salaried", True, True)

    page = manager.get(f"/dashboard/campaigns/{campaign.pk}/").content.decode()
    table = re.search(r'<table class="funnel-table.*?</table>', page, re.S).group(0)
    cells = re.findall(r"<tr><td>(.*?)</td><td class=\"num\">(\d+)</td>", table)
    assert cells == [("Answered by a person", "2"), ("Passed Q1: salaried", "1"), ("Passed Q2: monthly_salary", "1"),
                     ("Passed Q3: metro_city", "1"), (loan_bot.qualified_label.capitalize(), "1")]


# ------------------------------------------------------------------ start / pause / resume


def buttons(page: str) -> list[str]:
    """The state buttons a page shows (all are rendered; those for other states hidden)."""
    forms = re.findall(r'<form class="state-action"[^>]*?/(\w+)/" data-states="[^"]*"( hidden)?>', page)
    assert forms, "no state buttons on the page"
    return [action for action, hidden in forms if not hidden]


def test_pause_and_resume_change_the_state_with_a_csrf_token_only(django_user_model, campaign):
    user = django_user_model.objects.create_superuser(username="boss", password="x-pass-123456")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    base = f"/dashboard/campaigns/{campaign.pk}/"
    assert browser.post(base + "pause/").status_code == 403  # no CSRF token
    assert browser.get(base + "pause/").status_code == 405
    page = browser.get(base).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert buttons(page) == ["pause", "finish"]

    response = browser.post(base + "pause/", {"csrfmiddlewaretoken": token}, follow=True)
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.PAUSED
    assert "Spring loans is paused." in response.content.decode()
    assert buttons(response.content.decode()) == ["resume", "finish"]

    lead(campaign, "+919876543210")  # something left to call
    browser.post(base + "resume/", {"csrfmiddlewaretoken": token})
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.RUNNING
    refused = browser.post(base + "resume/", {"csrfmiddlewaretoken": token}, follow=True).content.decode()
    assert f"Not done: campaign {campaign.pk} is not paused." in refused
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.RUNNING

    browser.post(base + "finish/", {"csrfmiddlewaretoken": token})
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.FINISHED
    assert browser.post(base + "explode/", {"csrfmiddlewaretoken": token}).status_code == 404


def test_start_a_draft_stamps_its_start_once(manager, loan_bot):
    draft = Campaign.objects.create(name="Draft", bot=loan_bot)
    empty = manager.post(f"/dashboard/campaigns/{draft.pk}/start/", follow=True).content.decode()
    assert "Not done:" in empty and "add leads first" in empty
    assert Campaign.objects.get(pk=draft.pk).state == Campaign.State.DRAFT
    lead(draft, "+919876543210")
    manager.post(f"/dashboard/campaigns/{draft.pk}/start/")
    draft.refresh_from_db()
    assert draft.state == Campaign.State.RUNNING and draft.started_at is not None
    first_start = draft.started_at
    manager.post(f"/dashboard/campaigns/{draft.pk}/pause/")
    manager.post(f"/dashboard/campaigns/{draft.pk}/resume/")
    draft.refresh_from_db()
    assert draft.state == Campaign.State.RUNNING and draft.started_at == first_start


# ------------------------------------------------------------------ CSV upload


def upload(browser: Client, campaign: Campaign, content: bytes, region: str = ""):
    file = SimpleUploadedFile("leads.csv", content, content_type="text/csv")
    return browser.post(f"/dashboard/campaigns/{campaign.pk}/leads/upload/", {"file": file, "region": region})


def test_csv_upload_keeps_good_rows_and_reports_bad_lines(manager, campaign):
    DoNotCall.objects.create(phone="+919876543212")
    lead(campaign, "+919876543210", name="Old name")
    content = (
        "name,phone,time_zone,loan_amount\n"
        "Asha Rao,+91 98765 43210,,500000\n"        # line 2: merged into the lead that has the number
        "Ravi,12345,,\n"                            # line 3: not a number
        "Meera,+91 98765 43211,Mars/Olympus,\n"     # line 4: no such zone
        "John,+1 415 555 2671,America/New_York,250000\n"  # line 5: new
        "Dnc,+91 98765 43212,,\n"                   # line 6: new, on the do-not-call list
        "Extra,+91 98765 43213,,1,2\n"              # line 7: more cells than columns
    ).encode()
    response = upload(manager, campaign, content)
    assert response.status_code == 200
    page = response.content.decode()
    report = re.search(r'<div class="import-report".*?</div>', page, re.S).group(0)
    assert re.search(r"<strong>2</strong> leads added \(1 on the do-not-call list\), <strong>1</strong> merged", report)
    bad = re.findall(r'<td class="num">(\d+)</td><td>(.*?)</td>', report)
    assert [line for line, _ in bad] == ["3", "4", "7"]
    assert "no country code" in bad[0][1]
    assert "Mars/Olympus" in bad[1][1] and "more cells" in bad[2][1]

    leads = {row.phone: row for row in Lead.objects.filter(campaign=campaign)}
    assert set(leads) == {"+919876543210", "+14155552671", "+919876543212"}
    assert leads["+919876543210"].name == "Asha Rao" and leads["+919876543210"].fields == {"loan_amount": "500000"}
    assert leads["+14155552671"].time_zone == "America/New_York" and leads["+14155552671"].fields == {"loan_amount": "250000"}
    assert leads["+919876543212"].state == S.DO_NOT_CALL


@pytest.mark.parametrize("content, why", [
    (b"name,number\nAsha,+919876543210\n", "no &#x27;phone&#x27; column"),
    ("phone,name\n+919876543210,Jos\xe9\n".encode("latin-1"), "not UTF-8"),
])
def test_an_unreadable_file_imports_nothing_and_says_why(manager, campaign, content, why):
    response = upload(manager, campaign, content)
    assert response.status_code == 400
    assert why in response.content.decode() and "Nothing imported" in response.content.decode()
    assert not Lead.objects.filter(campaign=campaign).exists()


def test_numbers_without_a_country_code_take_the_chosen_country(manager, campaign):
    response = upload(manager, campaign, b"phone\n098765 43210\n", region="in")
    assert response.status_code == 200
    assert Lead.objects.get(campaign=campaign).phone == "+919876543210"
    assert upload(manager, campaign, b"phone\n098765 43210\n", region="XX").status_code == 400


def test_upload_needs_the_add_lead_permission(django_user_model, campaign):
    viewer = staff(django_user_model, "viewer", "campaigns.view_campaign", "campaigns.view_lead")
    assert upload(viewer, campaign, b"phone\n+919876543210\n").status_code == 403
    assert not Lead.objects.exists()


# ------------------------------------------------------------------ export and lead page


def test_export_has_every_lead_with_state_attempts_last_result_outcome_and_fields(manager, campaign):
    won = lead(campaign, "+919876543210", S.QUALIFIED, name="Asha", fields={"loan_amount": "500000"},
               last_result="answered_human")
    dialled(won, result="no_answer")
    last = dialled(won, outcome="qualified", result="answered_human")
    lead(campaign, "+919876543211", S.QUEUED, name="=HYPERLINK(\"http://x\")", fields={"utm": "@ad"})

    response = manager.get(f"/dashboard/campaigns/{campaign.pk}/leads.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert f'campaign-{campaign.pk}-leads-' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 2
    first, second = rows
    assert first["name"] == "Asha" and first["phone"] == "'+919876543210"  # + is a formula start in a sheet
    assert (first["state"], first["attempts"], first["last_result"], first["outcome"]) == \
           ("qualified", "2", "answered_human", "qualified")
    assert first["last_call_id"] == str(last.call_id) and first["loan_amount"] == "500000" and first["utm"] == ""
    assert second["name"].startswith("'=") and second["utm"] == "'@ad" and second["outcome"] == ""


def test_lead_page_lists_attempts_with_carrier_and_amd_results(manager, campaign):
    row = lead(campaign, "+919876543210", S.QUEUED, name="Asha", fields={"loan_amount": "500000"})
    dialled(row, result="machine", amd="machine_end_beep", outcome="incomplete", reason=outcomes.REASON_VOICEMAIL)
    Attempt.objects.filter(lead=row).update(voicemail_left=True, rang_at=timezone.now() - timedelta(seconds=30))
    page = manager.get(f"/dashboard/campaigns/{campaign.pk}/leads/{row.pk}/").content.decode()
    assert "Asha" in page and "loan_amount" in page and "500000" in page
    attempt = re.search(r'<tr id="attempt-1">.*?</tr>', page, re.S).group(0)
    assert "Answering machine" in attempt and "machine_end_beep" in attempt and "message left" in attempt
    assert "/dashboard/calls/" in attempt
    # a lead of another campaign is not found under this one
    other = lead(Campaign.objects.create(name="Other", bot=campaign.bot), "+919876543299")
    assert manager.get(f"/dashboard/campaigns/{campaign.pk}/leads/{other.pk}/").status_code == 404


def test_a_finished_campaign_starts_again_only_with_leads_waiting(manager, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.FINISHED, finished_at=timezone.now())
    done = lead(campaign, "+919876543210", S.QUALIFIED)
    response = manager.post(f"/dashboard/campaigns/{campaign.pk}/start/", follow=True)
    assert "Not done:" in response.content.decode() and "no lead left to call" in response.content.decode()
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.FINISHED
    Lead.objects.filter(pk=done.pk).update(state=S.QUEUED)  # e.g. a retry an operator asked for
    manager.post(f"/dashboard/campaigns/{campaign.pk}/start/")
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.RUNNING and campaign.finished_at is None


def test_a_file_over_the_dashboards_row_limit_is_refused_whole(manager, campaign, monkeypatch):
    monkeypatch.setattr("dashboard.campaign_views.UPLOAD_MAX_ROWS", 2)
    response = upload(manager, campaign, b"phone\n+919876543210\n+919876543211\n+919876543212\n")
    assert response.status_code == 400 and "manage.py campaign add-leads" in response.content.decode()
    assert not Lead.objects.exists()


def test_lead_list_pages_and_filters_by_state(manager, campaign):
    for i in range(55):
        lead(campaign, f"+9198765{i:05d}", S.QUEUED if i % 5 else S.QUALIFIED, name=f"Lead {i}")
    first = manager.get(f"/dashboard/campaigns/{campaign.pk}/").content.decode()
    assert first.count('<tr id="lead-') == 50 and 'href="?page=2#leads" rel="next">Next →' in first
    second = manager.get(f"/dashboard/campaigns/{campaign.pk}/?page=2").content.decode()
    assert second.count('<tr id="lead-') == 5 and 'rel="prev">← Previous' in second
    qualified = manager.get(f"/dashboard/campaigns/{campaign.pk}/?state=qualified").content.decode()
    assert qualified.count('<tr id="lead-') == 11 and "pagination" not in qualified
