"""An attacker's probe against one worker, on loopback: does it stay small and keep its calls fast?

While a few real calls run (typed answers; the bot speaks every line), the probe
- sends 32 MiB WebSocket messages (the worker must refuse each with close 1009 as its
  header arrives, never buffering it),
- opens idle sockets: half plain TCP connections that never send a byte, half phone
  streams that never send `start` (closed after PHONE_START_TIMEOUT_S),
- posts unsigned Twilio webhooks (403, or 404 with no Twilio account),
- posts calls with forged X-Forwarded-For addresses (the worker trusts no proxy: the
  call rate limit and the per-client cap still count them as one client),
and prints the worker's resident memory (before, peak during, after: the peak must stay
within +50 MB), the calls' response times (answer sent to the bot's next line) before
and under attack, and what each attack got back.

By default it starts its own worker (`python -m config.server`, SQLite in a temporary
directory, local engines warmed, the shipped limits, a Twilio token set so its stream
is open to the probe); `--url` and `--pid` point it at a running one instead. Loopback
only; every step is bounded, and the whole run by --max-seconds.

    .venv/bin/python bench/attack_probe.py [--calls 3] [--big 4] [--idle 500] [--webhooks 200] [--forged 100]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.call_cost import rss_mib, until_warm  # noqa: E402
from calls.percentile import percentile  # noqa: E402
from devtools.callclient import CallClient  # noqa: E402
from devtools.liveserver import Worker  # noqa: E402
from devtools.servers import Network  # noqa: E402
from devtools.typed_call import LOAN_BOT, QUALIFYING_ANSWERS  # noqa: E402

MIB = 1024 * 1024
RSS_BUDGET_MIB = 50


def ws_url(base: str, path: str) -> str:
    return base.replace("http://", "ws://", 1) + path


# ---------------------------------------------------------------------- the real calls
async def timed_call(base: str) -> tuple[list[float], list[float]]:
    """One typed call to its end; per answer, ms from sending it to the bot's next line
    (client side) and the server's own `response_ms` (to its first audio frame)."""
    call = await CallClient.start(LOAN_BOT, "push_to_talk", server=Network(base), keep_audio=False)
    client = []
    for text in QUALIFYING_ANSWERS:
        await call.until("bot.speech.ended")
        sent = time.perf_counter()
        await call.send(type="text", text=text)
        await call.until("bot.speech.started")
        client.append((time.perf_counter() - sent) * 1000)
    await call.ended()
    server = [e["response_ms"] for e in call.events if e["type"] == "latency" and e.get("response_ms") is not None]
    return client, server


async def timed_calls(base: str, count: int) -> tuple[list[float], list[float]]:
    results = await asyncio.gather(*(timed_call(base) for _ in range(count)))
    return [ms for client, _ in results for ms in client], [ms for _, server in results for ms in server]


# ---------------------------------------------------------------------- the attacks
async def big_messages(base: str, count: int, path: str) -> Counter[str]:
    """32 MiB messages, one per socket; what closed each."""
    codes: Counter[str] = Counter()
    for _ in range(count):
        try:
            async with connect(ws_url(base, path), max_size=None, open_timeout=30, close_timeout=30) as ws:
                try:
                    await ws.send(bytes(32 * MIB))
                    await asyncio.wait_for(ws.wait_closed(), 60)
                except ConnectionClosed:
                    pass
                codes[f"close {ws.close_code}"] += 1
        except (OSError, InvalidStatus, TimeoutError) as exc:
            codes[type(exc).__name__] += 1
    return codes


async def idle_sockets(base: str, count: int, hold_s: float, stream_path: str) -> Counter[str]:
    """`count` sockets that say nothing for `hold_s`; how each one ended by then."""
    host, port = httpx.URL(base).host, httpx.URL(base).port

    async def raw() -> str:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            return f"refused ({exc.__class__.__name__})"
        try:
            data = await asyncio.wait_for(reader.read(1), hold_s)
            return "tcp closed by the server" if not data else "tcp answered"
        except TimeoutError:
            return "tcp still open"
        finally:
            writer.close()

    async def stream() -> str:
        try:
            async with connect(ws_url(base, stream_path), open_timeout=30) as ws:
                await asyncio.wait_for(ws.wait_closed(), hold_s)
                return f"stream closed {ws.close_code}"
        except TimeoutError:
            return "stream still open"
        except InvalidStatus as refused:
            return f"stream refused {refused.response.status_code}"
        except OSError as exc:
            return f"stream {exc.__class__.__name__}"

    half = count // 2
    return Counter(await asyncio.gather(*[raw() for _ in range(half)], *[stream() for _ in range(count - half)]))


async def unsigned_webhooks(base: str, count: int) -> Counter[str]:
    statuses: Counter[str] = Counter()
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for i in range(count):
            path = "/telephony/twilio/voice/?bot=quickrupee-loan" if i % 2 else "/telephony/twilio/status/"
            form = {"CallSid": "CA" + uuid.uuid4().hex, "From": "+15550000000", "CallStatus": "completed"}
            statuses[str((await http.post(path, data=form)).status_code)] += 1
    return statuses


async def forged_forwarded_for(base: str, count: int) -> Counter[str]:
    answers: Counter[str] = Counter()
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for i in range(count):
            forged = f"203.0.113.{i % 250 + 1}, 198.51.100.{i % 250 + 1}"
            response = await http.post("/api/calls/", json={"bot": "quickrupee-loan"}, headers={"X-Forwarded-For": forged})
            code = response.json().get("error", {}).get("code", "") if response.status_code != 201 else ""
            answers[f"{response.status_code} {code}".strip()] += 1
    return answers


# ---------------------------------------------------------------------- the run
class RssSampler:
    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._task = pid, 0.0, None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mib(self.pid))
            await asyncio.sleep(0.05)

    def __enter__(self) -> RssSampler:
        self.peak = rss_mib(self.pid)
        self._task = asyncio.ensure_future(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        self._task.cancel()


def summary(times: tuple[list[float], list[float]]) -> str:
    client, server = times
    return (f"answer to the bot's next line p50 {percentile(client, 50):.0f} ms, max {max(client):.0f} ms; "
            f"server response_ms p50 {percentile(server, 50):.0f} ms, max {max(server, default=float('nan')):.0f} ms "
            f"({len(client)} answers)")


async def probe(args: argparse.Namespace, base: str, pid: int) -> int:
    stream_path = "/ws/telephony/twilio/"
    await timed_calls(base, 1)  # warm: the first call loads what calls need
    baseline = await timed_calls(base, args.calls)
    before = rss_mib(pid)
    print(f"worker pid {pid}: {before:.0f} MiB resident before the attack; calls alone: {summary(baseline)}", flush=True)
    with RssSampler(pid) as rss:
        calls = asyncio.ensure_future(timed_calls(base, args.calls))
        attacks = await asyncio.gather(
            big_messages(base, args.big, stream_path),
            idle_sockets(base, args.idle, args.hold, stream_path),
            unsigned_webhooks(base, args.webhooks),
            forged_forwarded_for(base, args.forged),
        )
        under_attack = await calls
    after = rss_mib(pid)
    for name, result in zip(("32 MiB messages", f"{args.idle} idle sockets", "unsigned webhooks", "forged X-Forwarded-For"), attacks):
        print(f"{name}: " + ", ".join(f"{key} x{n}" for key, n in sorted(result.items())))
    grown = rss.peak - before
    print(f"calls under attack: {summary(under_attack)}")
    print(f"worker RSS: {before:.0f} MiB before, peak {rss.peak:.0f} MiB during (+{grown:.1f} MiB), {after:.0f} MiB after; "
          f"budget +{RSS_BUDGET_MIB} MiB: {'kept' if grown <= RSS_BUDGET_MIB else 'EXCEEDED'}")
    print(f"machine load average {os.getloadavg()[0]:.1f}")
    return 0 if grown <= RSS_BUDGET_MIB else 1


async def main_async(args: argparse.Namespace) -> int:
    if args.url:
        if httpx.URL(args.url).host not in {"127.0.0.1", "localhost", "::1"}:
            raise SystemExit("attack_probe: loopback addresses only")
        if not args.pid:
            raise SystemExit("attack_probe: --url needs --pid (the worker whose memory to read)")
        return await asyncio.wait_for(probe(args, args.url.rstrip("/"), args.pid), args.max_seconds)
    with tempfile.TemporaryDirectory(prefix="voicebot-attack-probe-") as tmp:
        worker = Worker(
            Path(tmp), SPEECH_WARMUP="1", TTS_PROVIDER="piper", PLAYBACK_LEAD_MS="250", SILENCE_TIMEOUT_S="0",
            CALL_RATE_LIMIT="30", MAX_CALLS_PER_CLIENT="10", MAX_CALLS_PER_WORKER="0",
            TWILIO_AUTH_TOKEN=secrets.token_hex(16),
        )
        try:
            await until_warm(worker)
            return await asyncio.wait_for(probe(args, worker.url, worker.process.pid), args.max_seconds)
        finally:
            worker.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running worker on loopback (default: start one)")
    parser.add_argument("--pid", type=int, help="its process id (for its memory)")
    parser.add_argument("--calls", type=int, default=3, help="real calls at once, before and during the attack")
    parser.add_argument("--big", type=int, default=4, help="32 MiB messages")
    parser.add_argument("--idle", type=int, default=500, help="idle sockets")
    parser.add_argument("--hold", type=float, default=8.0, help="seconds the idle sockets are watched")
    parser.add_argument("--webhooks", type=int, default=200, help="unsigned Twilio webhooks")
    parser.add_argument("--forged", type=int, default=100, help="calls posted with a forged X-Forwarded-For")
    parser.add_argument("--max-seconds", type=float, default=600)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * args.idle + 256)), hard))
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
