"""Real-browser fixtures: a real daphne server in a subprocess and Debian's Chromium.

The server runs exactly as in production (daphne, ASGI, WebSockets, speech
engines warmed at start-up) on a free port, with its own state:

- SQLite: a fresh database in a temporary VAR_DIR;
- PostgreSQL (DATABASE_URL set): a dedicated database `voicebot_browser_<pid>`
  created on the same server and dropped at teardown;
- Redis (REDIS_URL set): the same server, another logical database, so the
  rate-limit counters and the "leads" channel group never mix with the
  in-process tests that use REDIS_URL.

Nothing here touches the ORM in-process (no pytest-django `db` fixture): the
tests look at server state through HTTP, like any client would.

Chromium is driven with the sync Playwright API from plain `def` tests (no
event loop runs in them, so pytest-asyncio's auto mode does not get in the way).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from calls.audio import wav_bytes
from devtools.liveserver import PYTHON, free_port, own_state_env, stop
from devtools.speech import silence

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Scripted prompts are keyed by engine, voice, rate and text, so a cache shared
# between runs is always right and saves synthesizing them again every session.
PROMPT_CACHE = Path(tempfile.gettempdir()) / "voicebot-browser-prompt-cache"

STAFF_USERNAME = "browser-agent"
STAFF_PASSWORD = "browser-agent-pass-" + secrets.token_hex(6)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Audio must play without a user gesture in a test, or the player stays suspended.
    "--autoplay-policy=no-user-gesture-required",
]
FAKE_MEDIA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]

SERVER_START_TIMEOUT_S = 60
ENGINES_READY_TIMEOUT_S = 90


# ---------------------------------------------------------------- helpers


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def _redis_url_for_server(url: str) -> str:
    """The same Redis server, another logical database (15, or 14 if 15 is the tests' own)."""
    parts = urlsplit(url)
    current = parts.path.strip("/") or "0"
    db = "14" if current == "15" else "15"
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def _pg_admin_conninfo(url: str) -> str:
    return _with_path(url, "/postgres")  # libpq reads postgres:// and postgresql:// URIs


def _create_pg_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(_pg_admin_conninfo(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _drop_pg_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(_pg_admin_conninfo(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(env: dict[str, str], *args: str, timeout: float = 180) -> None:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def _get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class LiveServer:
    """A running daphne process; `url` is its base address (no trailing slash)."""

    def __init__(self, url: str, process: subprocess.Popen, log_path: Path, var_dir: Path) -> None:
        self.url = url
        self.process = process
        self.log_path = log_path
        self.var_dir = var_dir
        self.staff_username = STAFF_USERNAME
        self.staff_password = STAFF_PASSWORD

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def api(self, path: str, *, token: str | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(self.url + path, headers={"Accept": "application/json"})
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")


def _wait_until_up(server: LiveServer) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"daphne exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            status, body = _get(server.url + "/healthz")
            if status == 200 and json.loads(body).get("ok"):
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    else:
        raise RuntimeError(f"daphne did not answer /healthz within {SERVER_START_TIMEOUT_S} s:\n{server.log_tail()}")
    # Spoken calls are timing-sensitive: let the engines finish loading first
    # (config.warmup logs this line; a failed warm-up only means lazy loading).
    deadline = time.monotonic() + ENGINES_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        text = server.log_path.read_text(errors="replace")
        if "speech engines ready" in text or "warm-up failed" in text:
            return
        if server.process.poll() is not None:
            raise RuntimeError(f"daphne exited with {server.process.returncode}:\n{server.log_tail()}")
        time.sleep(0.2)


# ---------------------------------------------------------------- server


@pytest.fixture(scope="session")
def daphne_server() -> Iterator[LiveServer]:
    # Not called `live_server`: that name switches on pytest-django's own
    # live-server helper, which wants the test database.
    pg_url, pg_name = os.environ.get("DATABASE_URL", ""), ""
    if pg_url and not urlsplit(pg_url).scheme.startswith("postgres"):
        pytest.skip(f"browser tests support SQLite and PostgreSQL, not {urlsplit(pg_url).scheme}")
    var_dir = Path(tempfile.mkdtemp(prefix="voicebot-browser-"))
    # The server reads its own settings; nothing from the test process that would
    # point it at the tests' database or change its behaviour.
    env = own_state_env(
        var_dir, PROMPT_CACHE,
        SPEECH_WARMUP="1",
        DJANGO_SUPERUSER_PASSWORD=STAFF_PASSWORD,
        SECRET_KEY=secrets.token_urlsafe(50),  # DEBUG=0 refuses to serve without one
        ASR_CONFIRM_BELOW="0",  # scripted answers: no "just to be sure" checks (tests/conftest.py)
    )
    if pg_url:
        pg_name = f"voicebot_browser_{os.getpid()}"
        _create_pg_database(pg_url, pg_name)
        env["DATABASE_URL"] = _with_path(pg_url, f"/{pg_name}")
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = _redis_url_for_server(os.environ["REDIS_URL"])

    process = None
    try:
        _manage(env, "migrate", "--noinput")  # also seeds the two brief bots
        _manage(env, "createsuperuser", "--noinput", "--username", STAFF_USERNAME, "--email", "agent@example.com")
        port = free_port()
        log_path = var_dir / "daphne.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [PYTHON, "-m", "config.server", "--host", "127.0.0.1", "--port", str(port)],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        server = LiveServer(f"http://127.0.0.1:{port}", process, log_path, var_dir)
        _wait_until_up(server)
        yield server
    finally:
        if process is not None:
            stop(process, grace=10)
        if (var_dir / "daphne.log").exists():  # kept for a look after a failure
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(var_dir / "daphne.log", ARTIFACTS / "daphne.log")
        if pg_name:
            _drop_pg_database(pg_url, pg_name)
        shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def live_server_url(daphne_server: LiveServer) -> str:
    return daphne_server.url


# ---------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def silent_wav(tmp_path_factory) -> Path:
    """A silent microphone: Chromium's default fake device beeps, which a VAD may take for speech."""
    path = tmp_path_factory.mktemp("mic") / "silence.wav"
    path.write_bytes(wav_bytes(silence(2000), 16000))
    return path


# Module scope on purpose: while the sync Playwright API is alive it marks its
# event loop as running in this thread, so any later in-process Django ORM call
# (SynchronousOnlyOperation) or pytest-asyncio test would fail. It stops at the
# end of each browser module, before other test modules run.
@pytest.fixture(scope="module")
def playwright_instance():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def launch_browser(playwright_instance) -> Iterator[Callable[..., object]]:
    """launch_browser(mic_wav=None, fake_ui=True) → a Chromium closed at the end of the module.

    `mic_wav` feeds that file to the fake microphone (Chromium loops it);
    `fake_ui=False` leaves the permission prompt in place, so the mic is refused.
    """
    launched = []

    def launch(*, mic_wav: Path | None = None, fake_ui: bool = True):
        args = list(CHROMIUM_ARGS)
        args += FAKE_MEDIA_ARGS if fake_ui else ["--use-fake-device-for-media-stream"]
        if mic_wav is not None:
            args.append(f"--use-file-for-fake-audio-capture={mic_wav}")
        browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        launched.append(browser)
        return browser

    yield launch
    for browser in launched:
        try:
            browser.close()
        except Exception:  # already gone
            pass


@pytest.fixture(scope="module")
def browser(launch_browser, silent_wav):
    """The default Chromium: microphone allowed, and silent."""
    return launch_browser(mic_wav=silent_wav)


@pytest.fixture
def new_page(browser, live_server_url):
    """new_page(browser=None, **context_options) → a page in a fresh context on the live server.

    Console errors and uncaught page errors are collected on `page.errors`.
    """
    contexts = []

    def make(target=None, **options):
        context = (target or browser).new_context(base_url=live_server_url, **options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(f"pageerror: {exc}"))
        page.on("console", lambda msg: msg.type == "error" and page.errors.append(f"console: {msg.text}"))
        return page

    yield make
    for context in contexts:
        try:
            context.close()
        except Exception:
            pass


@pytest.fixture
def page(new_page):
    return new_page()


def screenshot(page, name: str) -> Path:
    """Save a full-page PNG as test-artifacts/<name>.png and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "page"
    path = ARTIFACTS / (safe if safe.endswith(".png") else f"{safe}.png")
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def staff_page(new_page, daphne_server):
    """A page logged in as staff through the admin login form."""
    page = new_page()
    page.goto("/admin/login/?next=/dashboard/")
    page.fill("#id_username", daphne_server.staff_username)
    page.fill("#id_password", daphne_server.staff_password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url("**/dashboard/")
    return page
