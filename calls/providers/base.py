"""One small interface per provider kind, so cloud and local engines swap by settings.

Audio crossing these interfaces is always raw PCM, signed 16-bit little-endian,
mono. ASR takes 16 kHz; TTS yields audio at its own `sample_rate`; VAD takes
16 kHz windows of `window_samples`.

Latency is stamped by the pipeline around these calls, never inside a provider.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator


class ProviderError(Exception):
    """A provider failed. `permanent` means retrying the same request is pointless
    (bad key, bad request); otherwise it was a timeout, a 429 or a 5xx. `skipped`:
    not even tried, because the vendor's circuit breaker is open."""

    def __init__(self, message: str, *, provider: str = "", permanent: bool = False, skipped: bool = False) -> None:
        super().__init__(message)
        self.provider = provider
        self.permanent = permanent
        self.skipped = skipped

    @property
    def kind(self) -> str:
        """`circuit_open`, `permanent` or `transient` (the `kind` label of provider failure metrics)."""
        return "circuit_open" if self.skipped else "permanent" if self.permanent else "transient"


class ASRProvider(ABC):
    """Speech to text for one finished utterance."""

    name: str = "asr"
    sample_rate: int = 16000

    @abstractmethod
    async def transcribe(self, pcm: bytes, *, language: str = "en", hint: str = "") -> str:
        """Return the transcript of `pcm` (16 kHz s16le mono). `hint` is the question
        the caller is answering (a decoding prompt for engines that take one).
        Raises ProviderError."""

    async def warmup(self) -> None:  # pragma: no cover - optional
        """Load weights and run once so the first call is fast."""


class TTSProvider(ABC):
    """Text to speech, streamed: chunks are yielded as they are synthesized."""

    name: str = "tts"
    sample_rate: int = 22050

    @abstractmethod
    def synthesize(self, text: str, *, voice: str = "") -> AsyncIterator[bytes]:
        """Yield PCM s16le mono chunks at `self.sample_rate` (any chunk size).
        Raises ProviderError (before or during the stream)."""

    async def warmup(self) -> None:  # pragma: no cover - optional
        """Load the voice and synthesize once so the first call is fast."""


class VADStream(ABC):
    """Per-call voice activity state (models like Silero are recurrent)."""

    @abstractmethod
    def probability(self, window: bytes) -> float:
        """Speech probability of one window of `window_samples` 16 kHz samples.
        Cheap (well under a millisecond) but CPU: call it from a worker thread."""

    @abstractmethod
    def reset(self) -> None:
        """Forget the recurrent state (after an utterance ends)."""


class VADProvider(ABC):
    name: str = "vad"
    sample_rate: int = 16000
    window_samples: int = 512

    @abstractmethod
    def new_stream(self) -> VADStream:
        """A fresh per-call detector sharing the loaded model."""
