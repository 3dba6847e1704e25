"""The lead dashboard updates live: a call finished on the demo page shows up without a reload."""
from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_demo_page import CALL_TIMEOUT_MS, LOAN, finish_loan_call_by_typing, start_call

pytestmark = pytest.mark.browser


def test_qualified_call_appears_live_on_dashboard_and_detail_page(staff_page, new_page, daphne_server):
    dashboard = staff_page
    expect(dashboard.locator("h1")).to_have_text("Leads")
    expect(dashboard.locator("#live-indicator")).to_have_attribute("data-state", "live", timeout=CALL_TIMEOUT_MS)
    # A marker that a reload would wipe out.
    dashboard.evaluate("window.__sameDocument = true")

    caller = f"Live Lead {secrets.token_hex(3)}"
    row = dashboard.locator("#lead-rows tr.lead").filter(has_text=caller)
    expect(row).to_have_count(0)
    before = int(dashboard.locator("#lead-count").get_attribute("data-count"))

    # The caller, in another browser context (not logged in), completes a qualified typed call.
    call_page = new_page()
    started = start_call(call_page, LOAN, name=caller, phone="+91 90000 12345")
    # The row appears as soon as the call starts ...
    expect(row).to_have_count(1, timeout=CALL_TIMEOUT_MS)
    expect(row).to_have_attribute("data-call-id", started["call_id"])
    n = before + 1
    expect(dashboard.locator("#lead-count")).to_have_text(f"{n} call{'' if n == 1 else 's'}")
    finish_loan_call_by_typing(call_page)

    # ... and turns into a qualified lead with a callback deadline when it ends.
    expect(row).to_have_attribute("data-outcome", "qualified", timeout=CALL_TIMEOUT_MS)
    expect(row).to_have_class(re.compile(r"\bqualified\b"))
    expect(row.locator(".badge.outcome-qualified")).to_be_visible()
    expect(row.locator(".callback")).to_have_text(re.compile(r"^due in (9|10) min$"))
    expect(row.locator(".phone")).to_have_text("+91 90000 12345")
    assert dashboard.evaluate("window.__sameDocument === true"), "the dashboard reloaded"
    # Qualified leads are listed first.
    expect(dashboard.locator("#lead-rows tr.lead").first).to_have_attribute("data-outcome", "qualified")
    screenshot(dashboard, "dashboard-live")

    # The staff session also reads the call through the JSON API.
    api = dashboard.request.get(f"/api/calls/{started['call_id']}/")
    assert api.ok, api.text()
    assert api.json()["outcome"] == "qualified"

    # The detail page shows the whole conversation and the answers.
    row.locator("td.caller a").click()
    dashboard.wait_for_url(f"**/dashboard/calls/{started['call_id']}/")
    expect(dashboard.locator("h1")).to_contain_text(caller)
    turns = dashboard.locator("ol.transcript li.turn")
    expect(turns).to_have_count(7)
    expect(dashboard.locator("ol.transcript li.turn.caller")).to_have_count(3)
    expect(turns.first).to_contain_text("QuickRupee")
    expect(turns.last).to_contain_text("eligible")
    answers = dashboard.locator("section.card", has=dashboard.locator("h2", has_text="Answers")).locator("tbody tr")
    expect(answers).to_have_count(3)
    expect(answers.nth(0)).to_contain_text("salaried")
    expect(answers.nth(1)).to_contain_text("about forty thousand a month")
    expect(answers.nth(1)).to_contain_text(re.compile(r"40,?000"))
    expect(answers.nth(2)).to_contain_text("yes, Mumbai")
    for i in range(3):
        expect(answers.nth(i).locator(".badge.outcome-qualified")).to_have_text("yes")
    expect(dashboard.locator(".lead-card .callback")).to_contain_text("due in")
    screenshot(dashboard, "dashboard-call-detail")
    assert not [e for e in dashboard.errors if e.startswith("pageerror")], dashboard.errors
