"""/metrics: the metric families, who may read them, and several worker processes on one host."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from calls import metrics
from calls.providers.retry import CircuitBreaker

ROOT = Path(__file__).resolve().parents[2]


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def families(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """metric sample name -> {sorted labels: value}"""
    out: dict[str, dict] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


# ---------------------------------------------------------------- families and buckets


def test_latency_buckets_resolve_50_ms_steps_below_one_second():
    below = [b for b in metrics.LATENCY_BUCKETS if b <= 1.0]
    for step in range(1, 21):
        assert round(step * 0.05, 2) in below
    assert list(metrics.LATENCY_BUCKETS) == sorted(metrics.LATENCY_BUCKETS)


def test_every_family_is_exposed_with_the_issue_names(client):
    metrics.turn_latency("vad", {"asr": 120.0, "nlu": 0.4, "tts_first_audio": 80.0, "response": 430.0},
                         {"asr": "whisper-local", "nlu": "rules", "tts_first_audio": "piper", "response": "whisper-local"})
    metrics.call_started("quickrupee-loan", "web")
    metrics.call_left("quickrupee-loan", "web")
    metrics.call_ended("quickrupee-loan", "qualified", "qualified", 42.0)
    metrics.answer_heard("quickrupee-loan", "salaried", True)
    metrics.provider_failed("openai-whisper", "transient", "whisper-local")
    metrics.breaker_state("openai", False)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    names = {f.name: f.type for f in text_string_to_metric_families(response.content.decode())}
    assert names["voicebot_calls_active"] == "gauge"
    assert names["voicebot_calls"] == "counter"  # exposed as voicebot_calls_total
    assert names["voicebot_calls_refused"] == "counter"
    assert names["voicebot_turn_latency_seconds"] == "histogram"
    assert names["voicebot_provider_failures"] == "counter"
    assert names["voicebot_provider_fallbacks"] == "counter"
    assert names["voicebot_breaker_open"] == "gauge"
    assert names["voicebot_call_duration_seconds"] == "histogram"
    assert names["voicebot_answers"] == "counter"
    text = response.content.decode()
    assert 'voicebot_turn_latency_seconds_bucket{le="0.45",mode="vad",provider="whisper-local",stage="response"}' in text
    for reason in ("busy", "rate_limited", "bad_token"):  # present before the first refusal
        assert f'voicebot_calls_refused_total{{reason="{reason}"}}' in text
    assert names["voicebot_records_lost"] == "counter"
    for what in ("caller_turn", "write_overflow", "write_outage", "write_failed"):  # present before the first loss
        assert f'voicebot_records_lost_total{{what="{what}"}}' in text


def test_latency_is_observed_in_seconds_in_the_right_bucket():
    labels = {"stage": "response", "mode": "push_to_talk", "provider": "text"}
    before_le = value("voicebot_turn_latency_seconds_bucket", le="0.3", **labels)
    before_count = value("voicebot_turn_latency_seconds_count", **labels)
    metrics.turn_latency("push_to_talk", {"response": 260.0, "asr": None}, {"response": "text"})
    assert value("voicebot_turn_latency_seconds_count", **labels) == before_count + 1
    assert value("voicebot_turn_latency_seconds_bucket", le="0.3", **labels) == before_le + 1
    assert value("voicebot_turn_latency_seconds_sum", **labels) >= 0.26


def test_provider_failure_counts_the_fallback_when_there_is_one():
    before = value("voicebot_provider_fallbacks_total", provider="elevenlabs", fallback="piper")
    metrics.provider_failed("elevenlabs", "permanent", "piper")
    metrics.provider_failed("elevenlabs", "circuit_open", None)  # nothing left to fall back on
    assert value("voicebot_provider_failures_total", provider="elevenlabs", kind="circuit_open") >= 1
    assert value("voicebot_provider_fallbacks_total", provider="elevenlabs", fallback="piper") == before + 1


def test_circuit_breaker_reports_open_and_closed():
    breaker = CircuitBreaker(2, 30, vendor="TestVendor")
    breaker.failure()
    assert value("voicebot_breaker_open", vendor="testvendor") == 0
    breaker.failure()
    assert value("voicebot_breaker_open", vendor="testvendor") == 1
    breaker.success()
    assert value("voicebot_breaker_open", vendor="testvendor") == 0


# ---------------------------------------------------------------- refusals at their boundaries


def test_rate_limited_call_is_counted(client, loan_bot, settings):
    from django.core.cache import cache

    cache.clear()  # other tests' counters for this client
    settings.CALL_RATE_LIMIT = 1
    before = value("voicebot_calls_refused_total", reason="rate_limited")
    body = json.dumps({"bot": loan_bot.slug})
    assert client.post("/api/calls/", body, content_type="application/json", REMOTE_ADDR="10.9.9.9").status_code == 201
    assert client.post("/api/calls/", body, content_type="application/json", REMOTE_ADDR="10.9.9.9").status_code == 429
    assert value("voicebot_calls_refused_total", reason="rate_limited") == before + 1


@pytest.mark.django_db(transaction=True)
async def test_bad_token_is_counted(brief_bots):
    from devtools.callclient import create_call
    from devtools.servers import Closed, InProcess

    created = await create_call("quickrupee-loan")
    before = value("voicebot_calls_refused_total", reason="bad_token")
    socket = InProcess().socket(f"/ws/calls/{created.call_id}/?token=forged")
    assert await socket.connect(timeout=1)
    assert await socket.receive(timeout=10) == Closed(4401)
    assert value("voicebot_calls_refused_total", reason="bad_token") == before + 1


async def test_phone_stream_with_a_wrong_key_is_counted_as_bad_token(settings):
    from devtools.servers import Closed, InProcess

    settings.EXOTEL_STREAM_KEY = "the-right-key-123"
    before = value("voicebot_calls_refused_total", reason="bad_token")
    socket = InProcess().socket("/ws/telephony/exotel/?bot=short&key=wrong")
    assert await socket.connect(timeout=1)
    assert await socket.receive(timeout=10) == Closed(4401)
    assert value("voicebot_calls_refused_total", reason="bad_token") == before + 1


def test_ended_call_is_counted_once_with_its_duration(call, django_capture_on_commit_callbacks):
    from calls.persistence import lifecycle

    labels = {"bot": "quickrupee-loan", "outcome": "rejected", "reason": "not_qualified:salary"}
    before = value("voicebot_calls_total", **labels)
    before_duration = value("voicebot_call_duration_seconds_count", bot="quickrupee-loan", outcome="rejected")
    lifecycle.claim_call(str(call.pk))
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.end_call(str(call.pk), "rejected", "not_qualified:salary")
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.end_call(str(call.pk), "error", "server_error")  # already ended: not counted again
    assert value("voicebot_calls_total", **labels) == before + 1
    assert value("voicebot_calls_total", bot="quickrupee-loan", outcome="error", reason="server_error") == 0
    assert value("voicebot_call_duration_seconds_count", bot="quickrupee-loan", outcome="rejected") == before_duration + 1


# ---------------------------------------------------------------- access


def test_internal_address_may_read_without_a_token(client):
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


@pytest.mark.parametrize("meta", [
    {"REMOTE_ADDR": "203.0.113.7"},
    {"REMOTE_ADDR": "8.8.8.8"},
    {"REMOTE_ADDR": "2001:db8::1"},
    {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"},  # through the load balancer
    {"REMOTE_ADDR": "127.0.0.1", "HTTP_FORWARDED": "for=203.0.113.7"},
])
def test_public_or_proxied_requests_are_refused_without_a_token(client, meta):
    response = client.get("/metrics", **meta)
    assert response.status_code == 403
    assert b"voicebot_" not in response.content


def test_metrics_token_is_required_when_set(client, settings):
    settings.METRICS_TOKEN = "scrape-secret-42"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-42").status_code == 200
    ok = client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="203.0.113.7",
                    HTTP_AUTHORIZATION="Bearer scrape-secret-42")
    assert ok.status_code == 200 and b"voicebot_calls_active" in ok.content


# ---------------------------------------------------------------- several worker processes

WORKER = textwrap.dedent(
    """
    import sys
    from calls import metrics
    metrics.call_started("quickrupee-loan", "web")  # a call in progress
    metrics.call_ended("quickrupee-loan", "qualified", "qualified", 30.0)
    metrics.turn_latency("vad", {"response": 420.0}, {"response": "whisper-local"})
    metrics.breaker_state("openai", True)
    print("ready", flush=True)
    sys.stdin.read()  # live until the test closes stdin (or kills us)
    """
)


def start_worker(directory: Path) -> subprocess.Popen:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    return process


def test_any_worker_reports_every_worker_and_forgets_dead_ones_gauges(tmp_path):
    first, second = start_worker(tmp_path), start_worker(tmp_path)
    try:
        seen = families(metrics.exposition(str(tmp_path))[0].decode())
        active = seen["voicebot_calls_active"][(("bot", "quickrupee-loan"), ("channel", "web"))]
        assert active == 2
        assert seen["voicebot_calls_total"][(("bot", "quickrupee-loan"), ("outcome", "qualified"), ("reason", "qualified"))] == 2
        response_count = (("mode", "vad"), ("provider", "whisper-local"), ("stage", "response"))
        assert seen["voicebot_turn_latency_seconds_count"][response_count] == 2
        assert seen["voicebot_breaker_open"][(("vendor", "openai"),)] == 1

        first.kill()  # a worker crashes with its call "in progress"
        first.wait(timeout=10)
        seen = families(metrics.exposition(str(tmp_path))[0].decode())
        assert seen["voicebot_calls_active"][(("bot", "quickrupee-loan"), ("channel", "web"))] == 1
        assert seen["voicebot_calls_total"][(("bot", "quickrupee-loan"), ("outcome", "qualified"), ("reason", "qualified"))] == 2

        second.stdin.close()
        second.wait(timeout=10)
        seen = families(metrics.exposition(str(tmp_path))[0].decode())
        assert not seen.get("voicebot_calls_active") and not seen.get("voicebot_breaker_open")
        assert seen["voicebot_calls_total"][(("bot", "quickrupee-loan"), ("outcome", "qualified"), ("reason", "qualified"))] == 2
        assert seen["voicebot_turn_latency_seconds_count"][response_count] == 2
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def test_provider_error_kinds():
    from calls.providers.base import ProviderError

    assert ProviderError("x", permanent=True).kind == "permanent"
    assert ProviderError("x").kind == "transient"
    assert ProviderError("x", skipped=True).kind == "circuit_open"
    assert set(metrics.FAILURE_KINDS) == {"permanent", "transient", "circuit_open"}
