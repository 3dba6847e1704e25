"""The cloud speech providers through the real OpenAI and ElevenLabs SDKs, over real HTTP.

The other end is devtools/fakecloud.py, a local server answering in the vendors'
shapes; the audio is real speech from espeak-ng. What is checked is what the
pipeline relies on: the request the vendor receives, streaming (audio before
the end of synthesis), and the failure policy of calls/providers/retry.py
(one retry on 429/5xx/timeouts, none on other 4xx or once audio was yielded,
no API key in any error).
"""
from __future__ import annotations

import asyncio
import io
import traceback
import wave

import pytest

from calls.providers.base import ProviderError
from calls.providers.elevenlabs_tts import ElevenLabsTTS
from calls.providers.openai_asr import OpenAIASR
from calls.providers.retry import CircuitBreaker
from devtools.fakecloud import ELEVENLABS_KEY, OPENAI_KEY, FakeCloud
from devtools.speech import say

BACKOFF = 0.05
TIMEOUT = 10.0  # a ceiling no healthy request meets, even on a loaded machine (a retry would break the counts)
HANG_TIMEOUT = 0.5
QUESTION = "What is your monthly income?"
SENTENCE = "Thank you. Do you currently own your home?"


def make_asr(
    fake: FakeCloud, *, timeout: float = TIMEOUT, api_key: str = OPENAI_KEY, breaker: CircuitBreaker | None = None
) -> OpenAIASR:
    return OpenAIASR(
        api_key=api_key, base_url=fake.openai_url, model="whisper-1", timeout=timeout, backoff=BACKOFF, breaker=breaker
    )


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_tts(
    fake: FakeCloud, rate: int = 22050, *, timeout: float = TIMEOUT, api_key: str = ELEVENLABS_KEY
) -> ElevenLabsTTS:
    return ElevenLabsTTS(
        rate, api_key=api_key, base_url=fake.elevenlabs_url, voice="voice-abc", model="eleven_test_model",
        timeout=timeout, backoff=BACKOFF,
    )


async def collect(tts: ElevenLabsTTS, text: str = SENTENCE, **kwargs: str) -> list[bytes]:
    return [chunk async for chunk in tts.synthesize(text, **kwargs)]


def assert_gave_up_on_hung_requests(err: ProviderError, fake: FakeCloud) -> None:
    """Two attempts, each ended by our own deadline, while the fake still held every
    request it had seen (a hang lasts `hang_seconds`, far beyond any test): the deadline
    is ours, not the server's. No wall-clock bound needed.

    The attempts are counted by the client: on a busy machine an attempt can time out
    before the fake's thread has even read it (seen under load), so the fake may
    have recorded fewer, never more."""
    assert f"no answer within {HANG_TIMEOUT:g} s" in str(err) and "after 2 attempts" in str(err), err
    requests = fake.requests
    assert len(requests) <= 2
    assert all(r.fault == "hang" and r.finished_at is None for r in requests), requests


def assert_no_secret(err: ProviderError, secret: str) -> None:
    assert secret not in str(err)
    assert secret not in repr(err)
    assert secret not in "".join(traceback.format_exception(err))


@pytest.fixture(scope="module")
def answer() -> bytes:
    return say("about forty thousand rupees", rate=16000)


# --- OpenAI transcription


async def test_transcription_round_trip(fake_cloud: FakeCloud, answer: bytes) -> None:
    fake_cloud.script("openai", transcripts=["  About 40,000 rupees. \n"])
    heard = await make_asr(fake_cloud).transcribe(answer, language="en-IN", hint=QUESTION)

    assert heard.text == "About 40,000 rupees."
    [req] = fake_cloud.requests
    assert (req.path, req.status) == ("/v1/audio/transcriptions", 200)
    assert req.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert req.fields == {"model": "whisper-1", "language": "en", "prompt": QUESTION, "response_format": "verbose_json"}
    upload = req.files["file"]
    assert (upload.filename, upload.content_type) == ("answer.wav", "audio/wav")
    with wave.open(io.BytesIO(upload.data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
        assert w.readframes(w.getnframes()) == answer


async def test_transcription_without_hint_sends_no_prompt(fake_cloud: FakeCloud, answer: bytes) -> None:
    fake_cloud.script("openai", transcripts=["yes"])
    assert (await make_asr(fake_cloud).transcribe(answer)).text == "yes"
    assert "prompt" not in fake_cloud.requests[0].fields


async def test_transcription_uses_settings_by_default(fake_cloud: FakeCloud, answer: bytes, settings) -> None:
    settings.OPENAI_API_KEY = OPENAI_KEY
    settings.OPENAI_BASE_URL = fake_cloud.openai_url
    settings.OPENAI_ASR_MODEL = "gpt-4o-mini-transcribe"
    fake_cloud.script("openai", transcripts=["no"])

    assert (await OpenAIASR().transcribe(answer)).text == "no"
    assert fake_cloud.requests[0].fields["model"] == "gpt-4o-mini-transcribe"


async def test_whisper_confidence_comes_from_verbose_json_segments(fake_cloud: FakeCloud, answer: bytes) -> None:
    fake_cloud.script("openai", transcripts=[("yes", -0.05), ("you write", -1.6)])
    asr = make_asr(fake_cloud)
    sure, unsure = await asr.transcribe(answer), await asr.transcribe(answer)
    assert (sure.avg_logprob, sure.no_speech_prob) == (-0.05, fake_cloud.no_speech_prob)
    assert sure.confidence > 0.9 > 0.3 > unsure.confidence


async def test_gpt4o_confidence_comes_from_token_logprobs(fake_cloud: FakeCloud, answer: bytes, settings) -> None:
    settings.OPENAI_API_KEY = OPENAI_KEY
    settings.OPENAI_BASE_URL = fake_cloud.openai_url
    settings.OPENAI_ASR_MODEL = "gpt-4o-transcribe"
    fake_cloud.script("openai", transcripts=[("about forty thousand", -0.9)])
    heard = await OpenAIASR().transcribe(answer)
    assert heard.text == "about forty thousand" and heard.avg_logprob == pytest.approx(-0.9)
    assert heard.no_speech_prob is None and heard.confidence == pytest.approx(0.4066, abs=1e-3)
    fields = fake_cloud.requests[0].fields
    assert fields["response_format"] == "json" and fields["include[]"] == "logprobs"


async def test_blip_too_short_to_transcribe_is_not_sent(fake_cloud: FakeCloud) -> None:
    assert (await make_asr(fake_cloud).transcribe(bytes(2 * 800))).text == ""  # 50 ms
    assert fake_cloud.requests == []


def test_missing_key_is_a_permanent_error(settings) -> None:
    settings.OPENAI_API_KEY = ""
    with pytest.raises(ProviderError) as caught:
        OpenAIASR()
    assert caught.value.permanent


@pytest.mark.parametrize("fault", [429, 503, "drop"])
async def test_transcription_retries_once_then_succeeds(fake_cloud: FakeCloud, answer: bytes, fault) -> None:
    fake_cloud.script("openai", failures=[fault], transcripts=["yes"])
    assert (await make_asr(fake_cloud).transcribe(answer, hint=QUESTION)).text == "yes"
    assert len(fake_cloud.requests) == 2
    assert fake_cloud.requests[1].fields["prompt"] == QUESTION  # the retry resends the whole upload
    assert fake_cloud.requests[1].files["file"].data == fake_cloud.requests[0].files["file"].data


async def test_transcription_gives_up_after_two_server_errors(fake_cloud: FakeCloud, answer: bytes) -> None:
    fake_cloud.script("openai", failures=[500, 500], transcripts=["never returned"])
    with pytest.raises(ProviderError) as caught:
        await make_asr(fake_cloud).transcribe(answer)

    err = caught.value
    assert not err.permanent
    assert err.provider == "openai-whisper"
    assert "OpenAI" in str(err) and "HTTP 500" in str(err) and "2 attempts" in str(err)
    assert len(fake_cloud.requests) == 2


async def test_bad_key_fails_at_once_without_leaking_it(fake_cloud: FakeCloud, answer: bytes) -> None:
    secret = "sk-live-secret-must-not-leak-42"
    with pytest.raises(ProviderError) as caught:
        await make_asr(fake_cloud, api_key=secret).transcribe(answer)

    assert caught.value.permanent
    assert "HTTP 401" in str(caught.value) and "invalid_api_key" in str(caught.value)
    assert_no_secret(caught.value, secret)
    assert len(fake_cloud.requests) == 1
    assert secret in fake_cloud.requests[0].headers["authorization"]  # it was sent, and echoed back


@pytest.mark.parametrize("status", [400, 403, 404])
async def test_client_errors_are_permanent(fake_cloud: FakeCloud, answer: bytes, status: int) -> None:
    fake_cloud.script("openai", failures=[status])
    with pytest.raises(ProviderError) as caught:
        await make_asr(fake_cloud).transcribe(answer)
    assert caught.value.permanent
    assert f"HTTP {status}" in str(caught.value)
    assert len(fake_cloud.requests) == 1


async def test_transcription_timeout(fake_cloud: FakeCloud, answer: bytes) -> None:
    fake_cloud.script("openai", failures=["hang", "hang"])
    with pytest.raises(ProviderError) as caught:
        await make_asr(fake_cloud, timeout=HANG_TIMEOUT).transcribe(answer)

    assert not caught.value.permanent
    assert_gave_up_on_hung_requests(caught.value, fake_cloud)


async def test_one_provider_serves_several_event_loops(fake_cloud: FakeCloud, answer: bytes) -> None:
    """The registry shares providers between the warm-up thread's loop and the server's."""
    fake_cloud.script("openai", transcripts=["first", "second", "third"])
    asr = make_asr(fake_cloud)
    assert (await asr.transcribe(answer)).text == "first"
    assert (await asyncio.to_thread(asyncio.run, asr.transcribe(answer))).text == "second"
    assert (await asr.transcribe(answer)).text == "third"


# --- ElevenLabs speech


async def test_speech_streams_before_synthesis_ends(fake_cloud: FakeCloud) -> None:
    fake_cloud.hold_after_pieces = 1  # the vendor sends one piece, then waits until we say so
    stream = make_tts(fake_cloud).synthesize(SENTENCE)
    chunks = [await anext(stream)]
    [req] = fake_cloud.requests
    assert req.pieces_sent == 1 and not req.completed  # the caller has audio while the vendor is still sending
    fake_cloud.resume_streams()
    chunks += [chunk async for chunk in stream]

    assert req.status == 200 and req.completed and req.pieces_sent > 3
    assert len(chunks) > 3
    assert all(len(chunk) % 2 == 0 for chunk in chunks)
    assert b"".join(chunks) == say(SENTENCE, rate=22050)  # every byte the server sent, in order
    assert req.path == "/v1/text-to-speech/voice-abc/stream"
    assert req.query == {"output_format": "pcm_22050"}
    assert req.headers["xi-api-key"] == ELEVENLABS_KEY
    assert req.json["text"] == SENTENCE and req.json["model_id"] == "eleven_test_model"


@pytest.mark.parametrize("rate", [16000, 24000, 44100])
async def test_speech_is_requested_at_the_output_rate(fake_cloud: FakeCloud, rate: int) -> None:
    audio = b"".join(await collect(make_tts(fake_cloud, rate), "Yes."))
    assert fake_cloud.requests[0].query["output_format"] == f"pcm_{rate}"
    assert audio == say("Yes.", rate=rate)


async def test_voice_argument_overrides_the_default(fake_cloud: FakeCloud, settings) -> None:
    settings.ELEVENLABS_API_KEY = ELEVENLABS_KEY
    settings.ELEVENLABS_BASE_URL = fake_cloud.elevenlabs_url
    await collect(ElevenLabsTTS(sample_rate=16000), "Hello.", voice="otherVoice42")
    assert fake_cloud.requests[0].path == "/v1/text-to-speech/otherVoice42/stream"


async def test_stray_odd_byte_never_splits_a_sample(fake_cloud: FakeCloud) -> None:
    fake_cloud.script("elevenlabs", odd_tail=True)
    chunks = await collect(make_tts(fake_cloud), "Okay.")
    assert all(len(chunk) % 2 == 0 for chunk in chunks)
    assert b"".join(chunks) == say("Okay.", rate=22050)


async def test_blank_text_makes_no_request(fake_cloud: FakeCloud) -> None:
    assert await collect(make_tts(fake_cloud), "  ") == []
    assert fake_cloud.requests == []


def test_unsupported_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="11025"):
        ElevenLabsTTS(11025, api_key=ELEVENLABS_KEY)


@pytest.mark.parametrize("fault", [500, 429, "drop"])
async def test_failure_before_first_chunk_is_retried_once(fake_cloud: FakeCloud, fault) -> None:
    fake_cloud.script("elevenlabs", failures=[fault])
    audio = b"".join(await collect(make_tts(fake_cloud)))
    assert audio == say(SENTENCE, rate=22050)
    assert len(fake_cloud.requests) == 2


async def test_speech_gives_up_after_two_server_errors(fake_cloud: FakeCloud) -> None:
    fake_cloud.script("elevenlabs", failures=[502, 502])
    with pytest.raises(ProviderError) as caught:
        await collect(make_tts(fake_cloud))
    assert not caught.value.permanent and caught.value.provider == "elevenlabs"
    assert "ElevenLabs" in str(caught.value) and "HTTP 502" in str(caught.value)
    assert len(fake_cloud.requests) == 2


async def test_speech_bad_key_fails_at_once_without_leaking_it(fake_cloud: FakeCloud) -> None:
    secret = "sk_live_elevenlabs_secret_99"
    with pytest.raises(ProviderError) as caught:
        await collect(make_tts(fake_cloud, api_key=secret))
    assert caught.value.permanent
    assert "HTTP 401" in str(caught.value) and "invalid_api_key" in str(caught.value)
    assert_no_secret(caught.value, secret)
    assert len(fake_cloud.requests) == 1


async def test_failure_mid_stream_is_not_retried(fake_cloud: FakeCloud) -> None:
    fake_cloud.script("elevenlabs", failures=["cut"])
    received: list[bytes] = []
    with pytest.raises(ProviderError) as caught:
        async for chunk in make_tts(fake_cloud).synthesize(SENTENCE):
            received.append(chunk)

    assert received, "audio before the cut reaches the caller"
    assert b"".join(received) == say(SENTENCE, rate=22050)[: len(b"".join(received))]
    assert not caught.value.permanent
    assert "not retried" in str(caught.value)
    assert len(fake_cloud.requests) == 1


async def test_speech_timeout(fake_cloud: FakeCloud) -> None:
    fake_cloud.script("elevenlabs", failures=["hang", "hang"])
    with pytest.raises(ProviderError) as caught:
        await collect(make_tts(fake_cloud, timeout=HANG_TIMEOUT))

    assert not caught.value.permanent
    assert_gave_up_on_hung_requests(caught.value, fake_cloud)


async def test_listener_can_stop_a_stream_early(fake_cloud: FakeCloud) -> None:
    """Barge-in: the pipeline closes the generator after the first chunk; the next sentence still works."""
    fake_cloud.hold_after_pieces = 1  # the first stream is still going when the listener leaves
    tts = make_tts(fake_cloud)
    stream = tts.synthesize(SENTENCE)
    assert await anext(stream)
    await stream.aclose()
    fake_cloud.resume_streams()

    assert b"".join(await collect(tts, "Yes.")) == say("Yes.", rate=22050)
    first, second = fake_cloud.requests
    assert not first.completed, "closing the stream hangs up on the server"
    assert second.completed


async def test_registry_builds_cloud_providers_from_settings(fake_cloud: FakeCloud, answer: bytes, settings) -> None:
    """What a deployment with both API keys gets: the fake's settings, through calls.providers.registry."""
    from calls.providers import registry

    for name, value in fake_cloud.settings().items():
        setattr(settings, name, value)
    settings.OUTPUT_SAMPLE_RATE = 24000
    registry.reset_registry()
    try:
        asr, tts = registry.get_asr(), registry.get_tts()
        assert (type(asr), type(tts), tts.sample_rate) == (OpenAIASR, ElevenLabsTTS, 24000)
        fake_cloud.script("openai", transcripts=["yes"])
        assert (await asr.transcribe(answer)).text == "yes"
        assert b"".join([chunk async for chunk in tts.synthesize("Yes.")]) == say("Yes.", rate=24000)
    finally:
        registry.reset_registry()


# --- Circuit breaker: an outage costs a few requests, not a timeout on every turn


async def test_breaker_skips_the_vendor_after_failures_in_a_row_then_tries_again(
    fake_cloud: FakeCloud, answer: bytes
) -> None:
    clock = FakeClock()
    asr = make_asr(fake_cloud, breaker=CircuitBreaker(2, 30, clock=clock))
    fake_cloud.script("openai", failures=[503] * 4, transcripts=["yes"])
    for _ in range(2):  # two failed requests, each after its one retry
        with pytest.raises(ProviderError):
            await asr.transcribe(answer)
    assert len(fake_cloud.requests) == 4

    clock.advance(29.9)  # still within the pause: no request (so no backoff either), straight to the fallback
    with pytest.raises(ProviderError) as caught:
        await asr.transcribe(answer)
    assert not caught.value.permanent and "skipped" in str(caught.value)
    assert len(fake_cloud.requests) == 4

    clock.advance(0.2)  # the pause is over: the vendor (recovered) is tried and the circuit closes
    assert (await asr.transcribe(answer)).text == "yes"
    assert len(fake_cloud.requests) == 5
    fake_cloud.script("openai", failures=[503, 503], transcripts=["no"])
    with pytest.raises(ProviderError) as caught:  # one failure after a success does not open it
        await asr.transcribe(answer)
    assert "skipped" not in str(caught.value)
    assert (await asr.transcribe(answer)).text == "no"


async def test_breaker_counts_speech_failures_and_a_bad_key(fake_cloud: FakeCloud, settings) -> None:
    settings.CLOUD_BREAKER_FAILURES = 2
    settings.CLOUD_BREAKER_COOLDOWN = 60
    tts = make_tts(fake_cloud, api_key="wrong-key")
    for _ in range(2):
        with pytest.raises(ProviderError) as caught:
            await collect(tts)
        assert caught.value.permanent
    with pytest.raises(ProviderError) as caught:
        await collect(tts)
    assert "skipped" in str(caught.value) and "trying again in 60 s" in str(caught.value)
    assert len(fake_cloud.requests) == 2


def test_breaker_off_when_failures_is_zero() -> None:
    from calls.providers.retry import CircuitBreaker

    breaker = CircuitBreaker(0, 30)
    for _ in range(10):
        breaker.failure()
    assert breaker.retry_in() == 0
