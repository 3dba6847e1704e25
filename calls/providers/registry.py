"""Which speech engines this process uses, chosen once from settings and shared by every call.

Models are big and slow to load (Whisper, Piper, Silero), so each provider is
a process-wide singleton created on first use under a lock (the warm-up
thread and the first call can race for it). Cloud providers are imported
lazily so a local-only deployment never imports their HTTP clients.

Fallbacks: a cloud ASR/TTS falls back to the local engine; Piper falls back to
espeak-ng at Piper's own sample rate, so the announced output rate holds.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

from calls.providers.base import ASRProvider, TTSProvider, VADProvider

T = TypeVar("T")

_lock = threading.RLock()
_instances: dict[str, object] = {}

LOCAL_TTS_RATE = 22050  # the bundled Piper voice; espeak stands in at the same rate


def _singleton(key: str, factory: Callable[[], T]) -> T:
    with _lock:
        if key not in _instances:
            _instances[key] = factory()
        return _instances[key]  # type: ignore[return-value]


def _local_asr() -> ASRProvider:
    from calls.providers.local_whisper import LocalWhisperASR

    return _singleton("asr:local", LocalWhisperASR)


def _piper() -> TTSProvider:
    from calls.providers.piper_tts import PiperTTS

    return _singleton("tts:piper", PiperTTS)


def _espeak() -> TTSProvider:
    from calls.providers.espeak_tts import EspeakTTS

    return _singleton("tts:espeak", lambda: EspeakTTS(sample_rate=output_sample_rate()))


def get_asr() -> ASRProvider:
    if settings.ASR_PROVIDER == "openai":

        def make() -> ASRProvider:
            from calls.providers.openai_asr import OpenAIASR

            return OpenAIASR()

        return _singleton("asr:openai", make)
    return _local_asr()


def get_fallback_asr() -> ASRProvider | None:
    return _local_asr() if settings.ASR_PROVIDER != "local" else None


def get_tts() -> TTSProvider:
    if settings.TTS_PROVIDER == "elevenlabs":

        def make() -> TTSProvider:
            from calls.providers.elevenlabs_tts import ElevenLabsTTS

            return ElevenLabsTTS(sample_rate=output_sample_rate())

        return _singleton("tts:elevenlabs", make)
    if settings.TTS_PROVIDER == "espeak":
        return _espeak()
    return _piper()


def get_fallback_tts() -> TTSProvider | None:
    if settings.TTS_PROVIDER == "elevenlabs":
        return _piper()
    if settings.TTS_PROVIDER == "piper":
        return _espeak()
    return None


def get_vad() -> VADProvider:
    from calls.providers.silero_vad import SileroVAD

    return _singleton("vad:silero", SileroVAD)


def output_sample_rate() -> int:
    """The rate of all bot audio sent to callers: OUTPUT_SAMPLE_RATE, else the Piper voice's native rate
    (Piper is the primary or the fallback of every setup but espeak-only, and then never needs resampling)."""
    if settings.OUTPUT_SAMPLE_RATE:
        return int(settings.OUTPUT_SAMPLE_RATE)
    if settings.TTS_PROVIDER in ("piper", "elevenlabs"):
        return _piper().sample_rate
    return LOCAL_TTS_RATE


async def warmup_all() -> None:
    """Load and exercise every engine this process will use (fallbacks too), so the first caller does not wait."""
    engines: list[object] = []
    for getter in (get_asr, get_tts, get_vad, get_fallback_asr, get_fallback_tts):
        engine = await asyncio.to_thread(getter)  # model loading blocks: keep it off the loop
        if engine is not None and engine not in engines:
            engines.append(engine)
    for engine in engines:
        warmup = getattr(engine, "warmup", None)
        if warmup is not None:
            await warmup()


def reset_registry() -> None:
    """Forget the singletons (tests that change settings). Loaded model weights stay cached per module."""
    with _lock:
        _instances.clear()
