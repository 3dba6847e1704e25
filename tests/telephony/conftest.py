"""Fixtures of the phone-line tests: the fake Twilio REST API and signed webhooks."""
from __future__ import annotations

from tests.faketwilio import fake_twilio, twilio_settings  # noqa: F401
