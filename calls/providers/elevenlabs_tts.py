"""Cloud text to speech: ElevenLabs' streaming endpoint through the official SDK.

Chosen when ELEVENLABS_API_KEY is set, for a more natural voice than the local
engines. Audio is requested as raw PCM (`output_format=pcm_<rate>`) at the
pipeline's output rate, so nothing is decoded or resampled here, and chunks are
yielded as they arrive: the caller hears the first syllables while the rest of
the sentence is still being generated.

PCM is s16le, so every yielded chunk has an even length; a stray odd byte is
carried over to the next chunk. Failures follow calls/providers/retry.py: one
retry only while no audio has been yielded.
"""
from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from django.conf import settings
from elevenlabs.client import AsyncElevenLabs
from elevenlabs.core.api_error import ApiError

from calls.providers.base import ProviderError, TTSProvider
from calls.providers.retry import (
    CircuitBreaker,
    CloudCall,
    Failure,
    PerLoopClient,
    RetryPolicy,
    connection_failure,
    http_failure,
    timeout_failure,
)

# The raw PCM rates ElevenLabs offers (`pcm_<rate>` output formats).
SUPPORTED_RATES = frozenset({8000, 16000, 22050, 24000, 32000, 44100, 48000})


class ElevenLabsTTS(TTSProvider):
    name = "elevenlabs"

    def __init__(
        self,
        sample_rate: int = 22050,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        voice: str | None = None,
        model: str | None = None,
        timeout: float | None = None,
        backoff: float | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        if sample_rate not in SUPPORTED_RATES:
            supported = ", ".join(str(rate) for rate in sorted(SUPPORTED_RATES))
            raise ValueError(f"ElevenLabs has no PCM output at {sample_rate} Hz (supported: {supported})")
        self.sample_rate = sample_rate
        self.api_key = settings.ELEVENLABS_API_KEY if api_key is None else api_key
        self.base_url = base_url or settings.ELEVENLABS_BASE_URL or None  # None: the SDK's production environment
        self.voice = voice or settings.ELEVENLABS_VOICE
        self.model = model or settings.ELEVENLABS_MODEL
        if not self.api_key:
            raise ProviderError("ELEVENLABS_API_KEY is not set", provider=self.name, permanent=True)
        self._call = CloudCall(
            provider=self.name,
            vendor="ElevenLabs",
            policy=RetryPolicy.from_settings(timeout, backoff=backoff),
            classify=self._classify,
            secrets=[self.api_key],
            breaker=breaker,  # None: from the CLOUD_BREAKER_* settings
        )
        self._clients: PerLoopClient[AsyncElevenLabs] = PerLoopClient(self._new_client)

    def _new_client(self) -> AsyncElevenLabs:
        # base_url replaces the `environment` host; the SDK appends "v1/..." to it.
        return AsyncElevenLabs(api_key=self.api_key, base_url=self.base_url, timeout=self._call.policy.timeout)

    async def synthesize(self, text: str, *, voice: str = "") -> AsyncIterator[bytes]:
        if not text.strip():
            return
        voice_id = voice or self.voice

        def open_stream() -> AsyncIterator[bytes]:
            return _even_chunks(
                self._clients.get().text_to_speech.stream(
                    voice_id=voice_id,
                    text=text,
                    model_id=self.model,
                    output_format=f"pcm_{self.sample_rate}",
                )
            )

        async for chunk in self._call.stream("speech stream", open_stream):
            yield chunk

    def _classify(self, exc: BaseException) -> Failure | None:
        if isinstance(exc, ApiError):  # any non-2xx answer, raised before the first chunk
            return http_failure(exc.status_code, _error_status(exc.body))
        if isinstance(exc, httpx.TimeoutException):
            return timeout_failure(self._call.policy.timeout)
        if isinstance(exc, httpx.RequestError):  # connect errors, a connection cut mid-stream
            return connection_failure(exc)
        return None


async def _even_chunks(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Re-cut a byte stream on 16-bit sample boundaries; a dangling last byte is dropped."""
    carry = b""
    try:
        async for piece in stream:
            data = carry + piece if carry else piece
            cut = len(data) - len(data) % 2
            carry = data[cut:]
            if cut:
                yield data[:cut]
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


def _error_status(body: object) -> str:
    """ElevenLabs' machine-readable error name, e.g. {"detail": {"status": "invalid_api_key"}}."""
    detail = body.get("detail") if isinstance(body, dict) else None
    status = detail.get("status") if isinstance(detail, dict) else None
    return str(status)[:60] if status else ""
