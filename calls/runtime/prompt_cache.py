"""Synthesized audio for the bot's scripted lines, made once and replayed instantly.

Greetings, questions, re-asks and closing lines are the same for every caller,
so synthesizing them per call wastes CPU (or cloud credits) and adds the TTS
first-audio latency to every turn. Each line is keyed by (TTS engine, voice,
sample rate, exact text): editing a line in the admin changes its text and
so its key, and switching engines or voices never replays the wrong audio.

Two shared tiers: a bounded in-memory LRU and a directory of raw PCM files
(named by the key's SHA-256, written atomically) that survives restarts and is
shared by the server's worker processes. Only a stream that finished without
error is stored, so a failed or barged-in synthesis never replays as a clipped line.

Only scripted lines go to the shared tiers. A line that carries what a caller said
("did you say 24,500 rupees?") is asked for with `shared=False` and kept only in
a small memory-only LRU (MAX_SAID_BACK_BYTES): a caller who types amounts all day
must not grow the disk, nor push the script's lines out of memory.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

from django.conf import settings

from calls.audio import chunk_pcm
from calls.providers.base import TTSProvider

log = logging.getLogger(__name__)

MAX_MEMORY_BYTES = 64 * 1024 * 1024
MAX_SAID_BACK_BYTES = 4 * 1024 * 1024  # lines carrying what a caller said: memory only, a few dozen
MAX_DISK_BYTES = 512 * 1024 * 1024
PRUNE_EVERY_WRITES = 32
CHUNK_MS = 200
PREFETCH_YIELD_S = 0.05  # how often a waiting prefetch re-checks for live speech
PREFETCH_MAX_WAIT_S = 10.0  # ...but a leaked live stream must not stall prefetching forever


def cache_key(tts: TTSProvider, text: str, voice: str = "") -> str:
    """SHA-256 of everything that changes the audio."""
    raw = "\x1f".join((tts.name, voice, str(tts.sample_rate), text))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class MemoryLRU:
    """Audio by key in memory, least recently used first out past `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> bytes | None:
        pcm = self._items.get(key)
        if pcm is not None:
            self._items.move_to_end(key)
        return pcm

    def put(self, key: str, pcm: bytes) -> None:
        if len(pcm) > self.max_bytes:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= len(old)
        self._items[key] = pcm
        self.bytes += len(pcm)
        while self.bytes > self.max_bytes:
            _, evicted = self._items.popitem(last=False)
            self.bytes -= len(evicted)

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0


class PromptCache:
    def __init__(
        self,
        directory: str | Path | None = None,
        *,
        max_memory_bytes: int = MAX_MEMORY_BYTES,
        max_disk_bytes: int = MAX_DISK_BYTES,
        max_said_back_bytes: int = MAX_SAID_BACK_BYTES,
    ) -> None:
        self._directory = Path(directory) if directory is not None else None
        self.max_disk_bytes = max_disk_bytes
        self._memory = MemoryLRU(max_memory_bytes)
        self._said_back = MemoryLRU(max_said_back_bytes)  # never on disk
        self._in_flight: set[str] = set()
        self._prefetches: set[asyncio.Task[None]] = set()  # outlive the call that started them
        self._live = 0  # foreground syntheses running: prefetch waits for them
        self._writes = 0

    @property
    def directory(self) -> Path:
        """settings.PROMPT_CACHE_DIR unless given (read late, so test settings apply)."""
        return self._directory if self._directory is not None else Path(settings.PROMPT_CACHE_DIR)

    # ------------------------------------------------------------------ lookups
    @property
    def max_memory_bytes(self) -> int:
        return self._memory.max_bytes

    async def get(self, tts: TTSProvider, text: str, voice: str = "", *, shared: bool = True) -> bytes | None:
        """The line's audio if cached: a shared line in memory or on disk, another in the said-back LRU."""
        key = cache_key(tts, text, voice)
        if not shared:
            return self._said_back.get(key)
        pcm = self._memory.get(key)
        if pcm is not None:
            return pcm
        pcm = await asyncio.to_thread(self._read_disk, key)
        if pcm is not None:
            self._memory.put(key, pcm)
        return pcm

    async def put(self, tts: TTSProvider, text: str, pcm: bytes, voice: str = "", *, shared: bool = True) -> None:
        """Keep a line's audio: a shared line in memory and on disk, another in the said-back LRU only."""
        if not pcm or len(pcm) % 2:
            return
        key = cache_key(tts, text, voice)
        if not shared:
            self._said_back.put(key, pcm)
            return
        self._memory.put(key, pcm)
        try:
            await asyncio.to_thread(self._write_disk, key, pcm)
        except OSError as exc:  # a read-only or full disk only costs us the persistence
            log.warning("prompt cache: cannot write %s: %s", self.directory, exc)

    def clear_memory(self) -> None:
        self._memory.clear()
        self._said_back.clear()

    # ------------------------------------------------------------------ synthesis
    async def synthesize_cached(
        self, tts: TTSProvider, text: str, voice: str = "", *, shared: bool = True
    ) -> AsyncIterator[bytes]:
        """The line's audio: replayed from the cache in 200 ms chunks, or streamed from `tts`
        and stored (`shared`: a scripted line, in memory and on disk; else in the said-back LRU)."""
        self._live += 1  # from the start: the lookup is part of a live turn too
        try:
            cached = await self.get(tts, text, voice, shared=shared)
            if cached is not None:
                for chunk in chunk_pcm(cached, tts.sample_rate, CHUNK_MS):
                    yield chunk
                return
            async with aclosing(self._stream_and_store(tts, text, voice, shared=shared)) as stream:
                async for pcm in stream:
                    yield pcm
        finally:
            self._live -= 1

    async def _stream_and_store(
        self, tts: TTSProvider, text: str, voice: str, *, shared: bool = True
    ) -> AsyncIterator[bytes]:
        key = cache_key(tts, text, voice)
        self._in_flight.add(key)
        try:
            parts: list[bytes] = []
            async with aclosing(tts.synthesize(text, voice=voice)) as stream:
                async for pcm in stream:
                    parts.append(pcm)
                    yield pcm
            # Reached only when the stream ended normally: errors and early closes skip this.
            await self.put(tts, text, b"".join(parts), voice, shared=shared)
        finally:
            self._in_flight.discard(key)

    def start_prefetch(self, tts: TTSProvider, texts: list[str], voice: str = "") -> asyncio.Task[None]:
        """`prefetch` in the background, as a task the cache owns: it outlives the call
        that asked (the lines serve every call); `stop_prefetching` ends it."""
        task = asyncio.get_running_loop().create_task(self.prefetch(tts, texts, voice), name="prompt-prefetch")
        self._prefetches.add(task)
        task.add_done_callback(self._prefetches.discard)
        return task

    async def prefetch(self, tts: TTSProvider, texts: list[str], voice: str = "") -> None:
        """Make sure every line is cached, one at a time, giving way to live speech. Never raises."""
        task = asyncio.current_task()
        if task is not None:
            self._prefetches.add(task)
            task.add_done_callback(self._prefetches.discard)
        for text in dict.fromkeys(t for t in texts if t and t.strip()):
            try:
                # Cached lines first, without waiting: a worker busy with live speech never
                # goes quiet, and every call's prefetch re-checking it 20 times a second for
                # lines it already has was a load of its own (bench/load, 300 calls).
                if await self._known(tts, text, voice):
                    continue
                await self._wait_for_quiet()
                if await self._known(tts, text, voice):  # made meanwhile, by a call or another prefetch
                    continue
                async with aclosing(self._stream_and_store(tts, text, voice)) as stream:
                    async for _ in stream:
                        pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("prompt cache: prefetch of %r with %s failed", text[:60], tts.name, exc_info=True)

    async def stop_prefetching(self) -> None:
        """Cancel the prefetches running on this event loop and wait until they are gone.
        A call leaves its prefetch running when it ends, since the cache serves every
        call; a test that fakes the vendor stops it before the next test's fake starts."""
        loop = asyncio.get_running_loop()
        running = [t for t in self._prefetches if not t.done() and t.get_loop() is loop]
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)

    async def _known(self, tts: TTSProvider, text: str, voice: str) -> bool:
        """Cached, or being made right now."""
        return cache_key(tts, text, voice) in self._in_flight or await self.get(tts, text, voice) is not None

    async def _wait_for_quiet(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PREFETCH_MAX_WAIT_S
        while self._live and loop.time() < deadline:
            await asyncio.sleep(PREFETCH_YIELD_S)

    # ------------------------------------------------------------------ tiers
    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.pcm"

    def _read_disk(self, key: str) -> bytes | None:
        try:
            pcm = self._path(key).read_bytes()
        except OSError:
            return None
        return pcm if pcm and len(pcm) % 2 == 0 else None

    def _write_disk(self, key: str, pcm: bytes) -> None:
        directory = self.directory
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{key[:16]}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pcm)
            os.replace(tmp, self._path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._writes += 1
        if self._writes % PRUNE_EVERY_WRITES == 0:
            self._prune_disk()

    def _prune_disk(self) -> None:
        """Delete the least recently written files beyond max_disk_bytes."""
        files = []
        for path in self.directory.glob("*.pcm"):
            try:
                st = path.stat()
            except OSError:
                continue
            files.append((st.st_mtime, st.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_disk_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size


prompt_cache = PromptCache()
