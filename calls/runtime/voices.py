"""Where a call's bot audio comes from: the TTS engines as one stack of adapters.

`call_voice()` builds it for a call: each engine (the configured voice, then the
fallback) wrapped in `CachedTTS`, under one `FallbackTTS` that resamples them
all to the call's output rate. The speaker (`calls.runtime.speaker`) only paces
what this stack yields.

`CachedTTS` keeps only the script's own lines (greetings, questions, re-asks,
closings: `Dialogue.scripted_lines()`) in the prompt cache's memory and disk
tiers, where they serve every call. A line that carries what a caller said
("Just to confirm, did you say 24,500 rupees a month?") is synthesized for the
call and kept at most in the cache's small in-memory LRU: a caller typing
amounts all day cannot fill the disk.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import aclosing
from typing import TYPE_CHECKING

from calls import metrics
from calls.audio import StreamResampler
from calls.providers.base import ProviderError, TTSProvider
from calls.runtime.ports import Output

if TYPE_CHECKING:
    from calls.runtime.prompt_cache import PromptCache

log = logging.getLogger(__name__)

FailureHook = Callable[[TTSProvider, ProviderError, "TTSProvider | None"], Awaitable[None]]


class CachedTTS(TTSProvider):
    """`inner` through the prompt cache: the `scripted` lines in its shared tiers
    (memory and disk), any other line in its small memory-only LRU."""

    def __init__(self, inner: TTSProvider, cache: PromptCache, *, scripted: Collection[str]) -> None:
        self.inner = inner
        self.cache = cache
        self.scripted = frozenset(scripted)
        self.name = inner.name
        self.sample_rate = inner.sample_rate

    def synthesize(self, text: str, *, voice: str = "") -> AsyncIterator[bytes]:
        return self.cache.synthesize_cached(self.inner, text, voice, shared=text in self.scripted)


class SpeechFailed(Exception):
    """No engine could say a line: the caller would hear nothing."""


class FallbackTTS(TTSProvider):
    """Engines tried in order, all resampled to `sample_rate`. An engine that fails
    before its first audio hands the line to the next; `on_failure` is told either way.
    Any exception counts as a failure, not only a classified `ProviderError`: an SDK
    can raise something nobody foresaw, and the fallback must still take the line.
    When every engine failed before any audio, `SpeechFailed` is raised.
    `engine` names the engine that produced the current line's audio."""

    def __init__(self, engines: list[TTSProvider], sample_rate: int, on_failure: FailureHook | None = None) -> None:
        self.engines = engines
        self.sample_rate = sample_rate
        self.name = engines[0].name
        self.engine = self.name
        self.on_failure = on_failure

    async def synthesize(self, text: str, *, voice: str = "") -> AsyncIterator[bytes]:
        for i, engine in enumerate(self.engines):
            resampler = StreamResampler(engine.sample_rate, self.sample_rate)
            produced = False
            self.engine = engine.name
            try:
                # aclosing: on barge-in the engine's worker stops now, not at garbage collection.
                async with aclosing(engine.synthesize(text, voice=voice if i == 0 else "")) as stream:
                    async for pcm in stream:
                        out = resampler.process(pcm)
                        if out:
                            produced = True
                            yield out
                tail = resampler.flush()
                if tail:
                    yield tail
                return
            except Exception as exc:
                failure = exc if isinstance(exc, ProviderError) else _unforeseen(engine, exc)
                more = i + 1 < len(self.engines) and not produced
                if self.on_failure is not None:
                    await self.on_failure(engine, failure, self.engines[i + 1] if more else None)
                if produced:  # cut short: what the caller heard of the line stands
                    return
                if not more:
                    raise SpeechFailed(f"no speech engine could say the line ({failure})") from exc


def _unforeseen(engine: TTSProvider, exc: Exception) -> ProviderError:
    """An exception the engine did not classify, logged with its traceback, as a ProviderError."""
    log.error("TTS %s failed unexpectedly", engine.name, exc_info=exc, extra={"event": "tts.failed", "provider": engine.name})
    return ProviderError(f"{engine.name} failed unexpectedly ({type(exc).__name__})", provider=engine.name)


def failure_reporter(out: Output) -> FailureHook:
    """A `FallbackTTS.on_failure` that logs and counts an engine's failure and tells the client."""

    async def failed(engine: TTSProvider, exc: ProviderError, fallback: TTSProvider | None) -> None:
        log.warning("TTS %s failed: %s", engine.name, exc, extra={"event": "tts.failed", "provider": engine.name})
        metrics.provider_failed(engine.name, exc.kind, fallback.name if fallback else None)
        using = f"; using {fallback.name}." if fallback else "."
        message = f"Speech synthesis ({engine.name}) failed{using}"
        await out.send_event({"type": "error", "code": "tts_failed", "message": message, "fatal": False})

    return failed


def call_voice(
    engines: list[TTSProvider | None],
    cache: PromptCache,
    *,
    scripted: Collection[str],
    output_rate: int,
    on_failure: FailureHook | None = None,
) -> FallbackTTS:
    """One call's voice: `engines` in order (None skipped), each through the prompt
    cache (`scripted` lines shared), resampled to `output_rate`."""
    voices: list[TTSProvider] = [CachedTTS(e, cache, scripted=scripted) for e in engines if e is not None]
    return FallbackTTS(voices, output_rate, on_failure)
