"""Shared fixtures, the suite's markers, and the CI rules. Fakes live only at the
network edge (devtools/fakecloud.py, devtools/faketwilio.py: their fixtures are here).

Markers (pytest.ini):

- `speech`: real speech through the real engines (Whisper, Piper, Silero, espeak-ng
  clips), including tests whose bot merely *speaks* its lines through Piper, and the
  tests that start server processes (devtools/liveserver.py, `make serve`), whose bots
  speak through espeak-ng. Slow.
- `browser`: drives a real Chromium against a real daphne server. Slow.
- `backend`: not written by hand; added at collection (see below). These are the
  only tests the second CI pass (PostgreSQL + Redis) runs: `pytest --backend-only`
  (the same as `-m backend`, but ANDed with any `-m` you pass).
- `allow_skip(reason)`: the test may skip under CI=true (see below).

`pytest -m "not speech and not browser"` is the quick check while developing.

Which tests run twice (the `backend` rule): a test is marked `backend`, and so runs
on SQLite + in-memory layer AND again on PostgreSQL + Redis, when it

- carries the `django_db` or `browser` marker, or
- uses, directly or through other fixtures, one of BACKEND_FIXTURES: pytest-django's
  `db`, `transactional_db`, `django_db_reset_sequences`, `django_db_serialized_rollback`,
  `live_server`, `client`/`async_client`/`admin_client` (the request goes through the
  session/cache middleware), the browser's `daphne_server`/`live_server_url`, or
  `channel_layer` below. (Not `django_db_blocker`: every test depends on it.)

Everything else (understanding, dialogue, audio, endpointing, local engines, fake
cloud vendors) proves nothing new on a second backend and runs once. So: use the
standard fixtures (`db`, the `django_db` marker, `channel_layer`) and your test is
picked up by both passes with no list to keep. A test that reaches PostgreSQL or
Redis some other way (its own connection, `django_db_blocker.unblock()`, a server
subprocess) asks for `channel_layer` or carries `@pytest.mark.backend` itself.
`pytest --collect-only -q --backend-only` lists what the second pass runs.

Slow tests run their real engines once (`--heavy-once`, which scripts/test.sh gives the
first pass): a `speech` or `browser` test that the second pass runs anyway is left out of
the first, so it runs on PostgreSQL + Redis, the production backend, and not twice. A
test marked `both_passes` (the demo page's spoken call: the embedded default end to end)
runs in both. Without the flag (a developer's `pytest tests/...`) nothing is left out.

Skips under CI (CI=true): a skipped test is turned into a failure — CI must run every
test on a fresh clone, so what a test needs belongs in scripts/setup.sh. A test that
may skip on purpose carries `@pytest.mark.allow_skip("why")`; its skips are counted
and listed with their reason at the end of the run.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devtools.fakecloud import FakeCloud, shared_fake_cloud
from devtools.faketwilio import FakeTwilio, shared_fake_twilio

BACKEND_MARKERS = frozenset({"django_db", "browser"})
BACKEND_FIXTURES = frozenset({
    "db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback",
    "live_server", "client", "async_client", "admin_client",
    "daphne_server", "live_server_url", "channel_layer",
})


def uses_backend(item: pytest.Item) -> bool:
    """The `backend` rule of the module docstring."""
    if any(item.get_closest_marker(name) for name in BACKEND_MARKERS):
        return True
    return not BACKEND_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--heavy-once", action="store_true",
        help="leave out `speech`/`browser` tests that the PostgreSQL + Redis pass runs (unless marked both_passes)",
    )
    parser.addoption(
        "--backend-only", action="store_true",
        help="run only tests marked `backend` (ANDed with any -m expression): the PostgreSQL + Redis pass",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("backend_only"):
        expr = config.option.markexpr
        config.option.markexpr = f"backend and ({expr})" if expr else "backend"


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects, so `-m backend` sees the marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if uses_backend(item):
            item.add_marker(pytest.mark.backend)
    if config.getoption("heavy_once"):
        heavy = [item for item in items if item.get_closest_marker("backend") and not item.get_closest_marker("both_passes")
                 and (item.get_closest_marker("speech") or item.get_closest_marker("browser"))]
        if heavy:
            config.hook.pytest_deselected(items=heavy)
            left = set(heavy)
            items[:] = [item for item in items if item not in left]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


_DELIBERATE_SKIPS: list[tuple[str, str]] = []


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.skipped and in_ci() and not hasattr(report, "wasxfail"):
        reason = _skip_reason(report)
        allowed = item.get_closest_marker("allow_skip")
        if allowed is None:
            report.outcome = "failed"
            report.longrepr = (
                f"skipped under CI=true: {reason}\nCI runs every test on a fresh clone: install what this "
                "test needs in scripts/setup.sh, or mark it @pytest.mark.allow_skip(\"why\") if skipping is a choice."
            )
        else:
            why = allowed.args[0] if allowed.args else allowed.kwargs.get("reason", "")
            _DELIBERATE_SKIPS.append((item.nodeid, f"{reason} (allowed: {why})"))
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    report = yield
    if report.skipped and in_ci():  # a whole module skipped (importorskip, allow_module_level)
        report.outcome = "failed"
        report.longrepr = f"module skipped under CI=true: {report.longrepr}"
    return report


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not in_ci():
        return
    write = terminalreporter.write_line
    terminalreporter.section("skips under CI")
    if not _DELIBERATE_SKIPS:
        write("CI: no test skipped.")
        return
    write(f"CI: {len(_DELIBERATE_SKIPS)} test(s) skipped on purpose:")
    for nodeid, reason in _DELIBERATE_SKIPS:
        write(f"  {nodeid}: {reason}")


@pytest.fixture
def channel_layer():
    """The configured channel layer (in-memory, or channels-redis with REDIS_URL).
    Asking for it puts the test in the PostgreSQL + Redis pass too."""
    from channels.layers import get_channel_layer

    return get_channel_layer()


@pytest.fixture(autouse=True)
def _fresh_rate_limit(settings):
    """Each test starts with its own call budget: the suite opens far more calls a
    minute than one client may (tests of the limit itself set it lower)."""
    settings.CALL_RATE_LIMIT = 10_000
    settings.MAX_CALLS_PER_CLIENT = 0  # and no cap on open calls (tests of admission set one)
    settings.MAX_CALLS_PER_WORKER = 10_000


@pytest.fixture(autouse=True)
def _unpaced_bot_audio(settings):
    """Bot audio goes out as fast as it is made in end-to-end tests: real-time pacing
    would make every call test last as long as its bot lines (4 minutes instead of
    seconds for the protocol tests). Pacing itself is tested against a fake clock
    (tests/calls/test_speaker.py), and tests that want it set PLAYBACK_LEAD_MS back."""
    settings.PLAYBACK_LEAD_MS = 600_000


@pytest.fixture(autouse=True)
def _unpaced_caller_audio(settings):
    """Tests stream their recorded answers as fast as the socket takes them, far faster
    than a caller speaks, which the call's audio pace limit (CALL_AUDIO_SPEED) refuses.
    The limit's own tests (tests/calls/test_limits.py) set it back."""
    settings.CALL_AUDIO_SPEED = 0


@pytest.fixture(autouse=True)
def _answers_never_overlap(settings):
    """Bot audio is unpaced in end-to-end tests (`_unpaced_bot_audio`), so a scripted answer
    sent once a question's audio is out begins, by the clock, a moment after the question
    began: it would count as overlapping it (ANSWER_OVERLAP_MS) and the question would be
    asked again. The overlap's own tests set it back."""
    settings.ANSWER_OVERLAP_MS = 0


@pytest.fixture(autouse=True)
def _one_listen(settings):
    """Vendor transcripts scripted in order (devtools/fakecloud.py) would be consumed by a
    second listen as well; the second listen's own tests turn ASR_SECOND_LISTEN back on."""
    settings.ASR_SECOND_LISTEN = False


@pytest.fixture(autouse=True)
def _no_confidence_checks(settings):
    """Whole-call tests script their answers one per question, so a bot that checks a
    doubtful hearing once more ("Just to be sure, …") would wait for an answer the
    script never gives: espeak's short clips are often heard with low confidence.
    The checks have their own tests, which set ASR_CONFIRM_BELOW back."""
    settings.ASR_CONFIRM_BELOW = 0.0


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):  # noqa: F811 - extends pytest-django's fixture of the same name
    """pytest-django's test databases, and at the end psycopg's connection pools closed
    first (DB_POOL_SIZE): a pool keeps idle connections, and PostgreSQL refuses to drop
    a database that is "being accessed by other users"."""
    yield
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        if getattr(conn, "pool", None) is None:
            continue
        conn.close_pool()  # idle connections; one a long-lived thread still holds is ended below
        import psycopg

        params = {k: v for k, v in conn.get_connection_params().items() if k in ("host", "port", "user", "password")}
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [conn.settings_dict["NAME"]],
            )


@pytest.fixture(autouse=True)
def _close_writer_connections():
    """Call rows are written by calls.persistence.write_queue's writer threads, which keep their
    connections open; close them after each test so the test database can be
    flushed and dropped."""
    yield
    from calls.persistence.write_queue import writers

    writers.close_connections()


@pytest.fixture
def brief_bots(db):
    """The two shipped bots; re-seeded because transactional tests flush the tables."""
    from bots.models import Bot, Question
    from bots.seed import seed_brief_bots

    seed_brief_bots(Bot, Question)
    return {bot.slug: bot for bot in Bot.objects.all()}


@pytest.fixture
async def call_bots(brief_bots):
    """The shipped bots for whole calls over the socket; afterwards the database
    connections the consumer's threads hold are closed, so the test database can be
    flushed and dropped."""
    from channels.db import database_sync_to_async
    from django.db import connections

    yield brief_bots
    await database_sync_to_async(connections.close_all)()


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
def _fast_password_hashing():
    """Users made by tests hash their passwords with MD5: PBKDF2's deliberate slowness
    (about half a second per user on this machine) buys a test nothing. The browser
    tests' server runs with the real settings."""
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True, scope="session")
def _test_prompt_cache(tmp_path_factory):
    """Keep test audio (fake-cloud voices included) out of the real prompt cache."""
    import os

    from django.conf import settings

    settings.PROMPT_CACHE_DIR = os.environ.get("TEST_PROMPT_CACHE_DIR") or str(tmp_path_factory.mktemp("prompt-cache"))
    settings.SPEECH_WARMUP = False  # tests load engines on first use, in their own settings
    yield


@pytest.fixture
async def cloud_settings(settings, fake_cloud, tmp_path):
    """Run the server's providers against the local fake of OpenAI and ElevenLabs,
    with an empty prompt cache so every line really goes to the (fake) vendor.
    Afterwards it stops the prompt prefetches the test's calls left running (they
    outlive a call), so they do not reach the next test's fake."""
    from calls.providers import registry
    from calls.runtime.prompt_cache import prompt_cache

    for key, value in fake_cloud.settings().items():
        setattr(settings, key, value)
    settings.PROMPT_CACHE_DIR = str(tmp_path / "prompt-cache")
    prompt_cache.clear_memory()
    registry.reset_registry()
    yield fake_cloud
    await prompt_cache.stop_prefetching()
    registry.reset_registry()
    prompt_cache.clear_memory()


def _reset_around(fake: FakeCloud | FakeTwilio) -> Iterator:
    fake.reset()
    yield fake
    fake.reset()


@pytest.fixture
def fake_cloud() -> Iterator[FakeCloud]:
    """The local fake of the OpenAI and ElevenLabs APIs (one server per session), with
    no script and no recorded requests; released and reset after the test."""
    yield from _reset_around(shared_fake_cloud())


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    """The fake Twilio REST API (one server per session), empty for each test."""
    yield from _reset_around(shared_fake_twilio())


@pytest.fixture
def twilio_settings(settings, fake_twilio) -> FakeTwilio:
    """A configured Twilio account whose REST API is the local fake."""
    for key, value in fake_twilio.settings().items():
        setattr(settings, key, value)
    return fake_twilio
