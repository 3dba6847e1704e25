"""Cloud speech to text: OpenAI's transcription endpoint (Whisper) through the official SDK.

Chosen when OPENAI_API_KEY is set: no model weights to load and good accuracy
on accents, at the price of a network round trip per answer. Each finished
utterance is uploaded as an in-memory 16 kHz WAV (no temporary files), with
the question being answered as the decoding prompt so short answers ("yes",
"forty thousand") are spelled the way the question primes them.

Confidence comes from what the API returns: Whisper models (`whisper-1`) answer in
`verbose_json` with per-segment `avg_logprob` and `no_speech_prob`, the same measures
the local Whisper gives; the GPT-4o transcription models have no segments but return
token log-probabilities when asked (`include=["logprobs"]`), averaged here.

The SDK's own retries are off (`max_retries=0`): calls/providers/retry.py owns
the policy (one quick retry, then the local fallback).

The SDK's HTTP client gets a transport that sends the upload in one piece: left
to itself it writes the multipart body part by part, a socket write (and its
timeout and cancel-scope bookkeeping) for each: 2.9 ms of CPU per transcription
request instead of 2.1, on the event loop every call's audio shares.
"""
from __future__ import annotations

from typing import Any

import httpx2
import openai
from django.conf import settings

from calls.audio import wav_bytes
from calls.providers.asyncio_net import AsyncioBackend
from calls.providers.base import ASRProvider, ProviderError, Transcript
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

# Whisper rejects audio under 0.1 s with a 400; such a blip carries no answer anyway.
MIN_AUDIO_SECONDS = 0.1
CONNECTION_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)  # the SDK's own defaults


class WholeBodyTransport(httpx2.AsyncHTTPTransport):
    """The SDK's transport, with a request body read into memory before it is sent, so it
    goes in one write (an answer's WAV is some tens of kB, already in memory), and its
    sockets on asyncio streams (calls.providers.asyncio_net: half the loop turns)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pool._network_backend = AsyncioBackend()  # every pool kind (direct, HTTP or SOCKS proxy) has one

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        return await super().handle_async_request(request)


class OpenAIASR(ASRProvider):
    name = "openai-whisper"
    sample_rate = 16000

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        model: str | None = None,
        timeout: float | None = None,
        backoff: float | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.api_key = settings.OPENAI_API_KEY if api_key is None else api_key
        self.base_url = base_url or settings.OPENAI_BASE_URL or None  # None: the SDK's default endpoint
        self.model = model or settings.OPENAI_ASR_MODEL
        if not self.api_key:
            raise ProviderError("OPENAI_API_KEY is not set", provider=self.name, permanent=True)
        self._call = CloudCall(
            provider=self.name,
            vendor="OpenAI",
            policy=RetryPolicy.from_settings(timeout, backoff=backoff),
            classify=self._classify,
            secrets=[self.api_key],
            breaker=breaker,  # None: from the CLOUD_BREAKER_* settings
        )
        self._clients: PerLoopClient[openai.AsyncOpenAI] = PerLoopClient(self._new_client)

    def _new_client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=self.api_key,
            base_url=self.base_url,
            timeout=self._call.policy.timeout,
            max_retries=0,
            http_client=openai.DefaultAsyncHttpxClient(transport=WholeBodyTransport(limits=CONNECTION_LIMITS)),
        )

    async def transcribe(self, pcm: bytes, *, language: str = "en", hint: str = "") -> Transcript:
        if len(pcm) < int(self.sample_rate * MIN_AUDIO_SECONDS) * 2:
            return Transcript("")
        upload = ("answer.wav", wav_bytes(pcm, self.sample_rate), "audio/wav")
        iso_language = language[:2].lower() if language else openai.omit
        prompt = hint.strip() or openai.omit
        whisper = self.model.startswith("whisper")

        async def attempt() -> Transcript:
            client = self._clients.get()
            if whisper:
                result = await client.audio.transcriptions.create(
                    model=self.model, file=upload, language=iso_language, prompt=prompt,
                    response_format="verbose_json",
                )
                return _from_segments(result.text.strip(), result.segments or [])
            result = await client.audio.transcriptions.create(
                model=self.model, file=upload, language=iso_language, prompt=prompt,
                response_format="json", include=["logprobs"],
            )
            return _from_logprobs(result.text.strip(), result.logprobs or [])

        return await self._call.run("transcription", attempt)

    def _classify(self, exc: BaseException) -> Failure | None:
        # APITimeoutError subclasses APIConnectionError: test it first.
        if isinstance(exc, openai.APITimeoutError):
            return timeout_failure(self._call.policy.timeout)
        if isinstance(exc, openai.APIConnectionError):
            return connection_failure(exc.__cause__ or exc)
        if isinstance(exc, openai.APIStatusError):
            return http_failure(exc.status_code, exc.code or exc.type or "")
        if isinstance(exc, openai.OpenAIError):  # e.g. a response that does not parse
            return Failure(transient=False, detail=f"unexpected response ({type(exc).__name__})")
        return None


def _from_segments(text: str, segments: list) -> Transcript:
    """Whisper's segments, weighted by their tokens: mean log-probability and no-speech belief."""
    weights = [max(1, len(seg.tokens or [])) for seg in segments]
    if not segments:
        return Transcript(text)
    total = sum(weights)
    avg = sum(w * seg.avg_logprob for w, seg in zip(weights, segments)) / total
    no_speech = sum(w * seg.no_speech_prob for w, seg in zip(weights, segments)) / total
    return Transcript(text, avg, no_speech)


def _from_logprobs(text: str, logprobs: list) -> Transcript:
    """GPT-4o transcription: the mean of the text tokens' log-probabilities."""
    values = [lp.logprob for lp in logprobs if lp.logprob is not None]
    return Transcript(text, sum(values) / len(values)) if values else Transcript(text)
