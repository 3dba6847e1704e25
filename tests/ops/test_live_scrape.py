"""A real scrape: Debian's Prometheus scrapes a running server of two daphne workers.

Production shape, on loopback: two workers share PROMETHEUS_MULTIPROC_DIR and a
database, /metrics needs METRICS_TOKEN, logs are JSON. Prometheus scrapes worker A
only (one target per host), with our alert rules loaded; the calls go to worker B.
So the figures Prometheus reads prove both the instrumentation and the
multiprocess aggregation, and killing worker B mid-call shows a dead worker's
calls leave the "in progress" gauge while the totals stay.

Every wait polls for the awaited condition with a deadline (no sleeps as
synchronisation). The bot speaks through Piper, hence the `speech` marker.
"""
from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from calls.metrics import LATENCY_BUCKETS
from devtools.callclient import CallClient, Created
from devtools.liveserver import PYTHON, free_port, own_state_env, stop
from devtools.servers import Network

pytestmark = pytest.mark.speech

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
DAPHNE = str(VENV_BIN / "daphne") if (VENV_BIN / "daphne").exists() else shutil.which("daphne") or "daphne"
PROMPT_CACHE = Path(tempfile.gettempdir()) / "voicebot-browser-prompt-cache"  # shared with the browser tests

METRICS_TOKEN = "live-scrape-token-5d1f0c"
SECRET_KEY = "live-scrape-secret-key-8e2a47b1"
CALLER_WORDS = ("yes I own the place outright", "yes within weeks surely")
# Daphne's access log bypasses logging (plain text on stdout): with LOG_FORMAT=json the
# servers run with -v 0, as scripts/run.sh does (docs/operations.md, Logs).
JSON_LOG_ARGS = ("-v", "0")
READY_TIMEOUT_S = 180
PROMETHEUS_TIMEOUT_S = 60

# A bot with one-word lines: its audio plays out in well under a second.
SHORT_BOT = """
from bots.models import Bot, Question
bot, _ = Bot.objects.get_or_create(slug="short", defaults=dict(
    name="Short", greeting="Hi.", qualified_message="Great.", rejected_message="Bye.",
    incomplete_message="Sorry.", silence_message="Bye.", still_there_prompt="Hello?"))
Question.objects.get_or_create(bot=bot, order=1, key="owns", defaults=dict(prompt="Own?"))
Question.objects.get_or_create(bot=bot, order=2, key="soon", defaults=dict(prompt="Soon?"))
"""


def http(url: str, *, method: str = "GET", body: dict | None = None, token: str = "") -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_for(what: str, check: Callable[[], Any], timeout: float, pause: float = 0.25) -> Any:
    """Poll `check()` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except OSError as exc:  # not listening yet
            last = exc
        else:
            if result:
                return result
            last = result
        time.sleep(pause)  # a polling interval, not synchronisation: the condition decides
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


@dataclass
class Worker:
    port: int
    process: subprocess.Popen
    log: Path
    readyz: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()


@dataclass
class Stack:
    workers: list[Worker]
    prometheus_url: str
    prometheus: subprocess.Popen

    def query(self, promql: str) -> list[dict]:
        status, body = http(f"{self.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        assert status == 200, body
        return json.loads(body)["data"]["result"]

    def value(self, promql: str) -> float | None:
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    prometheus_bin = shutil.which("prometheus")
    if prometheus_bin is None:
        pytest.fail("prometheus not found: scripts/setup.sh test installs Debian's prometheus package")
    work = Path(tempfile.mkdtemp(prefix="voicebot-ops-"))
    env = own_state_env(
        work / "var", PROMPT_CACHE, PROMETHEUS_MULTIPROC_DIR=str(work / "metrics"),
        METRICS_TOKEN=METRICS_TOKEN, SECRET_KEY=SECRET_KEY, LOG_FORMAT="json", LOG_LEVEL="INFO",
        SPEECH_WARMUP="1", CALL_RATE_LIMIT="1000",
    )
    processes: list[subprocess.Popen] = []
    try:
        for args in (["migrate", "--noinput"], ["shell", "-c", SHORT_BOT]):
            done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stdout + done.stderr
        workers = []
        for name in ("a", "b"):
            port = free_port()
            log = work / f"worker-{name}.log"
            with log.open("wb") as out:
                process = subprocess.Popen([DAPHNE, *JSON_LOG_ARGS, "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
                                           cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            processes.append(process)
            workers.append(Worker(port, process, log))
        for worker in workers:
            def ready(worker: Worker = worker) -> bool:
                assert worker.process.poll() is None, "\n".join(worker.lines()[-30:])
                status, _ = http(worker.url + "/readyz")
                worker.readyz.append(status)
                return status == 200
            wait_for(f"worker on port {worker.port} to be ready", ready, READY_TIMEOUT_S)

        (work / "token").write_text(METRICS_TOKEN)
        shutil.copy(ROOT / "deploy" / "prometheus" / "alerts.yml", work / "alerts.yml")
        (work / "prometheus.yml").write_text(json.dumps({  # JSON is YAML
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["alerts.yml"],
            "scrape_configs": [{
                "job_name": "voicebot",
                "authorization": {"type": "Bearer", "credentials_file": str(work / "token")},
                "static_configs": [{"targets": [f"127.0.0.1:{workers[0].port}"]}],  # worker A only
            }],
        }))
        port = free_port()
        prometheus = subprocess.Popen(
            [prometheus_bin, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            cwd=work, stdout=(work / "prometheus.log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        processes.append(prometheus)
        url = f"http://127.0.0.1:{port}"
        wait_for("Prometheus to be ready", lambda: http(url + "/-/ready")[0] == 200, PROMETHEUS_TIMEOUT_S)
        yield Stack(workers, url, prometheus)
    finally:
        for process in processes:
            stop(process)
        shutil.rmtree(work, ignore_errors=True)


async def joined_call(worker: Worker) -> CallClient:
    """A push-to-talk call on the short bot, joined (`call.started` received)."""
    return await CallClient.start("short", "push_to_talk", server=Network(worker.url), caller=None)


def typed_call(worker: Worker) -> Created:
    """A whole call answered in typed text (each answer as the question starts): qualified."""
    async def call() -> tuple[Created, dict]:
        client = await joined_call(worker)
        for words in CALLER_WORDS:
            await client.until("bot.speech.started", timeout=30)  # the greeting with the first question, then the second
            await client.send(type="text", text=words)
        ended = await client.until("call.ended", timeout=60)
        await client.close()
        return client.created, ended

    created, ended = asyncio.run(call())
    assert ended["outcome"] == "qualified", ended
    return created


def test_prometheus_scrapes_the_call_and_the_latency_histogram(stack):
    worker_a, worker_b = stack.workers
    assert worker_a.readyz[-1] == worker_b.readyz[-1] == 200
    assert http(worker_a.url + "/metrics")[0] == 401  # the token is required
    typed_call(worker_b)  # on the worker Prometheus does NOT scrape

    wait_for("the target to be up", lambda: stack.value('up{job="voicebot"}') == 1, PROMETHEUS_TIMEOUT_S)
    qualified = 'sum(voicebot_calls_total{bot="short",outcome="qualified"})'
    wait_for("the call to be counted", lambda: (stack.value(qualified) or 0) >= 1, PROMETHEUS_TIMEOUT_S)
    responses = 'sum(voicebot_turn_latency_seconds_count{stage="response",mode="push_to_talk"})'
    wait_for("two answered turns in the histogram", lambda: (stack.value(responses) or 0) >= 2, PROMETHEUS_TIMEOUT_S)
    # The histogram is filled: its buckets hold the turns and give a finite p95.
    buckets = stack.query('sum by (le) (voicebot_turn_latency_seconds_bucket{stage="response",mode="push_to_talk"})')
    by_le = {float(r["metric"]["le"]): float(r["value"][1]) for r in buckets}
    assert by_le[float("inf")] >= 2 and by_le[30.0] >= 2
    assert set(by_le) == {*LATENCY_BUCKETS, float("inf")}  # 50 ms steps below 1 s
    p95 = stack.value('histogram_quantile(0.95, sum by (le) (voicebot_turn_latency_seconds_bucket{stage="response"}))')
    assert p95 is not None and 0 < p95 < 30
    assert (stack.value('sum(voicebot_call_duration_seconds_count{bot="short",outcome="qualified"})') or 0) >= 1
    assert (stack.value('sum(voicebot_answers_total{bot="short",understood="true"})') or 0) >= 2

    status, body = http(stack.prometheus_url + "/api/v1/rules")
    rules = [r for g in json.loads(body)["data"]["groups"] for r in g["rules"]]
    shipped = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())["groups"][0]["rules"]
    assert len(rules) == len(shipped) and all(r["health"] in ("ok", "unknown") for r in rules), rules


def test_json_logs_of_a_call_carry_its_context_and_no_secrets(stack):
    worker_b = stack.workers[1]
    created = typed_call(worker_b)
    wait_for("the call's end in the log", lambda: any(
        created.call_id in line and '"call.ended"' in line for line in worker_b.lines()), 30)
    lines = worker_b.lines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    about_call = [r for r in records if r.get("call_id") == created.call_id]
    assert about_call, "no line about the call"
    for record in about_call:
        assert record["bot"] == "short" and isinstance(record["turn"], int) and record["event"], record
    assert any(r["event"] == "call.ended" and r["outcome"] == "qualified" for r in about_call)
    text = "\n".join(lines)
    for secret in (METRICS_TOKEN, SECRET_KEY, created.token):
        assert secret not in text
    for words in CALLER_WORDS:  # transcripts only at DEBUG; this server logs INFO
        assert words not in text


def test_a_dead_workers_calls_leave_the_in_progress_gauge(stack):
    worker_a, worker_b = stack.workers
    active, total = "sum(voicebot_calls_active) or vector(0)", "sum(voicebot_calls_total)"
    status, body = http(worker_a.url + "/metrics", token=METRICS_TOKEN)
    assert status == 200
    ended_so_far = sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
                       if line.startswith("voicebot_calls_total{"))
    wait_for("Prometheus to catch up with the ended calls",
             lambda: stack.value(total) == ended_so_far and stack.value(active) == 0, PROMETHEUS_TIMEOUT_S)

    async def call_on_a_worker_that_dies() -> None:
        client = await joined_call(worker_b)
        await asyncio.to_thread(wait_for, "the live call in the gauge", lambda: stack.value(active) == 1, PROMETHEUS_TIMEOUT_S)
        worker_b.process.kill()  # crashes mid-call: no chance to decrement anything
        worker_b.process.wait(timeout=10)
        await asyncio.to_thread(
            wait_for, "the dead worker's call to leave the gauge", lambda: stack.value(active) == 0, PROMETHEUS_TIMEOUT_S
        )
        await client.close()

    asyncio.run(call_on_a_worker_that_dies())
    assert stack.value(total) == ended_so_far  # the totals keep the dead worker's calls
    assert stack.value('up{job="voicebot"}') == 1
