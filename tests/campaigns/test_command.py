"""`manage.py campaign`: what an operator or cron does from a shell."""
from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Campaign, DoNotCall, Lead


def run(*args: str) -> str:
    out = StringIO()
    call_command("campaign", *args, stdout=out)
    return out.getvalue()


def test_create_add_leads_start_pause_resume_status(brief_bots, tmp_path):
    made = json.loads(run("create", "--bot", "quickrupee-loan", "--name", "Diwali", "--time-zone", "Asia/Kolkata",
                          "--hours", "18:00-02:00", "--days", "fri-mon", "--max-lines", "7", "--voicemail-message",
                          "We will call again.", "--json"))
    campaign = Campaign.objects.get(pk=made["id"])
    assert (campaign.state, campaign.days, campaign.max_lines, campaign.voicemail_action) == (
        "draft", [0, 4, 5, 6], 7, "leave_message")
    (tmp_path / "leads.csv").write_text("phone,name,city\n+919876543210,Asha,Pune\nnope,Bad,\n+91 98765 43210,Asha K,\n")
    report = json.loads(run("add-leads", str(campaign.pk), str(tmp_path / "leads.csv"), "--json"))
    assert (report["created"], report["merged"], [e["line"] for e in report["errors"]]) == (1, 1, [3])
    assert Lead.objects.get().fields == {"city": "Pune"}
    run("start", str(campaign.pk))
    run("pause", str(campaign.pk))
    assert Campaign.objects.get(pk=campaign.pk).state == "paused"
    run("resume", str(campaign.pk))
    status = json.loads(run("status", str(campaign.pk), "--json"))
    assert (status["state"], status["leads"], status["by_state"]["queued"]) == ("running", 1, 1)
    assert "Diwali [running] 1 lead(s): queued 1" in run("status")
    (tmp_path / "dnc.csv").write_text("+919876543210\n")
    run("do-not-call", str(tmp_path / "dnc.csv"))
    assert DoNotCall.objects.get().phone == "+919876543210" and Lead.objects.get().state == "do_not_call"


def test_bad_input_is_a_clear_error(brief_bots, tmp_path):
    for args, message in [
        (("create", "--bot", "nope", "--name", "x"), "no bot"),
        (("create", "--bot", "quickrupee-loan", "--name", "x", "--hours", "9-5"), "HH:MM-HH:MM"),
        (("create", "--bot", "quickrupee-loan", "--name", "x", "--days", "funday"), "day names"),
        (("create", "--bot", "quickrupee-loan", "--name", "x", "--time-zone", "Mars/Base"), "IANA"),
        (("start", "99"), "no campaign 99"),
        (("add-leads", "1", str(tmp_path / "missing.csv")), "no campaign 1"),
    ]:
        with pytest.raises(CommandError, match=message):
            run(*args)
    made = json.loads(run("create", "--bot", "quickrupee-loan", "--name", "Empty", "--json"))
    with pytest.raises(CommandError, match="only a running campaign pauses"):
        run("pause", str(made["id"]))
    with pytest.raises(CommandError, match="no lead left to call"):
        run("start", str(made["id"]))
    with pytest.raises(CommandError, match="cannot read"):
        run("add-leads", str(made["id"]), str(tmp_path / "missing.csv"))


def test_admin_normalises_numbers_and_starts_campaigns(admin_client, brief_bots):
    from campaigns.models import Campaign, DoNotCall

    answer = admin_client.post("/admin/campaigns/donotcall/add/", {"phone": "+91 98765-43210", "source": "admin", "note": ""})
    assert answer.status_code == 302 and DoNotCall.objects.get().phone == "+919876543210"
    answer = admin_client.post("/admin/campaigns/donotcall/add/", {"phone": "12345", "source": "admin", "note": ""})
    assert answer.status_code == 200 and b"country code" in answer.content
    made = json.loads(run("create", "--bot", "quickrupee-loan", "--name", "Admin", "--json"))
    Lead.objects.create(campaign_id=made["id"], phone="+12125550100")
    admin_client.post("/admin/campaigns/campaign/", {"action": "start", "_selected_action": [made["id"]]})
    assert Campaign.objects.get(pk=made["id"]).state == "running"
