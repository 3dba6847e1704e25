"""Turn taking (calls/runtime/listener.py, calls/runtime/pipeline.py): the bot does not talk over a caller
who is still speaking, speech that never pauses cannot hold a turn open, and an
`end_of_speech` is always recognised.

Real speech (espeak-ng) through the real VAD and recognisers; where the order of events
matters, the recognition is held at the network edge (devtools/fakecloud.py) until the test
lets it answer, so nothing depends on how fast this machine is.
"""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from calls.providers.base import (
    ASRProvider,
    ProviderError,
    Transcript,
    VADProvider,
    VADStream,
)
from calls.providers.openai_asr import OpenAIASR
from calls.runtime.listener import ENGINE_RATE, MAX_VAD_BACKLOG_S, Listener, Utterance
from devtools.callclient import CallClient
from devtools.fakecloud import OPENAI_KEY, FakeCloud
from devtools.speech import say, silence

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
    await listener.settle()
    assert heard.starts >= 1 and len(heard.utterances) >= 3  # the turn was ended, again and again
    assert all(len(u.pcm) <= 3 * ENGINE_RATE * 2 for u in heard.utterances)
    listener.close()


class Gated(VADProvider):
    """The real Silero VAD, behind a gate the test opens (or a failure it turns on):
    what the listener does while the model has not answered yet."""

    def __init__(self) -> None:
        from calls.providers.registry import get_vad

        self.real = get_vad()
        self.name, self.sample_rate, self.window_samples = "gated", self.real.sample_rate, self.real.window_samples
        self.open = asyncio.Event()
        self.submissions: list[int] = []  # windows per model submission
        self.resets = 0  # streams started afresh
        self.broken = False

    def new_stream(self) -> VADStream:
        vad, real = self, self.real.new_stream()

        class Stream(VADStream):
            def probability(self, window: bytes) -> float:
                return real.probability(window)

            async def probabilities(self, pcm: bytes) -> list[float]:
                await vad.open.wait()
                if vad.broken:
                    raise ProviderError("model session failed", provider="gated")
                vad.submissions.append(len(pcm) // 2 // vad.window_samples)
                return await real.probabilities(pcm)

            def reset(self) -> None:
                vad.resets += 1
                real.reset()

        return Stream()


class HeardErrors(Heard):
    def __init__(self) -> None:
        super().__init__()
        self.errors: list[str] = []

    async def error(self, code: str, message: str) -> None:
        self.errors.append(code)


def frames(pcm: bytes, start: float = 0.0) -> list[tuple[bytes, float]]:
    """20 ms frames of `pcm`, each with the time it was received (its end, in audio time)."""
    step = ENGINE_RATE * 2 // 50
    return [(pcm[i : i + step], start + (i + step) / 2 / ENGINE_RATE) for i in range(0, len(pcm), step)]


@pytest.mark.django_db  # settings only; no rows
async def test_frames_are_not_held_up_by_the_vad():
    """A frame is taken as soon as it arrives, even while the VAD has not answered for
    the ones before (a loaded worker's batch cycle); the VAD then catches up on every
    pending window at once, and the end of speech is still dated by when its frame came in."""
    vad = Gated()
    heard = Heard()
    listener = Listener(heard, vad=vad, asr=[], mode="vad")
    words = say("yes I am")
    for frame, received_at in frames(words + silence(600)):
        await listener.feed(frame, received_at)  # returns at once: the VAD is still shut
    assert heard.starts == 0 and not heard.utterances and vad.submissions == []
    vad.open.set()
    await listener.settle()
    assert heard.starts == 1 and len(heard.utterances) == 1
    assert len(vad.submissions) <= 2  # the backlog went through the model together, not window by window
    samples = np.frombuffer(words, dtype="<i2")
    spoken_until = np.nonzero(np.abs(samples) > 300)[0][-1] / ENGINE_RATE  # espeak's quiet tail left out
    assert abs(heard.utterances[0].ended_at - spoken_until) < 0.1  # when the frame with the last words came in
    listener.close()


@pytest.mark.django_db
async def test_feeding_waits_once_the_vad_is_far_behind():
    """The audio waiting for the VAD is bounded: past MAX_VAD_BACKLOG_S the socket's next
    frame waits for the VAD to catch up."""
    vad = Gated()
    listener = Listener(Heard(), vad=vad, asr=[], mode="vad")
    backlog = frames(silence(int(MAX_VAD_BACKLOG_S * 1000) + 100))
    fed = 0
    stalled: asyncio.Task[None] | None = None
    for frame, received_at in backlog:
        stalled = asyncio.ensure_future(listener.feed(frame, received_at))
        for _ in range(5):  # give it every chance to finish
            await asyncio.sleep(0)
        if not stalled.done():
            break
        fed += 1
    assert stalled is not None and not stalled.done()
    assert fed * 0.02 >= MAX_VAD_BACKLOG_S - 0.05  # it took up to the bound without waiting
    vad.open.set()
    await stalled
    await listener.settle()
    listener.close()


@pytest.mark.django_db
async def test_a_broken_vad_is_reported_once_and_push_to_talk_goes_on():
    vad = Gated()
    vad.broken = True
    vad.open.set()
    heard = HeardErrors()
    listener = Listener(heard, vad=vad, asr=[], mode="push_to_talk")
    for turn in range(2):
        for frame, received_at in frames(say("yes I am") + silence(300), start=turn * 3.0):
            await listener.feed(frame, received_at)
        await listener.end_of_speech(turn * 3.0 + 2.5)
    assert heard.errors == ["vad_failed"]  # told once, not per window
    assert [u.ended_at for u in heard.utterances] == [2.5, 5.5]  # both turns still recognised
    assert all(len(u.pcm) > ENGINE_RATE for u in heard.utterances)
    listener.close()


class Watched(ASRProvider):
    """The real OpenAI provider (on the fake cloud), telling the test when a recognition finished."""

    def __init__(self, fake: FakeCloud) -> None:
        self.real = OpenAIASR(api_key=OPENAI_KEY, base_url=fake.openai_url)
        self.name, self.sample_rate = self.real.name, self.real.sample_rate
        self.finished = asyncio.Event()

    async def transcribe(self, pcm: bytes, *, language: str = "en", hint: str = "") -> Transcript:
        heard = await self.real.transcribe(pcm, language=language, hint=hint)
        self.finished.set()
        return heard


@pytest.mark.django_db  # settings only; no rows
async def test_a_vad_far_behind_does_not_hold_up_recognition(fake_cloud: FakeCloud):
    """Push-to-talk on a loaded worker: at `end_of_speech` the VAD has not judged the
    caller's words yet. Recognition of the whole utterance starts after EOS_VAD_WAIT_S
    without it, and its result is the answer once the VAD has caught up."""
    fake_cloud.default_transcript = "Yes, I am."
    vad = Gated()  # shut: the VAD answers for nothing until the test opens it
    asr = Watched(fake_cloud)
    heard = Heard()
    listener = Listener(heard, vad=vad, asr=[asr], mode="push_to_talk")
    for frame, received_at in frames(say("yes I am") + silence(300)):
        await listener.feed(frame, received_at)
    released = asyncio.ensure_future(listener.end_of_speech(2.0))
    async with asyncio.timeout(30):  # a guard, not a timing
        await asr.finished.wait()  # recognised ...
    assert vad.submissions == [] and not heard.utterances  # ... while the VAD has still judged nothing
    vad.open.set()
    await released
    [utterance] = heard.utterances
    assert utterance.early_asr is not None
    for _ in range(5):  # a few loop turns: the answer is in hand, no recognition is waited for
        await asyncio.sleep(0)
    assert utterance.early_asr.done()
    text, provider, _ = utterance.early_asr.result()
    assert (text.text, provider) == ("Yes, I am.", "openai-whisper")
    listener.close()


class Counted(Gated):
    """The real Silero VAD with the gate open: counts the windows each call's stream submits."""

    def __init__(self) -> None:
        super().__init__()
        self.open.set()

    @property
    def windows(self) -> int:
        return sum(self.submissions)


class Recorded(ASRProvider):
    """A recogniser that keeps the audio it was given (the listener's decisions are under test)."""

    name, sample_rate = "recorded", ENGINE_RATE

    def __init__(self) -> None:
        self.heard: list[bytes] = []

    async def transcribe(self, pcm: bytes, *, language: str = "en", hint: str = "") -> Transcript:
        self.heard.append(pcm)
        return Transcript("yes I am")


def spoken_end(pcm: bytes) -> int:
    """Byte offset just past the last loud sample (espeak's clips end in a quiet tail)."""
    loud = np.nonzero(np.abs(np.frombuffer(pcm, dtype="<i2")) > 300)[0]
    return int(loud[-1] + 1) * 2


async def press(listener: Listener, pcm: bytes, start: float = 0.0) -> None:
    """The caller's frames in order, each judged before the next comes in (as when a
    worker keeps up with real time)."""
    for frame, received_at in frames(pcm, start):
        await listener.feed(frame, received_at)
        await listener.settle()


@pytest.mark.django_db  # settings only; no rows
async def test_push_to_talk_asks_the_model_only_until_the_caller_begins():
    """The model hears the caller start (barge-in, user.speech.started); after that a pause
    before the release is found by the level, and recognition still starts at it."""
    vad, asr, heard = Counted(), Recorded(), Heard()
    listener = Listener(heard, vad=vad, asr=[asr], mode="push_to_talk")
    words = say("about fifty thousand a month", voice="en-us")
    pcm = silence(100) + words + silence(600)  # the caller lets go 600 ms after the last word
    await press(listener, pcm)
    windows = len(pcm) // 2 // vad.window_samples
    assert heard.starts == 1
    assert vad.windows < windows / 3  # the lead-in and the first words; not the rest of the press
    assert len(asr.heard) == 1 and len(asr.heard[0]) >= spoken_end(pcm)  # recognition began at the pause, with every word
    await listener.end_of_speech(len(pcm) / 2 / ENGINE_RATE)
    [utterance] = heard.utterances
    assert utterance.early_asr is not None and (await utterance.early_asr)[0].text == "yes I am"
    assert len(asr.heard) == 1  # what began at the pause is the answer: nothing recognised again

    # The next press: the model starts afresh and hears this caller begin again.
    before = vad.resets
    await press(listener, silence(100) + say("yes I am") + silence(150), start=10.0)
    assert vad.resets == before + 1 and heard.starts == 2
    listener.close()


@pytest.mark.django_db  # settings only; no rows
async def test_push_to_talk_speech_after_a_pause_discards_what_began_at_the_pause():
    vad, asr, heard = Counted(), Recorded(), Heard()
    listener = Listener(heard, vad=vad, asr=[asr], mode="push_to_talk")
    first = silence(100) + say("yes", voice="en-us") + silence(400)
    await press(listener, first)
    assert len(asr.heard) == 1  # recognition began at the pause ...
    pcm = first + say("I live in Mumbai", voice="en-us") + silence(300)
    await press(listener, pcm[len(first) :], start=len(first) / 2 / ENGINE_RATE)
    await listener.end_of_speech(5.0)
    [utterance] = heard.utterances
    assert heard.starts == 2  # the model heard the caller begin again
    assert len(utterance.pcm) == len(pcm)
    assert utterance.early_asr is not None
    await utterance.early_asr
    assert len(asr.heard) == 2 and len(asr.heard[-1]) >= spoken_end(pcm)  # ... and the answer is all of it
    listener.close()


@pytest.mark.django_db  # settings only; no rows
async def test_push_to_talk_a_press_judged_in_one_batch_keeps_its_pause():
    """A worker that falls behind judges a whole press at once: the model hears the start
    and the pause in one batch, and the level taking over must not hear the pause as the
    caller going on (which would throw away the recognition begun at it)."""
    vad, asr, heard = Counted(), Recorded(), Heard()
    listener = Listener(heard, vad=vad, asr=[asr], mode="push_to_talk")
    pcm = silence(100) + say("about forty thousand a month") + silence(100)
    for frame, received_at in frames(pcm):
        await listener.feed(frame, received_at)  # no settle: one batch for the VAD
    await listener.settle()
    for frame, received_at in frames(silence(200), len(pcm) / 2 / ENGINE_RATE):  # still held, silent
        await listener.feed(frame, received_at)
        await listener.settle()
    await listener.end_of_speech(5.0)
    [utterance] = heard.utterances
    assert utterance.early_asr is not None
    await utterance.early_asr
    assert len(asr.heard) == 1  # begun at the pause, and it stood
    listener.close()
