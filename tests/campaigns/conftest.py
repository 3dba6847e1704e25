"""Fixtures of the campaign tests: Twilio configured (its REST API the local fake), the
campaigns' injected clock, and room on the workers for every line."""
from __future__ import annotations

import pytest

from campaigns import clock
from tests.campaigns.support import START, FakeNow

API_KEY = "campaign-test-key-0123456789"


@pytest.fixture
def fake_now():
    now = FakeNow(START)
    clock.set_clock(now)
    yield now
    clock.set_clock(None)


@pytest.fixture
def dialling(settings, twilio_settings, brief_bots, fake_now):
    settings.PUBLIC_BASE_URL = "https://bot.example.com"
    settings.TWILIO_CPS = 1000.0
    settings.MAX_CALLS_PER_WORKER = 500
    settings.OUTBOUND_API_KEY = API_KEY
    settings.REDIS_URL = ""  # this process's own lines decide (admission without the registry)
    return twilio_settings
