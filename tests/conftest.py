"""Shared fixtures. Fakes live only at the network edge (see tests/fakecloud.py)."""
from __future__ import annotations

import pytest

from tests.fakecloud import fake_cloud  # noqa: F401  (a local fake of the OpenAI and ElevenLabs APIs)


@pytest.fixture(autouse=True)
def _fresh_rate_limit(settings):
    """Each test starts with its own call budget: the suite opens far more calls a
    minute than one client may (tests of the limit itself set it lower)."""
    settings.CALL_RATE_LIMIT = 10_000


@pytest.fixture
def brief_bots(db):
    """The two shipped bots; re-seeded because transactional tests flush the tables."""
    from bots.models import Bot, Question
    from bots.seed import seed_brief_bots

    seed_brief_bots(Bot, Question)
    return {bot.slug: bot for bot in Bot.objects.all()}


@pytest.fixture
def loan_bot(brief_bots):
    return brief_bots["quickrupee-loan"]


@pytest.fixture
def renovation_bot(brief_bots):
    return brief_bots["home-renovation"]


@pytest.fixture
def short_bot(brief_bots):
    """A two-question bot with one-word lines, so its audio plays out in well under a second."""
    from bots.models import Bot, Question

    bot = Bot.objects.create(
        slug="short", name="Short", greeting="Hi.", qualified_message="Great.", rejected_message="Bye.",
        incomplete_message="Sorry.", silence_message="Nobody there. Bye.", still_there_prompt="Hello?",
    )
    Question.objects.create(bot=bot, order=1, key="owns", prompt="Own?")
    Question.objects.create(bot=bot, order=2, key="soon", prompt="Soon?")
    return bot


@pytest.fixture
def staff_user(db, django_user_model):
    return django_user_model.objects.create_user(
        username="agent", password="agent-pass-123", is_staff=True, is_superuser=True
    )


@pytest.fixture
def call(loan_bot):
    from calls.models import Call

    return Call.objects.create(bot=loan_bot, caller_name="Asha", caller_phone="+91 98765 43210")


@pytest.fixture(autouse=True, scope="session")
def _test_prompt_cache(tmp_path_factory):
    """Keep test audio (fake-cloud voices included) out of the real prompt cache."""
    import os

    from django.conf import settings

    settings.PROMPT_CACHE_DIR = os.environ.get("TEST_PROMPT_CACHE_DIR") or str(tmp_path_factory.mktemp("prompt-cache"))
    settings.SPEECH_WARMUP = False  # tests load engines on first use, in their own settings
    yield


@pytest.fixture
def cloud_settings(settings, fake_cloud, tmp_path):
    """Run the server's providers against the local fake of OpenAI and ElevenLabs,
    with an empty prompt cache so every line really goes to the (fake) vendor."""
    from calls.prompt_cache import prompt_cache
    from calls.providers import registry

    for key, value in fake_cloud.settings().items():
        setattr(settings, key, value)
    settings.PROMPT_CACHE_DIR = str(tmp_path / "prompt-cache")
    prompt_cache.clear_memory()
    registry.reset_registry()
    yield fake_cloud
    registry.reset_registry()
    prompt_cache.clear_memory()
