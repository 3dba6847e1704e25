"""One simulated caller of the load bench, on the protocol client (devtools.callclient).

A caller starts a call over HTTP, listens to each bot line for as long as it plays,
answers it (speech in real time, or typed) and times its answer to the first bot
audio that follows. A bot that records (`--server-env RECORD_CALLS=1`) says its
consent line first: the caller agrees by typing, and that turn is not timed. `caller_process` runs a share of the bench's callers in one
process, each starting at its moment of the ramp.
"""
from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import time
from dataclasses import dataclass, field
from typing import Any

from bench.latency import VOICES
from devtools.callclient import CallClient, CallRefused, create_call
from devtools.servers import Network
from devtools.speech import say, silence, trim_quiet

FRAME_MS = 20
CONSENT_LINE = "This call is recorded"  # the default consent line of a bot that records
RATE = 16000
STEP = RATE * 2 * FRAME_MS // 1000  # bytes of one frame
ANSWERS = {  # spoken (and, with --local, understood) answers per bot; all qualify
    "quickrupee-loan": ["yes I am", "about fifty thousand a month", "yes I live in Mumbai"],
    "home-renovation": ["yes I own it", "around fifty thousand dollars", "yes, next month"],
}


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


def http_client():  # -> httpx.AsyncClient
    """One per caller process: making an httpx client costs about 25 ms of CPU (its TLS
    context), which at 30 new calls a second would be most of a core of the load
    generator's, taken from the server under test on the same machine."""
    import httpx

    return httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=None, max_keepalive_connections=50))


class Caller:
    """The caller's ears and mouth on one call: what it heard (as the client's frames
    arrive) and how it answers each question."""

    def __init__(self, client: CallClient, bot: str, voice: str, mode: str, release_ms: int, result: CallResult) -> None:
        self.client, self.bot, self.voice, self.mode, self.release_ms = client, bot, voice, mode, release_ms
        self.result = result
        self.rate = 22050
        self.listening = False  # an answer went: the next bot audio is the reply
        self.line_audio = 0  # bytes of the current bot line so far
        self.line_first: float | None = None  # when its first audio arrived
        self.line_text = ""  # what the current bot line says
        self.first_audio: float | None = None  # when the reply's first audio arrived
        self.replied = asyncio.Event()
        self.line_ended = asyncio.Event()
        self.done = asyncio.Event()  # call.ended, or the socket closed
        client.on_audio = self.heard_audio
        client.on_event = self.heard_event

    def heard_audio(self, chunk: bytes, now: float) -> None:
        if self.line_first is None:
            self.line_first = now
        self.line_audio += len(chunk)
        if self.listening and not self.replied.is_set():
            self.first_audio = now
            self.replied.set()

    def heard_event(self, event: dict[str, Any], now: float) -> None:
        kind = event["type"]
        if kind == "call.started":
            self.rate = event["output_sample_rate"]
        elif kind == "bot.speech.started":
            self.line_first, self.line_audio = None, 0
            self.line_text = event.get("text", "")
        elif kind == "bot.speech.ended":
            self.line_ended.set()
        elif kind == "latency" and event.get("response_ms") is not None:
            self.result.server_ms.append(event["response_ms"])
            for stage in ("asr", "nlu", "tts_first_audio"):
                if event.get(f"{stage}_ms") is not None:
                    self.result.stages.setdefault(stage, []).append(event[f"{stage}_ms"])
        elif kind == "call.ended":
            self.done.set()

    async def listen(self, timeout: float) -> None:
        """Everything the server sends, until it closes."""
        try:
            await self.client.drain(timeout=timeout)
        finally:
            self.done.set()

    async def listen_to_line(self) -> None:
        """Wait for the bot's line to be sent, then until its last sample has played."""
        await self.line_ended.wait()
        self.line_ended.clear()
        if self.line_first is not None:
            plays_until = self.line_first + self.line_audio / 2 / self.rate
            await asyncio.sleep(max(0.0, plays_until - time.perf_counter()) + 0.1)

    async def stream(self, pcm: bytes) -> float:
        """Send `pcm` in real time; returns when the last frame's time is up."""
        return await self.client.send_audio(pcm, frame_ms=FRAME_MS, rate=RATE, pace=1.0)

    async def answer(self, text: str) -> float:
        """Answer the question; the moment the answer's clock starts."""
        if self.mode == "text":
            self.listening = True
            spoken_end = time.perf_counter()
            await self.client.send(type="text", text=text)
            return spoken_end
        clip = trim_quiet(say(text, voice=self.voice))
        if self.mode == "push_to_talk":
            await self.stream(silence(100) + clip + silence(self.release_ms))
            self.listening = True
            spoken_end = time.perf_counter()
            await self.client.send(type="end_of_speech")
            return spoken_end
        await self.stream(silence(200) + clip[:-STEP])
        self.listening = True
        spoken_end = await self.stream(clip[-STEP:])
        tail = silence(FRAME_MS)  # a microphone keeps sending until the bot answers
        while not self.replied.is_set() and not self.done.is_set():
            await self.stream(tail)
        return spoken_end

    async def converse(self) -> None:
        await self.client.send(type="start", sample_rate=RATE)
        answers = list(ANSWERS[self.bot])
        while answers:
            await self.listen_to_line()
            self.replied.clear()
            if CONSENT_LINE in self.line_text:  # a recorded call asks first: agreed by typing, not timed
                await self.client.send(type="text", text="yes, that is fine")
                continue
            text = answers.pop(0)
            spoken_end = await self.answer(text)
            replied, done = asyncio.ensure_future(self.replied.wait()), asyncio.ensure_future(self.done.wait())
            await asyncio.wait([replied, done], return_when=asyncio.FIRST_COMPLETED)
            replied.cancel(), done.cancel()
            self.listening = False
            if self.replied.is_set() and self.first_audio is not None:
                self.result.client_ms.append((self.first_audio - spoken_end) * 1000)
                self.result.answered_at.append(time.time() - (time.perf_counter() - spoken_end))
            if self.done.is_set():
                break
        await self.done.wait()


async def one_call(server: Network, bot: str, voice: str, mode: str, release_ms: int, timeout: float) -> CallResult:
    """One caller's whole call."""
    import httpx
    from websockets.exceptions import ConnectionClosed, WebSocketException

    result = CallResult()
    try:
        created = await create_call(bot, "vad" if mode == "vad" else "push_to_talk", server=server, caller=None)
    except CallRefused as refused:
        result.reason = f"http {refused.status} {refused.code}".strip()
        return result
    except httpx.HTTPError as exc:
        result.reason = f"http {type(exc).__name__}"
        return result
    result.call_id, result.token = created.call_id, created.token
    client = CallClient(created.ws_url, server=server, created=created, keep_audio=False)
    caller = Caller(client, bot, voice, mode, release_ms, result)
    try:
        if not await client.connect(timeout=30):
            result.reason = f"ws refused {client.socket.refused_status}"
            return result
        listening = asyncio.create_task(caller.listen(timeout))
        try:
            await asyncio.wait_for(caller.converse(), timeout)
            await asyncio.wait_for(listening, 10)
        finally:
            listening.cancel()
    except asyncio.TimeoutError:
        result.reason = "timeout"
        return result
    except ConnectionClosed as closed:  # the server closed while the caller spoke: judged below
        client.close_code = client.close_code or (closed.rcvd.code if closed.rcvd else None)
    except (OSError, WebSocketException) as exc:
        result.reason = f"ws {type(exc).__name__}"
        return result
    finally:
        await client.close()
    return judged(result, client)


def judged(result: CallResult, client: CallClient) -> CallResult:
    """The call's verdict from what its socket said (and what to compare the stored call with)."""
    ended = client.of("call.ended")
    if not ended:
        fatal = [e["code"] for e in client.of("error") if e.get("fatal")]
        result.reason = f"closed {client.close_code}" + (f" ({fatal[0]})" if fatal else "")
        return result
    outcome = ended[0]["outcome"]
    result.seen = {
        "outcome": outcome,
        "answers": len({e["question"] for e in client.of("answer")}),
        "latency": len(client.of("latency")),
        "turns": len(client.of("transcript")) + len(client.of("bot.speech.started")),
    }
    if outcome != "qualified":
        result.reason = f"outcome {outcome} ({ended[0]['reason']})"
        return result
    result.ok = True
    return result


async def probe_one_more(base: str) -> str:
    """What one more caller gets while the others run: the HTTP answer, and if it got a
    call, what the socket said."""
    server = Network(base)
    try:
        created = await create_call("quickrupee-loan", "vad", server=server, caller=None)
    except CallRefused as refused:
        return str(refused)
    client = CallClient(created.ws_url, server=server, created=created, keep_audio=False)
    if not await client.connect(timeout=30):
        return f"POST 201, socket refused {client.socket.refused_status}"
    try:
        first = await client.next_event(timeout=30) or {}
        try:
            if await client.next_event(timeout=5) is None:
                return f"POST 201, socket: {first.get('type')} {first.get('code', '')} then close {client.close_code}"
        except asyncio.TimeoutError:
            pass
        return f"POST 201, socket: {first.get('type')} (admitted)"
    finally:
        await client.close()


def caller_process(base: str, indices: list[int], args: dict, out: mp.Queue, cpu_out: mp.Queue, t0: float) -> None:
    """A process's target: the callers `indices` of the ramp starting at `t0`; each one's
    CallResult (as a dict) goes to `out`, then this process's CPU seconds to `cpu_out`."""
    async def main() -> None:
        bots = list(ANSWERS)
        http = http_client()
        server = Network(base, http)

        async def run(i: int) -> CallResult:
            await asyncio.sleep(max(0.0, t0 + args["ramp"] * i / max(1, args["calls"]) - time.time()))
            started = time.time()
            try:
                result = await one_call(
                    server, bots[i % 2], VOICES[i % len(VOICES)], args["mode"], args["release_ms"], args["call_timeout"]
                )
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
