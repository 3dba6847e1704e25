"""Load bench: N simulated callers at once against the production setup, on loopback.

It starts everything itself and stops it at the end (or after --max-seconds):
- the cloud stand-in (tests/fakecloud.py: OpenAI transcription and ElevenLabs
  streaming speech over real HTTP) with settable latency, in its own process;
  every transcription answers --transcript, which qualifies on both shipped bots;
- the server: `scripts/serve.sh` (what `make serve` runs) with WORKERS, on a free
  127.0.0.1 port, using DATABASE_URL / REDIS_URL from this environment
  (--local: no cloud keys, the local engines do the speech work);
- N callers (--procs processes of asyncio clients), started over --ramp seconds.

Each caller starts a call over HTTP, then for every question listens to the bot
line for as long as it plays (audio arrives paced; the caller waits until its
last sample would have played) and answers:
- push_to_talk: a real espeak-ng clip streamed in 20 ms frames in real time,
  then `end_of_speech` after --release-ms; timed from `end_of_speech` sent;
- vad (hands-free): the clip, then the microphone keeps streaming silence in real
  time; timed from the frame holding the last spoken sample;
- text: a typed answer; timed from sending it;
to the first bot audio frame that follows (client side).

It prints completed and failed calls (by reason), client response p50/p95/p99,
the server's own `response_ms` from the `latency` events, server CPU (cores busy)
and peak RSS of the whole server process tree, the machine load, and records
lost: for every call that ended on the socket, the stored call is read back
through `GET /api/calls/<id>/` and compared with what the socket said (status,
outcome, answers, turns, latency rows).

    .venv/bin/python bench/load.py --calls 300 --mode push_to_talk --workers 2 \\
        DATABASE_URL=... REDIS_URL=...   (in the environment)

--restart-after S runs a rolling restart (`scripts/restart.sh`, what `make restart`
runs) S seconds after the first caller starts, while the calls go on (the drain
then gets DRAIN_S=120 unless --server-env sets it), and reports how long it took,
how many calls were in progress when it began and how many started during it.
--json PATH also writes the figures as JSON.
Loopback only; exits 1 if any call failed (a dropped call) or any record was lost,
or the rolling restart failed.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.latency import VOICES, percentile  # noqa: E402  (one percentile rule for both benches)

FRAME_MS = 20
RATE = 16000
ANSWERS = {  # spoken (and, with --local, understood) answers per bot; all qualify
    "quickrupee-loan": ["yes I am", "about fifty thousand a month", "yes I live in Mumbai"],
    "home-renovation": ["yes I own it", "around fifty thousand dollars", "yes, next month"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------- the cloud stand-in
def run_fake_cloud(port_out: mp.Queue, transcript: str, asr_s: float, tts_s: float, done: Any) -> None:
    from tests.fakecloud import FakeCloud

    fake = FakeCloud()
    fake.default_transcript = transcript
    fake.transcribe_delay = asr_s
    fake.first_audio_delay = tts_s
    fake.chunk_delay = 0.0  # the speech itself streams as fast as the link allows
    fake._server.handle_error = lambda request, address: None  # a caller hanging up mid-stream is normal here
    port_out.put((fake.openai_url, fake.elevenlabs_url))
    done.wait()  # (an mp.Event: the bench is over) then what it was asked, and by how much
    port_out.put({service: len(fake.requests_for(service)) for service in ("openai", "elevenlabs")})
    fake.close()


# ---------------------------------------------------------------------- one caller
@dataclass
class CallResult:
    ok: bool = False
    reason: str = ""
    client_ms: list[float] = field(default_factory=list)
    answered_at: list[float] = field(default_factory=list)  # wall clock of each client_ms's start (the timeline)
    server_ms: list[float] = field(default_factory=list)
    stages: dict = field(default_factory=dict)  # server latency stages (asr, nlu, tts_first_audio) per turn
    call_id: str = ""
    token: str = ""
    seen: dict = field(default_factory=dict)  # what the socket said, to compare with the stored call
    started_at: float = 0.0  # wall clock, for what overlapped a rolling restart
    ended_at: float = 0.0


def words(pcm: bytes, level: int = 300) -> bytes:
    """The clip without espeak's quiet head and tail, so "end of speech" is the end of the words."""
    import numpy as np

    samples = np.frombuffer(pcm, dtype="<i2")
    loud = np.nonzero(np.abs(samples) > level)[0]
    return pcm[loud[0] * 2 : (loud[-1] + 1) * 2] if loud.size else pcm


def http_client(base: str):  # -> httpx.AsyncClient
    """One per caller process: making an httpx client costs about 25 ms of CPU (its TLS
    context), which at 30 new calls a second would be most of a core of the load
    generator's, taken from the server under test on the same machine."""
    import httpx

    return httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=None, max_keepalive_connections=50))


async def one_call(base: str, bot: str, voice: str, mode: str, release_ms: int, timeout: float, http=None) -> CallResult:
    """One caller's whole call; `http` is the process's shared client (one of its own if None)."""
    import httpx
    import websockets

    from tests.speech import say, silence

    result = CallResult()
    own = http is None
    http = http_client(base) if own else http
    try:
        response = await http.post("/api/calls/", json={"bot": bot, "mode": "vad" if mode == "vad" else "push_to_talk"})
    except httpx.HTTPError as exc:
        result.reason = f"http {type(exc).__name__}"
        return result
    finally:
        if own:
            await http.aclose()
    if response.status_code != 201:
        code = ""
        try:
            code = response.json()["error"]["code"]
        except Exception:
            pass
        result.reason = f"http {response.status_code} {code}".strip()
        return result
    created = response.json()
    result.call_id, result.token = created["call_id"], created["ws_url"].split("token=")[1]
    ws_url = base.replace("http://", "ws://") + created["ws_url"]
    events: list[dict] = []
    state = {"rate": 22050, "listening": False, "line_audio": 0, "line_first": None}
    replied = asyncio.Event()
    line_ended = asyncio.Event()
    done = asyncio.Event()
    first_audio: list[float] = []
    step = RATE * 2 * FRAME_MS // 1000
    close_code = None

    async def reader(ws) -> None:
        async for message in ws:
            now = time.perf_counter()
            if isinstance(message, bytes):
                if state["line_first"] is None:
                    state["line_first"] = now
                state["line_audio"] += len(message)
                if state["listening"] and not replied.is_set():
                    first_audio.append(now)
                    replied.set()
                continue
            event = json.loads(message)
            events.append(event)
            kind = event["type"]
            if kind == "call.started":
                state["rate"] = event["output_sample_rate"]
            elif kind == "bot.speech.started":
                state["line_first"], state["line_audio"] = None, 0
            elif kind == "bot.speech.ended":
                line_ended.set()
            elif kind == "latency" and event.get("response_ms") is not None:
                result.server_ms.append(event["response_ms"])
                for stage in ("asr", "nlu", "tts_first_audio"):
                    if event.get(f"{stage}_ms") is not None:
                        result.stages.setdefault(stage, []).append(event[f"{stage}_ms"])
            elif kind == "call.ended":
                done.set()

    async def listen_to_line() -> None:
        """Wait for the bot's line to be sent, then until its last sample has played."""
        await line_ended.wait()
        line_ended.clear()
        if state["line_first"] is not None:
            plays_until = state["line_first"] + state["line_audio"] / 2 / state["rate"]
            await asyncio.sleep(max(0.0, plays_until - time.perf_counter()) + 0.1)

    async def stream(pcm: bytes) -> float:
        """Send `pcm` in real time; returns when the last frame went."""
        start = time.perf_counter()
        for n, i in enumerate(range(0, len(pcm), step)):
            await ws.send(pcm[i : i + step])
            delay = start + (n + 1) * FRAME_MS / 1000 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        return time.perf_counter()

    async def converse(ws) -> None:
        await ws.send(json.dumps({"type": "start", "sample_rate": RATE}))
        for text in ANSWERS[bot]:
            await listen_to_line()
            replied.clear()
            if mode == "text":
                state["listening"] = True
                spoken_end = time.perf_counter()
                await ws.send(json.dumps({"type": "text", "text": text}))
            else:
                clip = words(say(text, voice=voice))
                if mode == "push_to_talk":
                    await stream(silence(100) + clip + silence(release_ms))
                    state["listening"] = True
                    spoken_end = time.perf_counter()
                    await ws.send(json.dumps({"type": "end_of_speech"}))
                else:
                    await stream(silence(200) + clip[:-step])
                    state["listening"] = True
                    spoken_end = await stream(clip[-step:])
                    tail = silence(FRAME_MS)  # a microphone keeps sending until the bot answers
                    while not replied.is_set() and not done.is_set():
                        await stream(tail)
            await asyncio.wait([asyncio.ensure_future(replied.wait()), asyncio.ensure_future(done.wait())], return_when=asyncio.FIRST_COMPLETED)
            state["listening"] = False
            if replied.is_set() and first_audio:
                result.client_ms.append((first_audio[-1] - spoken_end) * 1000)
                result.answered_at.append(time.time() - (time.perf_counter() - spoken_end))
            if done.is_set():
                break
        await done.wait()

    try:
        async with websockets.connect(ws_url, max_size=None, open_timeout=30, ping_interval=None) as ws:
            task = asyncio.create_task(reader(ws))
            try:
                await asyncio.wait_for(converse(ws), timeout)
                await asyncio.wait_for(task, 10)
            finally:
                task.cancel()
            close_code = ws.close_code
    except asyncio.TimeoutError:
        result.reason = "timeout"
        return result
    except websockets.ConnectionClosed as exc:
        close_code = exc.rcvd.code if exc.rcvd else None
    except (OSError, websockets.WebSocketException) as exc:
        result.reason = f"ws {type(exc).__name__}"
        return result
    ended = [e for e in events if e["type"] == "call.ended"]
    errors = [e for e in events if e["type"] == "error"]
    if not ended:
        fatal = [e["code"] for e in errors if e.get("fatal")]
        result.reason = f"closed {close_code}" + (f" ({fatal[0]})" if fatal else "")
        return result
    outcome = ended[0]["outcome"]
    result.seen = {
        "outcome": outcome,
        "answers": len({e["question"] for e in events if e["type"] == "answer"}),
        "latency": len([e for e in events if e["type"] == "latency"]),
        "turns": len([e for e in events if e["type"] in ("transcript", "bot.speech.started")]),
    }
    if outcome != "qualified":
        result.reason = f"outcome {outcome} ({ended[0]['reason']})"
        return result
    result.ok = True
    return result


TIMELINE_S = 5  # seconds per step of the latency timeline


def latency_timeline(ok: list[CallResult]) -> list[tuple[float, int, float]]:
    """(seconds from the first call's start, answers, client p95) per TIMELINE_S of the run,
    by when the caller finished speaking."""
    if not ok:
        return []
    t0 = min(r.started_at for r in ok)
    steps: dict[int, list[float]] = {}
    for r in ok:
        for at, ms in zip(r.answered_at, r.client_ms):
            steps.setdefault(int((at - t0) // TIMELINE_S), []).append(ms)
    return [(k * TIMELINE_S, len(v), percentile(v, 95)) for k, v in sorted(steps.items())]


async def probe_one_more(base: str) -> str:
    """What one more caller gets while the others run: the HTTP answer, and if it got a
    call, what the socket said."""
    import httpx
    import websockets

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        response = await http.post("/api/calls/", json={"bot": "quickrupee-loan", "mode": "vad"})
    if response.status_code != 201:
        return f"POST {response.status_code} {response.text[:80]} Retry-After={response.headers.get('retry-after')}"
    url = base.replace("http://", "ws://") + response.json()["ws_url"]
    async with websockets.connect(url, open_timeout=30) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 30))
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed as exc:
            return f"POST 201, socket: {first.get('type')} {first.get('code', '')} then close {exc.rcvd.code if exc.rcvd else None}"
        except asyncio.TimeoutError:
            pass
    return f"POST 201, socket: {first.get('type')} (admitted)"


async def verify(base: str, results: list[CallResult]) -> list[str]:
    """Compare each ended call's stored record with what its socket said."""
    import httpx

    lost: list[str] = []
    sem = asyncio.Semaphore(20)
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:

        async def check(r: CallResult) -> None:
            async with sem:
                response = await http.get(f"/api/calls/{r.call_id}/", headers={"Authorization": f"Bearer {r.token}"})
            if response.status_code != 200:
                lost.append(f"{r.call_id}: GET {response.status_code}")
                return
            stored = response.json()
            problems = []
            if stored["status"] != "ended" or stored["outcome"] != r.seen["outcome"]:
                problems.append(f"status {stored['status']}/{stored['outcome']}")
            if len(stored["answers"]) != r.seen["answers"]:
                problems.append(f"answers {len(stored['answers'])}/{r.seen['answers']}")
            if len(stored["turns"]) != r.seen["turns"]:
                problems.append(f"turns {len(stored['turns'])}/{r.seen['turns']}")
            if len(stored["latency"]) != r.seen["latency"]:
                problems.append(f"latency rows {len(stored['latency'])}/{r.seen['latency']}")
            if problems:
                lost.append(f"{r.call_id}: " + ", ".join(problems))

        await asyncio.gather(*(check(r) for r in results if r.seen))
    return lost


def caller_process(base: str, indices: list[int], args: dict, out: mp.Queue, cpu_out: mp.Queue, t0: float) -> None:
    async def main() -> None:
        bots = list(ANSWERS)
        http = http_client(base)

        async def run(i: int) -> CallResult:
            await asyncio.sleep(max(0.0, t0 + args["ramp"] * i / max(1, args["calls"]) - time.time()))
            started = time.time()
            try:
                result = await one_call(base, bots[i % 2], VOICES[i % len(VOICES)], args["mode"], args["release_ms"], args["call_timeout"], http)
            except Exception as exc:  # report, never hang the bench
                result = CallResult(reason=f"client {type(exc).__name__}: {exc}"[:120])
            result.started_at, result.ended_at = started, time.time()
            return result

        try:
            for r in await asyncio.gather(*(run(i) for i in indices)):
                out.put(r.__dict__)
        finally:
            await http.aclose()

    asyncio.run(main())
    used = os.times()
    cpu_out.put(used.user + used.system)


# ---------------------------------------------------------------------- server process tree
def proc_stats() -> dict[int, list[str]]:
    """Every process's /proc/<pid>/stat fields from the state on (index 1 is the parent)."""
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    raw = f.read()
            except OSError:
                continue
            stats[int(entry)] = raw[raw.rindex(")") + 2 :].split()
    return stats


def descendants(pid: int, stats: dict[int, list[str]] | None = None) -> list[int]:
    """`pid` and every process below it (from `stats`, read now if not given)."""
    children: dict[int, list[int]] = {}
    for child, fields in (proc_stats() if stats is None else stats).items():
        children.setdefault(int(fields[1]), []).append(child)
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


class Scheduling:
    """Where the CPU went while the calls ran: the workers' event-loop threads' time on a
    CPU and waiting in the run queue for one (/proc/<pid>/schedstat, nanoseconds), and the
    whole machine's split (/proc/stat). Waiting shows a machine short of CPU, which the
    server's own latency figures cannot tell from slow code."""

    def __init__(self, server_pid: int) -> None:
        self.loops = [p for p in descendants(server_pid) if b"config.server" in _cmdline(p)]
        self.start = (self._loops(), self._machine(), time.monotonic())

    def _loops(self) -> tuple[int, int]:
        on_cpu = waiting = 0
        for pid in self.loops:  # a worker's main thread runs its event loop
            try:
                with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
                    ran, waited, _ = (int(x) for x in f.read().split())
            except OSError:  # a worker replaced (rolling restart): not counted
                continue
            on_cpu, waiting = on_cpu + ran, waiting + waited
        return on_cpu, waiting

    @staticmethod
    def _machine() -> list[int]:
        with open("/proc/stat") as f:
            return [int(x) for x in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal

    def report(self) -> dict[str, float]:
        (ran0, waited0), machine0, t0 = self.start
        ran1, waited1 = self._loops()
        machine1, t1 = self._machine(), time.monotonic()
        wall = max(t1 - t0, 1e-9) * max(len(self.loops), 1)
        ticks = [b - a for a, b in zip(machine0, machine1)]
        cores = (os.cpu_count() or 1) / max(sum(ticks), 1)
        user, nice, system, idle, iowait, irq, softirq, steal = (t * cores for t in ticks)
        return {
            "loop_on_cpu": (ran1 - ran0) / 1e9 / wall, "loop_waiting_for_cpu": (waited1 - waited0) / 1e9 / wall,
            "machine_user": user + nice, "machine_system": system + irq + softirq, "machine_idle": idle + iowait,
            "machine_steal": steal,
        }


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def tree_stats(pid: int) -> tuple[float, int]:
    """(CPU seconds used, RSS bytes) summed over `pid` and its descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    stats = proc_stats()
    total_cpu, total_rss = 0.0, 0
    for p in descendants(pid, stats):
        fields = stats.get(p)
        if fields is not None:
            total_cpu += (int(fields[11]) + int(fields[12])) / tick
            total_rss += int(fields[21]) * page
    return total_cpu, total_rss


def stop(server: subprocess.Popen) -> None:
    """The server and everything it started (its own process group)."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


def wait_ready(base: str, proc: subprocess.Popen, seconds: float) -> None:
    import httpx

    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(base + "/api/bots/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not come up")


@dataclass
class Restart:
    """A rolling restart run the way an operator runs it (`make restart`), in a thread."""

    env: dict
    at: float  # wall clock when to start it
    began: float = 0.0
    ended: float = 0.0
    exit_code: int | None = None
    output: str = ""

    def run(self) -> None:
        time.sleep(max(0.0, self.at - time.time()))
        self.began = time.time()
        done = subprocess.run(
            [str(ROOT / "scripts/restart.sh")], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=1800
        )
        self.ended = time.time()
        self.exit_code, self.output = done.returncode, done.stdout + done.stderr

    def figures(self, results: list[CallResult]) -> dict:
        return {
            "exit_code": self.exit_code,
            "seconds": round(self.ended - self.began, 1) if self.ended else None,
            "calls_in_progress_at_start": sum(1 for r in results if r.started_at < self.began < r.ended_at),
            "calls_started_during": sum(1 for r in results if self.began <= r.started_at <= (self.ended or self.began)),
            "calls_in_progress_at_end": sum(1 for r in results if r.started_at < self.ended < r.ended_at),
            "log": self.output.splitlines()[-20:],
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--mode", choices=["push_to_talk", "vad", "text"], default="push_to_talk")
    parser.add_argument("--workers", type=int, default=2, help="WORKERS for scripts/serve.sh")
    parser.add_argument(
        "--server-cmd", default="",
        help="run this shell command as the server instead of scripts/serve.sh (it gets HOST, PORT and "
             "WORKERS in its environment), e.g. to compare an ASGI server's own multi-worker mode",
    )
    parser.add_argument("--local", action="store_true", help="no cloud stand-in: local speech engines")
    parser.add_argument("--asr-ms", type=float, default=150, help="stand-in transcription time")
    parser.add_argument("--tts-ms", type=float, default=80, help="stand-in time to first speech")
    parser.add_argument("--transcript", default="yes, about fifty thousand")
    parser.add_argument("--ramp", type=float, default=10, help="seconds over which calls start")
    parser.add_argument("--procs", type=int, default=0, help="caller processes (default: 1 per 150 calls)")
    parser.add_argument("--release-ms", type=int, default=150)
    parser.add_argument("--call-timeout", type=float, default=120)
    parser.add_argument("--max-seconds", type=float, default=600, help="the bench stops itself after this")
    parser.add_argument("--probe-busy", action="store_true", help="try one call more once all are running")
    parser.add_argument("--server-env", action="append", default=[], help="extra KEY=VALUE for the server")
    parser.add_argument("--restart-after", type=float, default=None, metavar="S",
                        help="rolling restart (make restart) S seconds after the first call starts")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures here as JSON")
    parser.add_argument("--start-at", type=float, default=None, metavar="EPOCH",
                        help="start the callers at this Unix time, once set up (bench/compare.py runs two benches in step)")
    args = parser.parse_args()
    if args.restart_after is not None and args.workers < 2:
        parser.error("--restart-after needs --workers 2 or more (a rolling restart moves callers between workers)")

    env = dict(os.environ)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env.update(
        HOST="127.0.0.1", PORT=str(port), WORKERS=str(args.workers), SPEECH_WARMUP="1", LOG_LEVEL="WARNING",
        CALL_RATE_LIMIT="1000000", MAX_CALLS_PER_CLIENT="0",
        DRAIN_S="5" if args.restart_after is None else "120",  # a restart lets calls finish
    )
    for pair in args.server_env:
        key, _, value = pair.partition("=")
        env[key] = value
    cloud = None
    if not args.local:
        urls: mp.Queue = mp.Queue()
        cloud_done = mp.Event()
        cloud = mp.Process(
            target=run_fake_cloud, args=(urls, args.transcript, args.asr_ms / 1000, args.tts_ms / 1000, cloud_done), daemon=True
        )
        cloud.start()
        openai_url, elevenlabs_url = urls.get(timeout=30)
        from tests.fakecloud import ELEVENLABS_KEY, OPENAI_KEY

        env.update(
            OPENAI_API_KEY=OPENAI_KEY, OPENAI_BASE_URL=openai_url, ELEVENLABS_API_KEY=ELEVENLABS_KEY,
            ELEVENLABS_BASE_URL=elevenlabs_url, ASR_PROVIDER="openai", TTS_PROVIDER="elevenlabs",
        )
    else:
        for key in ("OPENAI_API_KEY", "ELEVENLABS_API_KEY"):
            env.pop(key, None)
    log_path = Path(env.get("VAR_DIR") or ROOT / "var") / "bench-server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    server_log = open(log_path, "w")
    command = ["sh", "-c", args.server_cmd] if args.server_cmd else [str(ROOT / "scripts/serve.sh")]
    print(f"server: {args.server_cmd or 'scripts/serve.sh'}, WORKERS={args.workers}, on {base} (log: {log_path})", flush=True)
    server = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True, stdout=server_log, stderr=subprocess.STDOUT)
    started = time.time()
    try:
        wait_ready(base, server, 180)
        # Warm the prompt cache (a caller's first line) so the run measures steady state.
        asyncio.run(one_call(base, "quickrupee-loan", "en-us", "text", 0, 120))
        asyncio.run(one_call(base, "home-renovation", "en-us", "text", 0, 120))
        from tests.speech import say

        for bot, answers in ANSWERS.items():  # make the clips before the clock starts
            for voice in VOICES:
                for text in answers:
                    say(text, voice=voice)
        if args.start_at is not None:
            late = time.time() - args.start_at
            if late > 0:
                print(f"set-up ended {late:.0f} s after --start-at: starting now", flush=True)
            else:
                time.sleep(-late)
        load_before = os.getloadavg()
        cpu0, _ = tree_stats(server.pid)
        scheduling = Scheduling(server.pid)
        cloud0 = tree_stats(cloud.pid)[0] if cloud is not None else 0.0
        wall0 = time.time()
        procs = args.procs or max(1, -(-args.calls // 150))
        queue: mp.Queue = mp.Queue()
        cpu_queue: mp.Queue = mp.Queue()
        t0 = time.time() + 1.0
        opts = {k: getattr(args, k) for k in ("calls", "mode", "ramp", "release_ms", "call_timeout")}
        workers = [
            mp.Process(target=caller_process, args=(base, list(range(p, args.calls, procs)), opts, queue, cpu_queue, t0), daemon=True)
            for p in range(procs)
        ]
        for w in workers:
            w.start()
        restart = None
        if args.restart_after is not None:
            restart = Restart(env, t0 + args.restart_after)
            restarter = threading.Thread(target=restart.run, daemon=True)
            restarter.start()
        results: list[CallResult] = []
        peak_rss = 0
        probe = ""
        if args.probe_busy:  # one caller more, once all the others are in their calls
            time.sleep(max(0.0, t0 + args.ramp + 3 - time.time()))
            probe = asyncio.run(probe_one_more(base))
        deadline = started + args.max_seconds
        while len(results) < args.calls and time.time() < deadline:
            try:
                while True:
                    results.append(CallResult(**queue.get(timeout=1)))
            except Exception:
                pass
            peak_rss = max(peak_rss, tree_stats(server.pid)[1])
        if restart is not None:
            restarter.join(max(0.0, deadline - time.time()))
        cpu1, _ = tree_stats(server.pid)
        cloud1 = tree_stats(cloud.pid)[0] if cloud is not None else 0.0
        callers_cpu = 0.0
        for _ in workers:
            try:
                callers_cpu += cpu_queue.get(timeout=5)
            except Exception:  # a caller process that did not finish: its CPU is not counted
                pass
        wall = time.time() - wall0
        sched = scheduling.report()
        load_after = os.getloadavg()
        for w in workers:
            w.terminate()
        lost = asyncio.run(verify(base, results))
    finally:
        stop(server)
        requests: dict[str, int] = {}
        if cloud is not None:
            cloud_done.set()
            try:
                requests = urls.get(timeout=5)
            except Exception:
                pass
            cloud.terminate()

    missing = args.calls - len(results)
    ok = [r for r in results if r.ok]
    reasons = Counter(r.reason for r in results if not r.ok)
    if missing:
        reasons["no result before --max-seconds"] += missing
    client = [v for r in ok for v in r.client_ms]
    server_ms = [v for r in ok for v in r.server_ms]
    backend = "PostgreSQL" if "postgres" in os.environ.get("DATABASE_URL", "") else "SQLite"
    backend += " + Redis" if os.environ.get("REDIS_URL") else ""
    engines = "local engines" if args.local else f"cloud stand-in (ASR {args.asr_ms:.0f} ms, first speech {args.tts_ms:.0f} ms)"
    print(f"\n== {args.calls} {args.mode} calls at once (ramp {args.ramp:.0f} s), WORKERS={args.workers}, {backend}, {engines}")
    print(f"completed: {len(ok)}   failed: {args.calls - len(ok)}" + (f"  {dict(reasons)}" if reasons else ""))
    print(f"{'measure':44} {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'mean':>8}")
    start = {"push_to_talk": "end_of_speech", "vad": "end of words", "text": "text sent"}[args.mode]
    stage_ms = {stage: [v for r in ok for v in r.stages.get(stage, [])] for stage in ("asr", "nlu", "tts_first_audio")}
    rows = [(f"client: {start} -> first bot audio", client), ("server: response_ms", server_ms)]
    rows += [(f"  server stage: {stage}_ms", values) for stage, values in stage_ms.items()]
    for name, values in rows:
        if values:
            print(
                f"{name:44} {len(values):>5} {percentile(values, 50):>8.1f} {percentile(values, 95):>8.1f} "
                f"{percentile(values, 99):>8.1f} {statistics.fmean(values):>8.1f}"
            )
    by_answer = [[r.client_ms[k] for r in ok if len(r.client_ms) > k] for k in range(max((len(r.client_ms) for r in ok), default=0))]
    if len(by_answer) > 1:  # the first answers come while later callers are still connecting (the ramp)
        print("client p95 by answer: " + ", ".join(f"#{k + 1} {percentile(v, 95):.0f} ms" for k, v in enumerate(by_answer) if v))
    timeline = latency_timeline(ok)
    if timeline:  # where in the run the slow answers came: the ramp, the peak, the calls ending
        print("client p95 over time (s from the first call: answers, p95 ms): "
              + ", ".join(f"{t:.0f}-{t + TIMELINE_S:.0f}: {n}, {p95:.0f}" for t, n, p95 in timeline))
    print(f"server CPU: {(cpu1 - cpu0) / wall:.2f} cores busy on average over {wall:.0f} s; peak RSS {peak_rss / 2**20:.0f} MiB"
          + (" (workers replaced by the restart: their CPU is not counted)" if restart is not None else ""))
    print(f"load generator CPU: callers {callers_cpu / wall:.2f} cores, cloud stand-in {(cloud1 - cloud0) / wall:.2f} cores")
    print(f"workers' event loops: on a CPU {sched['loop_on_cpu']:.0%} of the time, waiting in the run queue for one "
          f"{sched['loop_waiting_for_cpu']:.0%}; machine: user {sched['machine_user']:.2f}, kernel "
          f"{sched['machine_system']:.2f}, idle {sched['machine_idle']:.2f}, steal {sched['machine_steal']:.2f} cores")
    turns = sum(len(r.server_ms) for r in results)
    if requests and turns:  # early recognition at a caller's pause costs a request even when the caller goes on
        print(f"cloud requests: {requests['openai']} transcriptions ({requests['openai'] / turns:.2f} per answered turn), "
              f"{requests['elevenlabs']} speech")
    print(f"machine load (1/5/15 min): before {load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f}, "
          f"after {load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f}  ({os.cpu_count()} cores, shared)")
    if probe:
        print(f"one call more while they ran: {probe}")
    print(f"records lost: {len(lost)} of {len([r for r in results if r.seen])} calls ended on the socket")
    for line in lost[:10]:
        print(f"  LOST {line}")
    restarted = restart.figures(results) if restart is not None else None
    if restarted is not None:
        print(
            f"rolling restart (scripts/restart.sh): exit {restarted['exit_code']} after {restarted['seconds']} s; calls in "
            f"progress when it began {restarted['calls_in_progress_at_start']}, started during it "
            f"{restarted['calls_started_during']}, in progress when it ended {restarted['calls_in_progress_at_end']}"
        )
        for line in restarted["log"]:
            print(f"  {line}")
    failed = args.calls - len(ok)
    print(f"calls dropped (failed, or records lost): {failed + len(lost)}")
    if args.json is not None:
        figures = {
            "calls": args.calls, "mode": args.mode, "workers": args.workers, "backend": backend, "engines": engines,
            "completed": len(ok), "failed": failed, "reasons": dict(reasons), "records_lost": len(lost),
            "dropped": failed + len(lost),
            "client_ms": summary(client), "server_ms": summary(server_ms),
            "client_p95_timeline": [{"from_s": t, "answers": n, "p95": round(p95, 1)} for t, n, p95 in latency_timeline(ok)],
            "stages_ms": {stage: summary(values) for stage, values in stage_ms.items()},
            "cpu_cores_busy": round((cpu1 - cpu0) / wall, 2),
            "scheduling": {k: round(v, 3) for k, v in sched.items()},
            "callers_cpu_cores": round(callers_cpu / wall, 2), "stand_in_cpu_cores": round((cloud1 - cloud0) / wall, 2), "peak_rss_mib": round(peak_rss / 2**20),
            "restart": restarted, "cloud_requests": requests,
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    restart_ok = restarted is None or restarted["exit_code"] == 0
    return 0 if not reasons and not lost and restart_ok else 1


def summary(values: list[float]) -> dict | None:
    if not values:
        return None
    return {"n": len(values), **{f"p{q}": round(percentile(values, q), 1) for q in (50, 95, 99)}}


if __name__ == "__main__":
    sys.exit(main())
