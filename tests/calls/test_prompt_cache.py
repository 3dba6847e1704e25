"""Prompt audio cache over the real Piper engine (wrapped only to count and to fail on purpose)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from channels.db import database_sync_to_async

from calls.providers.base import ProviderError
from calls.providers.piper_tts import PiperTTS
from calls.runtime.prompt_cache import PromptCache, cache_key

pytestmark = pytest.mark.speech

GREETING = "Hello, thanks for calling. Are you over twenty one?"


class CountingPiper(PiperTTS):
    """Real Piper that records each synthesis request."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def synthesize(self, text: str, *, voice: str = ""):
        self.calls.append(text)
        async for chunk in super().synthesize(text, voice=voice):
            yield chunk


class BrokenPiper(CountingPiper):
    """Real Piper audio for the first sentence, then the engine dies mid-stream."""

    async def synthesize(self, text: str, *, voice: str = ""):
        async for chunk in super().synthesize(text, voice=voice):
            yield chunk
            raise ProviderError("engine crashed", provider=self.name)


@pytest.fixture
def tts() -> CountingPiper:
    return CountingPiper()


@pytest.fixture
def cache(tmp_path) -> PromptCache:
    return PromptCache(tmp_path / "prompts")


async def drain(cache: PromptCache, tts, text: str, voice: str = "") -> bytes:
    return b"".join([c async for c in cache.synthesize_cached(tts, text, voice)])


async def test_second_synthesis_comes_from_cache(cache, tts) -> None:
    first = await drain(cache, tts, GREETING)
    assert tts.calls == [GREETING] and len(first) > 22050  # over half a second of speech
    chunks = [c async for c in cache.synthesize_cached(tts, GREETING)]
    assert tts.calls == [GREETING]  # no second TTS call
    assert b"".join(chunks) == first
    assert all(len(c) <= tts.sample_rate * 2 // 5 and len(c) % 2 == 0 for c in chunks)  # <= 200 ms each


async def test_disk_copy_survives_a_new_cache_instance(cache, tts, tmp_path) -> None:
    audio = await drain(cache, tts, GREETING)
    path = tmp_path / "prompts" / f"{cache_key(tts, GREETING)}.pcm"
    assert path.read_bytes() == audio
    assert not list(path.parent.glob("*.tmp"))  # written atomically, no leftovers
    restarted = PromptCache(tmp_path / "prompts")
    assert await restarted.get(tts, GREETING) == audio
    assert await drain(restarted, tts, GREETING) == audio
    assert tts.calls == [GREETING]


async def test_changed_text_or_voice_or_rate_is_a_new_line(cache, tts) -> None:
    await drain(cache, tts, "Are you employed?")
    await drain(cache, tts, "Are you currently employed?")  # the admin edited the question
    assert tts.calls == ["Are you employed?", "Are you currently employed?"]
    other_rate = CountingPiper()
    other_rate._sample_rate = 16000
    assert cache_key(other_rate, "Are you employed?") != cache_key(tts, "Are you employed?")
    assert cache_key(tts, "Are you employed?", "other-voice") != cache_key(tts, "Are you employed?")


async def test_failed_stream_is_not_cached(cache, tmp_path) -> None:
    broken = BrokenPiper()
    got = []
    with pytest.raises(ProviderError):
        async for chunk in cache.synthesize_cached(broken, "One sentence. Then another one."):
            got.append(chunk)
    assert got  # the caller heard the first sentence before the failure
    assert await cache.get(broken, "One sentence. Then another one.") is None
    assert not list(tmp_path.rglob("*.pcm"))


async def test_abandoned_stream_is_not_cached(cache, tts) -> None:
    stream = cache.synthesize_cached(tts, "First part. Second part. Third part.")
    await stream.__anext__()
    await stream.aclose()  # barge-in
    assert await cache.get(tts, "First part. Second part. Third part.") is None


async def test_prefetch_fills_missing_lines_and_survives_errors(cache, tts) -> None:
    await drain(cache, tts, "Are you employed?")
    broken = BrokenPiper()
    await cache.prefetch(broken, ["Will fail. Surely."])  # logged, not raised
    await cache.prefetch(tts, ["Are you employed?", "What is your income?", "What is your income?", ""])
    assert tts.calls == ["Are you employed?", "What is your income?"]
    assert await cache.get(tts, "What is your income?")


async def test_prefetch_gives_way_to_live_speech(cache, tts) -> None:
    order: list[str] = []

    async def live() -> None:
        async for _ in cache.synthesize_cached(tts, "A live answer. With two sentences."):
            await asyncio.sleep(0.02)
        order.append("live done")

    live_task = asyncio.create_task(live())
    await asyncio.sleep(0)  # live synthesis has started
    await cache.prefetch(tts, ["A scripted line."])
    order.append("prefetch done")
    await live_task
    assert order == ["live done", "prefetch done"]


async def test_prefetch_of_cached_lines_does_not_wait_for_live_speech(cache, tts) -> None:
    """A loaded worker always has a line being spoken: lines already cached are passed over
    at once, not after waiting for a quiet moment that never comes."""
    await drain(cache, tts, "Are you employed?")
    gate = asyncio.Event()

    async def live() -> None:
        async for _ in cache.synthesize_cached(tts, "A live answer. With two sentences."):
            await gate.wait()  # still speaking until the test says so

    live_task = asyncio.create_task(live())
    await asyncio.sleep(0)  # live synthesis has started
    calls_before = list(tts.calls)
    await cache.prefetch(tts, ["Are you employed?"])  # returns while the live line is still going
    assert not live_task.done() and tts.calls == calls_before
    gate.set()
    await live_task


async def test_memory_tier_is_bounded(tmp_path, tts) -> None:
    cache = PromptCache(tmp_path, max_memory_bytes=1000)
    for i in range(5):
        await cache.put(tts, f"line {i}", bytes(400))
    for path in tmp_path.glob("*.pcm"):
        path.unlink()  # only the memory tier is left
    held = [i for i in range(5) if await cache.get(tts, f"line {i}") is not None]
    assert held == [3, 4]  # least recently used went first


# ---------------------------------------------------------------------------- lines that carry what a caller said
SAID_BACK = "Just to confirm, did you say twenty four thousand five hundred rupees a month?"


async def test_a_line_that_carries_what_the_caller_said_stays_off_the_disk(cache, tts, tmp_path) -> None:
    first = b"".join([c async for c in cache.synthesize_cached(tts, SAID_BACK, shared=False)])
    again = b"".join([c async for c in cache.synthesize_cached(tts, SAID_BACK, shared=False)])
    assert first == again and tts.calls == [SAID_BACK]  # said again (a "repeat that"): from memory
    assert not list(tmp_path.rglob("*.pcm"))  # nothing on disk
    assert await cache.get(tts, SAID_BACK) is None  # nor among the script's lines


async def test_the_said_back_memory_is_small_and_bounded(tmp_path, tts) -> None:
    cache = PromptCache(tmp_path, max_said_back_bytes=1000)
    for i in range(5):
        await cache.put(tts, f"did you say {i}?", bytes(400), shared=False)
    held = [i for i in range(5) if await cache.get(tts, f"did you say {i}?", shared=False) is not None]
    assert held == [3, 4] and not list(tmp_path.rglob("*.pcm"))


@pytest.mark.django_db(transaction=True)
async def test_calls_of_many_typed_amounts_do_not_grow_the_disk_cache(cloud_settings, call_bots, settings) -> None:
    """Issue 31 A7: each amount near the threshold is said back ("did you say ...?"), a new
    line every time; only the script's own lines may ever reach the disk."""
    from bots.dialogue import Dialogue
    from calls.providers import registry
    from calls.runtime.prompt_cache import prompt_cache
    from devtools.callclient import CallClient

    said_back: list[str] = []
    for amounts in (["24,500", "26,100", "23,800"], ["24,700", "25,900", "22,400"]):
        client = await CallClient.start("quickrupee-loan", mode="push_to_talk")
        await client.say_text("yes I am")
        for amount in amounts:
            await client.say_text(f"{amount} rupees a month")
            said_back.append((await client.until("bot.speech.started"))["text"])
            await client.say_text("no")  # not what I said: asked again, until the call gives up
        assert (await client.until("call.ended"))["outcome"] == "incomplete"
        await client.close()
    assert len(set(said_back)) == 6 and all("did you say" in line for line in said_back)
    await prompt_cache.stop_prefetching()  # the script's lines are being cached meanwhile

    bot = call_bots["quickrupee-loan"]
    scripted = await database_sync_to_async(lambda: Dialogue(bot.to_script()).scripted_lines())()
    engines = [e for e in (registry.get_tts(), registry.get_fallback_tts()) if e is not None]

    def keys(lines: list[str]) -> set[str]:
        return {cache_key(e, line, voice) for e in engines for line in lines for voice in (bot.voice, "")}

    on_disk = {path.stem for path in Path(settings.PROMPT_CACHE_DIR).glob("*.pcm")}
    assert on_disk, "the script's lines are cached on disk"
    assert on_disk <= keys(scripted)
    assert not on_disk & keys(said_back)
