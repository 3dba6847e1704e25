"""Recorded calls end to end, through the real socket (browser protocol) and the phone-line
simulator (Twilio Media Streams, tests/telephony/test_recorded_phone_call.py): real espeak-ng speech, real Piper and Whisper, the real
recorder, encoder thread and uploader; the stored file decoded with PyAV. Where a clip
should be in the file is known from when the test sent it and the wall-clock start the
recording carries in its tags."""
from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path

import pytest
from channels.db import database_sync_to_async

from calls.audio import resample
from calls.models import Call, recordings_storage
from devtools.callclient import CallClient
from tests.recordings import Recording, decode, find
from devtools.speech import say, silence

pytestmark = [pytest.mark.speech, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("call_bots")]

CLIP = "Yes, I am happy for you to record this call."


@pytest.fixture(autouse=True)
def recording_bots(call_bots, settings, tmp_path: Path):
    settings.PLAYBACK_LEAD_MS = 250  # the bot's lines paced as they play, as in production
    settings.RECORDINGS_SPOOL_DIR = tmp_path / "spool"
    settings.STORAGES = {**settings.STORAGES, "recordings": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path / "store"}}}
    for bot in call_bots.values():
        bot.record_calls = True
        bot.save(update_fields=["record_calls"])


@database_sync_to_async
def _stored(call_id: str) -> Call | None:
    call = Call.objects.get(pk=call_id)
    return call if call.recording.name else None


async def stored_recording(call_id: str, timeout: float = 60) -> tuple[Call, Recording]:
    """The call once the uploader has stored its recording (it runs in its own thread)."""
    deadline = time.monotonic() + timeout
    while (call := await _stored(call_id)) is None:
        assert time.monotonic() < deadline, "the recording was never stored"
        await asyncio.sleep(0.05)
    with recordings_storage().open(call.recording.name) as f:
        return call, decode(f.read())


def since_start(recording: Recording, wall: float) -> float:
    """A wall-clock moment as seconds into the recording (its tags say when it began)."""
    return wall - datetime.fromisoformat(recording.tags["started"]).timestamp()


async def test_a_browser_call_is_recorded_both_sides_in_place():
    client = await CallClient.start("quickrupee-loan", mode="push_to_talk")
    first = await client.until("bot.speech.started", turn=0)
    greeted = time.time()
    assert "This call is recorded" in first["text"]
    await client.until("bot.speech.ended", turn=0)
    greeting = bytes(client.audio)  # the bot's first line as the client received it (22.05 kHz)
    clip = say(CLIP, voice="en-us+f2")
    sent = time.time()
    await client.send_audio(clip, pace=1.0)  # spoken in real time, as a caller does
    await client.send(type="end_of_speech")
    await client.until("bot.speech.started", turn=1)
    await client.send(type="hangup")
    assert await client.drain() == 1000

    call, got = await stored_recording(client.call_id)
    assert call.recording_consent is True
    assert abs(got.duration - (call.ended_at - call.started_at).total_seconds()) < 0.5
    at, match = find(clip, got.channel("caller"))
    # Where the server received it: on a loaded machine the test's own event loop (it runs the
    # server too) may hand the first frames over late, by up to the recorder's JITTER_S.
    assert abs(at - since_start(got, sent)) < 0.35 and match > 0.4, (at, since_start(got, sent), match)
    at, match = find(resample(greeting, 22050, 16000)[: 16000 * 3], got.channel("bot"))
    assert abs(at - since_start(got, greeted)) < 0.3 and match > 0.5, (at, since_start(got, greeted), match)
    assert got.rms("bot", at + 0.2, at + 2.0) > 0.01 > got.rms("caller", at + 0.2, at + 2.0)
    # Each transcript line keeps when it began, on the recording's clock (the player seeks to it).
    lines = await database_sync_to_async(lambda: {(t.index, t.speaker): t.at_ms for t in call.turns.all()})()
    assert at - 1.0 < lines[(0, "bot")] / 1000 <= at + 0.05  # said from then on (its first audio a moment later)
    assert abs(lines[(1, "caller")] / 1000 - since_start(got, sent)) < 0.5


async def test_a_barge_in_cut_shows_in_the_bots_channel():
    client = await CallClient.start("quickrupee-loan", mode="vad")
    await client.until("bot.speech.started", turn=0)
    while len(client.audio) < 22050 * 2 * 2:  # two seconds of the greeting received
        await client.next_event()
    clip = say("yes that is fine, go ahead", voice="en-us")
    sent = time.time()
    talking = asyncio.create_task(client.send_audio(clip + silence(700), pace=1.0))  # spoken in real time
    await client.until("playback.clear", turn=0)
    cleared = time.time()
    await talking
    await client.until("bot.speech.ended", turn=1)
    await client.send(type="hangup")
    await client.drain()

    call, got = await stored_recording(client.call_id)
    said, cut, spoken = since_start(got, sent), since_start(got, cleared), len(clip) / 32000
    assert cut < said + 0.5  # the bot stopped as the caller began
    assert got.rms("bot", said - 1.0, said - 0.1) > 0.01  # the greeting was playing
    # From the cut until the caller had finished, nothing from the bot: the greeting's audio
    # sent ahead of the cut was never heard, and is not in the file. The bot's answer may
    # begin before the clip's trailing quiet is over (it answers once the words end).
    answered = await database_sync_to_async(lambda: call.turns.get(index=1, speaker="bot").at_ms / 1000)()
    assert cut + 0.5 < answered
    assert got.rms("bot", cut + 0.05, min(said + spoken, answered)) < 0.003
    assert got.rms("caller", said, said + spoken) > 0.01
