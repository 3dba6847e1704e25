"""The campaign page in a real browser: created in the admin, leads uploaded from a CSV file,
and a second tab's changes (more leads, pause) reaching the first tab's counts and state
badge without a reload (static/dashboard/campaign-progress.js polls progress.json)."""
from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

LIVE_TIMEOUT_MS = 20_000  # a few polls (POLL_SECONDS apart)


def csv_file(*phones: str) -> dict:
    rows = "".join(f"Lead {i},{phone},\n" for i, phone in enumerate(phones))
    return {"name": "leads.csv", "mimeType": "text/csv", "buffer": f"name,phone,time_zone\n{rows}".encode()}


def test_campaign_counts_and_state_follow_another_tabs_changes(staff_page):
    name = f"Browser campaign {secrets.token_hex(3)}"
    admin = staff_page
    admin.goto("/admin/campaigns/campaign/add/")
    admin.fill("#id_name", name)
    admin.select_option("#id_bot", label="QuickRupee personal loan")
    admin.click("input[name=_save]")
    expect(admin.locator(".messagelist")).to_contain_text("was added successfully")

    page = admin.context.new_page()  # same session as the admin tab
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and errors.append(f"console: {msg.text}"))
    page.goto("/dashboard/campaigns/")
    page.get_by_role("link", name=name).click()
    expect(page.locator("h1")).to_contain_text(name)
    campaign_url = page.url
    expect(page.locator("#campaign-state")).to_have_text("Draft")

    # Upload: one good row, one bad, reported by line.
    page.set_input_files("input[name=file]", csv_file("+91 98765 43210", "12345"))
    page.get_by_role("button", name="Upload").click()
    report = page.locator(".import-report")
    expect(report).to_contain_text("1 lead added")
    expect(report.locator("table.bad-rows tr", has_text="no country code")).to_contain_text("3")
    page.goto(campaign_url)
    expect(page.locator('.count[data-state="queued"]')).to_have_text("1")
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live", timeout=LIVE_TIMEOUT_MS)
    page.evaluate("window.__sameDocument = true")  # a reload would wipe it out

    # A colleague's tab adds leads and starts, then pauses, the campaign.
    other = admin.context.new_page()
    other.goto(campaign_url)
    other.set_input_files("input[name=file]", csv_file("+91 98765 43211", "+44 20 7946 0018"))
    other.get_by_role("button", name="Upload").click()
    expect(other.locator(".import-report")).to_contain_text("2 leads added")
    expect(page.locator('.count[data-state="queued"]')).to_have_text("3", timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("#progress-total")).to_have_text("3")

    other.goto(campaign_url)
    other.get_by_role("button", name="Start").click()
    expect(other.locator(".messages")).to_contain_text("is running")
    expect(page.locator("#campaign-state")).to_have_text("Running", timeout=LIVE_TIMEOUT_MS)
    other.get_by_role("button", name="Pause").click()
    expect(other.locator(".messages")).to_contain_text("is paused")
    expect(page.locator("#campaign-state")).to_have_text("Paused", timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("#campaign-state")).to_have_class(re.compile(r"\bcampaign-paused\b"))
    expect(page.get_by_role("button", name="Resume")).to_be_visible()  # the buttons follow the state
    expect(page.get_by_role("button", name="Pause")).to_be_hidden()
    expect(page.get_by_role("button", name="Start")).to_be_hidden()
    assert page.evaluate("window.__sameDocument === true"), "the campaign page reloaded"
    screenshot(page, "campaign-page")

    # The lead's page, from the campaign's lead list.
    page.get_by_role("link", name="Lead 0").first.click()
    expect(page.locator("h1")).to_contain_text("Lead 0")
    expect(page.locator("table.attempts")).to_contain_text("Not dialled yet")
    screenshot(page, "campaign-lead")
    assert not errors, errors
