"""Shared fixtures. Fakes live only at the network edge (see tests/fakecloud.py)."""
from __future__ import annotations

import pytest


@pytest.fixture
def loan_bot(db):
    from bots.models import Bot

    return Bot.objects.get(slug="quickrupee-loan")


@pytest.fixture
def renovation_bot(db):
    from bots.models import Bot

    return Bot.objects.get(slug="home-renovation")


@pytest.fixture
def staff_user(db, django_user_model):
    return django_user_model.objects.create_user(
        username="agent", password="agent-pass-123", is_staff=True, is_superuser=True
    )


@pytest.fixture
def call(loan_bot):
    from calls.models import Call

    return Call.objects.create(bot=loan_bot, caller_name="Asha", caller_phone="+91 98765 43210")
