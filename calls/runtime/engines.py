"""The speech providers one call uses, chosen once from settings.

The coordinator takes an `Engines` so a test or a bench can hand a call the
engines it wants; in production `Engines.from_settings()` asks the process's
provider registry (`calls.providers.registry`), which loads each engine once.
"""
from __future__ import annotations

from dataclasses import dataclass

from calls.providers.base import ASRProvider, TTSProvider, VADProvider


@dataclass
class Engines:
    """The providers one call uses; built from settings by `Engines.from_settings()`."""

    asr: ASRProvider
    tts: TTSProvider
    vad: VADProvider
    output_rate: int
    fallback_asr: ASRProvider | None = None
    fallback_tts: TTSProvider | None = None

    @classmethod
    def from_settings(cls) -> Engines:
        from calls.providers import registry

        return cls(
            asr=registry.get_asr(),
            tts=registry.get_tts(),
            vad=registry.get_vad(),
            output_rate=registry.output_sample_rate(),
            fallback_asr=registry.get_fallback_asr(),
            fallback_tts=registry.get_fallback_tts(),
        )
