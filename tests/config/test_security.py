"""Secure defaults: the secret key, `check --deploy`, WebSocket origins, client addresses."""
from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import RequestFactory, override_settings

from calls.http.clientip import client_ip
from config.origin import OriginCheck, SameOriginOnly, same_origin

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "SECRET_KEY_FILE", "DEBUG", "HTTPS", "ALLOWED_HOSTS"}}
    return {**keep, "SPEECH_WARMUP": "0", "STALE_SWEEP_S": "0", **extra}


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_debug_0_without_secret_key_refuses_to_serve(tmp_path):
    result = _run(["-c", "import config.asgi"], _env(DEBUG="0", VAR_DIR=str(tmp_path)))
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr and "Refusing to serve" in result.stderr


def test_make_run_generates_a_private_key_once_and_the_server_starts_with_it(tmp_path):
    key_file = tmp_path / "secret-key"
    assert _run(["-m", "config.keyfile", str(key_file)], _env()).returncode == 0
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_text()
    assert len(first.strip()) >= 50
    assert _run(["-m", "config.keyfile", str(key_file)], _env()).returncode == 0
    assert key_file.read_text() == first  # kept across starts: sessions and tokens survive a restart
    env = _env(DEBUG="0", SECRET_KEY_FILE=str(key_file), VAR_DIR=str(tmp_path))
    result = _run(["-c", "import config.asgi; from django.conf import settings; print(settings.SECRET_KEY)"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == first.strip()


def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path):
    env = _env(
        DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), HTTPS="1", ALLOWED_HOSTS="bot.example.com",
        CSRF_TRUSTED_ORIGINS="https://bot.example.com", VAR_DIR=str(tmp_path),
    )
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_https_turns_on_secure_cookies_hsts_and_the_proxy_header(tmp_path):
    code = "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0, s.SECURE_PROXY_SSL_HEADER)"
    result = _run(["-c", f"import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings'); django.setup(); {code}"],
                  _env(DEBUG="0", SECRET_KEY="x" * 60, HTTPS="1", VAR_DIR=str(tmp_path)))
    assert result.stdout.split() == ["True", "True", "True", "('HTTP_X_FORWARDED_PROTO',", "'https')"], result.stderr


# ---------------------------------------------------------------- origins


async def _handshake(app, path: str, headers: list[tuple[bytes, bytes]]) -> bool:
    from channels.testing import WebsocketCommunicator

    comm = WebsocketCommunicator(app, path, headers=headers)
    connected, _ = await comm.connect(timeout=5)
    if connected:
        await comm.disconnect()
    return connected


async def _accepting_app(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await receive()


@pytest.mark.parametrize("allowed_hosts", [["*"], ["bot.example.com", "*"]])
async def test_a_wildcard_never_lets_a_foreign_origin_in(settings, allowed_hosts):
    settings.ALLOWED_HOSTS = allowed_hosts
    settings.WS_ALLOWED_ORIGINS = []
    app = OriginCheck(_accepting_app)
    host = [(b"host", b"bot.example.com")]
    assert not await _handshake(app, "/ws/calls/x/", host + [(b"origin", b"https://evil.example.net")])
    assert await _handshake(app, "/ws/calls/x/", host + [(b"origin", b"https://bot.example.com")])  # its own page
    assert await _handshake(app, "/ws/calls/x/", host)  # no Origin: not a browser; the call token decides


def test_a_wildcard_in_ws_allowed_origins_fails_at_start(tmp_path):
    result = _run(["manage.py", "check"], _env(WS_ALLOWED_ORIGINS="*", VAR_DIR=str(tmp_path)))
    assert result.returncode != 0 and "WS_ALLOWED_ORIGINS" in result.stderr


async def test_the_dashboard_socket_accepts_only_its_own_origin(settings):
    settings.ALLOWED_HOSTS = ["*"]
    settings.WS_ALLOWED_ORIGINS = ["https://partner.example.com"]
    app = SameOriginOnly(_accepting_app)
    host = [(b"host", b"bot.example.com")]
    assert await _handshake(app, "/ws/dashboard/leads/", host + [(b"origin", b"https://bot.example.com")])
    assert not await _handshake(app, "/ws/dashboard/leads/", host + [(b"origin", b"https://partner.example.com")])
    assert not await _handshake(app, "/ws/dashboard/leads/", host + [(b"origin", b"null")])
    assert not await _handshake(app, "/ws/dashboard/leads/", host)


def test_same_origin_compares_scheme_ports():
    assert same_origin("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert same_origin("https://bot.example.com", "bot.example.com")
    assert same_origin("https://bot.example.com:443", "bot.example.com")
    assert not same_origin("http://127.0.0.1:9000", "127.0.0.1:8000")
    assert not same_origin("https://bot.example.com.evil.net", "bot.example.com")


# ---------------------------------------------------------------- client address


def _request(remote: str, forwarded: str | None = None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


def test_without_trusted_proxies_the_header_is_ignored():
    with override_settings(TRUSTED_PROXIES=[]):
        assert client_ip(_request("203.0.113.9", "1.2.3.4")) == "203.0.113.9"


def test_the_rightmost_untrusted_hop_is_the_client():
    with override_settings(TRUSTED_PROXIES=["10.0.0.0/8", "192.0.2.1"]):
        # The client wrote "6.6.6.6"; our proxies appended the address they saw.
        assert client_ip(_request("10.0.0.5", "6.6.6.6, 198.51.100.7, 192.0.2.1")) == "198.51.100.7"
        assert client_ip(_request("10.0.0.5", "198.51.100.7")) == "198.51.100.7"
        # Not from a trusted proxy: the header is the client's own words.
        assert client_ip(_request("198.51.100.8", "1.1.1.1")) == "198.51.100.8"
        assert client_ip(_request("10.0.0.5", "garbage, 198.51.100.7")) == "198.51.100.7"
        assert client_ip(_request("10.0.0.5", "[2001:db8::1]:5000")) == "2001:db8::1"
