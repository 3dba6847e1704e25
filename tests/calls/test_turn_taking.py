"""Turn taking (calls/listener.py, calls/pipeline.py): the bot does not talk over a caller
who is still speaking, speech that never pauses cannot hold a turn open, and an
`end_of_speech` is always recognised.

Real speech (espeak-ng) through the real VAD and recognisers; where the order of events
matters, the recognition is held at the network edge (tests/fakecloud.py) until the test
lets it answer, so nothing depends on how fast this machine is.
"""
from __future__ import annotations

import numpy as np
import pytest

from calls.listener import ENGINE_RATE, Listener, Utterance
from tests.callclient import CallClient
from tests.speech import say, silence

pytestmark = pytest.mark.speech


def between(client: CallClient, first: dict, last: dict) -> list[str]:
    return client.types()[client.events.index(first) + 1 : client.events.index(last)]


@pytest.mark.django_db(transaction=True)
async def test_a_reply_waits_while_the_caller_is_still_talking(cloud_settings, call_bots):
    """ "Yes ... I'm salaried": the caller goes on after a pause long enough to end the
    utterance. The first part's recognition comes back while they are still talking: no
    reply is spoken over them, and the whole of it is one answer."""
    fake = cloud_settings
    fake.hold_transcriptions = True
    fake.default_transcript = "Yes, I am salaried."
    client = await CallClient.start("quickrupee-loan", mode="vad")
    await client.until("bot.speech.ended", turn=0)
    await client.send_audio(say("yes") + silence(700))
    await client.until("user.speech.ended", turn=1)  # its recognition is held at the vendor
    await client.send_audio(say("I'm salaried"))  # ... and the caller goes on
    still_talking = await client.until("user.speech.started", turn=2)
    fake.release_transcriptions()  # the first part is heard while they talk
    await client.send_audio(silence(700))
    done = await client.until("user.speech.ended", turn=2)
    assert "bot.speech.started" not in between(client, still_talking, done)  # not spoken over
    answer = await client.until("answer")
    assert (answer["question"], answer["value"], answer["attempt"]) == ("salaried", True, 1)
    reply = await client.until("bot.speech.started")
    assert reply["turn"] == 2 and "salary" in reply["text"]
    assert len(client.of("answer")) == 1 and len(client.of("transcript")) == 1
    await client.close()


@pytest.mark.django_db(transaction=True)
async def test_end_of_speech_in_hands_free_is_recognised_when_the_vad_heard_nothing(settings, call_bots):
    settings.VAD_THRESHOLD = 1.01  # a voice the VAD never takes for speech (too faint, far from the mic)
    client = await CallClient.start("quickrupee-loan", mode="vad")
    await client.until("bot.speech.ended", turn=0)
    await client.send_audio(silence(100) + say("yes I am") + silence(100))
    await client.send(type="end_of_speech")
    answer = await client.until("answer", timeout=60)
    assert (answer["question"], answer["value"]) == ("salaried", True)
    assert [e["turn"] for e in client.of("user.speech.started")] == [e["turn"] for e in client.of("user.speech.ended")] == [1]
    await client.close()


@pytest.mark.django_db(transaction=True)
async def test_end_of_speech_over_silence_is_no_turn(call_bots):
    client = await CallClient.start("quickrupee-loan", mode="vad")
    await client.until("bot.speech.ended", turn=0)
    await client.send_audio(silence(1000))
    await client.send(type="end_of_speech")
    await client.send(type="text", text="yes")
    answer = await client.until("answer")
    assert answer["attempt"] == 1 and "user.speech.started" not in client.types()
    await client.close()


class Heard:
    """ListenerEvents that keeps what the listener reports."""

    def __init__(self) -> None:
        self.utterances: list[Utterance] = []
        self.starts = 0

    async def speech_started(self) -> None:
        self.starts += 1

    async def utterance_ended(self, utterance: Utterance) -> None:
        self.utterances.append(utterance)

    async def nothing_said(self) -> None:
        pass

    async def error(self, code: str, message: str) -> None:
        raise AssertionError(f"{code}: {message}")


def television(seconds: float) -> bytes:
    """Talk that never pauses: three voices reading over one another, on a loop."""
    lines = [
        say("and tonight's top story comes to you live from the city centre where crowds have gathered", voice="en-us"),
        say("the weather for the weekend looks bright and warm with light winds from the south", voice="en-gb-x-rp"),
        say("our reporter spoke to the people who have been waiting here since early this morning", voice="en+f3"),
    ]
    n = int(seconds * ENGINE_RATE)
    mix = np.zeros(n, dtype=np.float32)
    for k, pcm in enumerate(lines):
        voice = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
        offset = int(k * 0.37 * ENGINE_RATE)
        track = np.tile(voice, n // len(voice) + 2)[offset : offset + n]
        mix += track / 3
    return np.clip(mix, -32768, 32767).astype("<i2").tobytes()


@pytest.mark.django_db  # settings only; no rows
async def test_speech_that_never_pauses_is_cut_at_the_longest_utterance():
    """A TV in the background of a hands-free call must not hold a turn open for ever."""
    from calls.providers.registry import get_vad

    heard = Heard()
    listener = Listener(heard, vad=get_vad(), asr=[], mode="vad", max_utterance_s=3)
    tv = television(12)
    step = ENGINE_RATE * 2 // 50  # 20 ms frames
    for i in range(0, len(tv), step):
        await listener.feed(tv[i : i + step], received_at=i / 2 / ENGINE_RATE)
    assert heard.starts >= 1 and len(heard.utterances) >= 3  # the turn was ended, again and again
    assert all(len(u.pcm) <= 3 * ENGINE_RATE * 2 for u in heard.utterances)
    listener.close()
