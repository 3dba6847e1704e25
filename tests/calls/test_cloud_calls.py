"""Whole calls on the cloud providers (OpenAI Whisper, ElevenLabs), faked at the HTTP boundary.

The fake answers like the real APIs; a failing vendor must hand the turn to the
local engine, tell the caller with a non-fatal error, and keep the call going.
"""
from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from calls.models import Call, LatencySample
from devtools.callclient import CallClient
from devtools.speech import say, silence

pytestmark = [pytest.mark.speech, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("call_bots")]


async def answer(client: CallClient, text: str) -> None:
    await client.until("bot.speech.ended")
    await client.send_audio(silence(100) + say(text) + silence(100))
    await client.send(type="end_of_speech")


@database_sync_to_async
def providers(call_id: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for s in LatencySample.objects.filter(call_id=call_id):
        out.setdefault(s.stage, set()).add(s.provider)
    return out


async def test_cloud_call_uses_openai_and_elevenlabs(cloud_settings):
    fake = cloud_settings
    fake.script("openai", transcripts=["Yes, I am.", "About $40,000 a month.", "Yes, in Mumbai."])
    client = await CallClient.start("quickrupee-loan", mode="push_to_talk")
    started = await client.until("call.started")
    for text in ["yes I am", "about forty thousand a month", "yes in Mumbai"]:
        await answer(client, text)
    assert (await client.until("call.ended", timeout=60))["outcome"] == "qualified"
    assert not client.of("error")
    assert [a["value"] for a in client.of("answer")] == [True, 40000, True]
    assert len(client.audio) > started["output_sample_rate"] * 2  # ElevenLabs speech reached the caller
    uploads = fake.requests_for("openai")
    assert len(uploads) == 3 and all(r.files["file"].data[:4] == b"RIFF" for r in uploads)
    assert "salaried" in uploads[0].fields.get("prompt", "")  # the question is the decoding hint
    speech = fake.requests_for("elevenlabs")
    assert speech and all(r.query.get("output_format") == f"pcm_{started['output_sample_rate']}" for r in speech)
    used = await providers(client.call_id)
    assert used["asr"] == {"openai-whisper"} and used["tts_first_audio"] == {"elevenlabs"}


async def test_failing_cloud_falls_back_to_local_engines_and_the_call_goes_on(cloud_settings):
    fake = cloud_settings
    fake.script("openai", failures=[500, 503], transcripts=["No."])
    fake.script("elevenlabs", failures=[500, 502] * 40)  # ElevenLabs is down for the whole call
    client = await CallClient.start("home-renovation", mode="push_to_talk")
    await client.until("call.started")
    await answer(client, "yes I own my home")
    errors = client.of("error") + [await client.until("error", code="asr_failed")]
    assert all(e["fatal"] is False for e in errors)
    assert any(e["code"] == "tts_failed" for e in client.of("error"))
    first = await client.until("answer")
    assert first["question"] == "owns_home" and first["value"] is True  # heard by local Whisper
    await answer(client, "no")  # OpenAI is back: its scripted "No." decides
    assert (await client.until("call.ended", timeout=60))["outcome"] == "rejected"
    assert len(client.audio) > 0  # Piper spoke when ElevenLabs could not
    used = await providers(client.call_id)
    assert used["asr"] == {"whisper-local", "openai-whisper"}
    assert used["tts_first_audio"] == {"piper"}


@database_sync_to_async
def stored_confidences(call_id: str) -> dict[str, float | None]:
    from calls.models import Answer

    return dict(Answer.objects.filter(call_id=call_id).values_list("question_key", "confidence"))


async def test_a_doubtful_hearing_is_checked_before_it_rejects_and_its_confidence_is_stored(cloud_settings, settings):
    settings.ASR_CONFIRM_BELOW = 0.5  # the shipped default
    fake = cloud_settings
    fake.script("openai", transcripts=[("No.", -2.5), ("Yes, I am.", -0.05), ("About 40,000 a month.", -0.1),
                                       ("Yes, in Mumbai.", -0.1)])
    client = await CallClient.start("quickrupee-loan", mode="push_to_talk")
    await client.until("call.started")
    for text in ["yes I am", "yes I am", "about forty thousand a month", "yes in Mumbai"]:
        await answer(client, text)
    assert (await client.until("call.ended", timeout=60))["outcome"] == "qualified"
    said = [e["text"] for e in client.of("bot.speech.started")]
    assert "Just to be sure, are you a salaried employee?" in said
    stored = await stored_confidences(client.call_id)
    assert set(stored) == {"salaried", "monthly_salary", "metro_city"}
    assert stored["salaried"] == pytest.approx(0.94, abs=0.01)  # exp(-0.05) x (1 - 0.01 no speech)


# ---------------------------------------------------------------------------- no silent speech failures
async def test_an_unforeseen_failure_of_the_cloud_voice_falls_back_to_the_local_voice(cloud_settings):
    """ElevenLabs behind a broken proxy: its SDK raises an exception nobody classified
    (the error body is not even text). The local voice says the line instead."""
    fake = cloud_settings
    fake.script("elevenlabs", failures=["garbage"] * 100)
    client = await CallClient.start("quickrupee-loan")
    await client.until("bot.speech.ended", turn=0)
    assert len(client.audio) > 0  # the greeting was heard, in Piper's voice
    failed = [e for e in client.of("error") if e["code"] == "tts_failed"]
    assert failed and all(e["fatal"] is False for e in failed)
    assert any(r.fault == "garbage" for r in fake.requests_for("elevenlabs"))
    await client.send(type="text", text="yes")
    assert (await client.until("answer"))["value"] is True
    await client.until("bot.speech.ended", turn=1)  # the call goes on
    await client.close()


@pytest.fixture
def broken_piper_voice(settings, tmp_path):
    """A Piper voice whose model is corrupt (its config is fine): Piper fails for real."""
    from calls.providers.piper_tts import default_voice_path

    model = tmp_path / "broken.onnx"
    model.write_bytes(b"this is not an ONNX model")
    model.with_name("broken.onnx.json").write_text(open(f"{default_voice_path()}.json").read())
    settings.PIPER_VOICE = str(model)
    return model


async def test_when_no_voice_can_speak_the_call_ends_with_a_fatal_error(cloud_settings, broken_piper_voice):
    fake = cloud_settings
    fake.script("elevenlabs", failures=["garbage"] * 100)
    client = await CallClient.start("quickrupee-loan")
    fatal = await client.until("error", fatal=True)
    assert fatal["code"] == "speech_failed" and "error id" in fatal["message"]
    assert "UnicodeDecodeError" not in fatal["message"] and "onnx" not in fatal["message"]  # the detail is in the log
    assert await client.until("call.ended") == {"type": "call.ended", "outcome": "error", "reason": "speech_failed"}
    assert await client.drain() == 1011
    assert {e["code"] for e in client.of("error") if not e["fatal"]} == {"tts_failed"}  # each engine's failure, said
    call = await database_sync_to_async(Call.objects.get)(pk=client.call_id)
    assert (call.outcome, call.end_reason) == ("error", "speech_failed")
