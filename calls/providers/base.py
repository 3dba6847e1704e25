"""One small interface per provider kind, so cloud and local engines swap by settings.

Audio crossing these interfaces is always raw PCM, signed 16-bit little-endian,
mono. ASR takes 16 kHz; TTS yields audio at its own `sample_rate`; VAD takes
16 kHz windows of `window_samples`.

Latency is stamped by the pipeline around these calls, never inside a provider.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass


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


@dataclass(frozen=True)
class Transcript:
    """What the recogniser heard in one utterance, and how sure it was.

    `avg_logprob` is the mean log-probability of the words' tokens and `no_speech_prob`
    the recogniser's belief that nothing was said (Whisper reports both; a cloud model
    may report only token log-probabilities, or nothing). `confidence` (0-1) folds them
    into one number the dialogue compares against ASR_CONFIRM_BELOW; None means the
    engine gave no measure (the answer is then taken at its word, like a typed one).
    """

    text: str
    avg_logprob: float | None = None
    no_speech_prob: float | None = None

    @property
    def confidence(self) -> float | None:
        if self.avg_logprob is None:
            return None
        speech = 1.0 - (self.no_speech_prob or 0.0)
        return round(min(1.0, math.exp(self.avg_logprob)) * speech, 4)


class ASRProvider(ABC):
    """Speech to text for one finished utterance."""

    name: str = "asr"
    sample_rate: int = 16000

    @abstractmethod
    async def transcribe(self, pcm: bytes, *, language: str = "en", hint: str = "") -> Transcript:
        """What was said in `pcm` (16 kHz s16le mono), with the recogniser's confidence.
        `hint` is the question the caller is answering (a decoding prompt for engines
        that take one). Raises ProviderError."""

    async def listen_again(self, pcm: bytes, *, language: str = "en", hint: str = "") -> Transcript:
        """The same utterance recognised a second time, before the bot re-asks or checks an
        answer: with whatever this engine left out the first time for speed (a local model's
        whole window); by default simply again.
        Raises ProviderError."""
        return await self.transcribe(pcm, language=language, hint=hint)

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
        """Speech probability of one window of `window_samples` 16 kHz samples (offline
        tools and tests; a call's audio goes through `probabilities`)."""

    async def probabilities(self, pcm: bytes) -> list[float]:
        """Speech probability of each window in `pcm` (whole windows), in order. A
        provider may run many calls' windows together (Silero batches them)."""
        size = 2 * self.window_samples
        return [self.probability(pcm[i : i + size]) for i in range(0, len(pcm), size)]

    window_samples: int = 512

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
