"""Fixtures of the phone-line tests (the fake Twilio REST API is tests/conftest.py's)."""
from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.db import connections

EXOTEL_KEY = "exotel-stream-key-0123456789"


@pytest.fixture
async def phone_lines(brief_bots, short_bot, settings, twilio_settings):
    """Both carriers configured (Twilio's REST API is the local fake), the shipped bots and
    the short one; afterwards the database connections the consumers' threads hold are closed."""
    settings.EXOTEL_STREAM_KEY = EXOTEL_KEY
    settings.PUBLIC_BASE_URL = "https://bot.example.com"
    yield twilio_settings
    await database_sync_to_async(connections.close_all)()
