"""The call recorder on its own: both sides placed on the call's clock, a barge-in cut, a
killed writer's file, nothing held in memory. Real espeak-ng speech, real Opus files
decoded with PyAV; time from a fake clock (tests/clock.py), so placement is exact."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from calls.audio import resample
from calls.runtime.ogg_writer import Encoder, locked_by_writer
from calls.runtime.recorder import CallRecorder
from tests.clock import FakeClock
from tests.recordings import decode, find
from devtools.speech import say

ROOT = Path(__file__).resolve().parents[2]
CALLER_CLIP = "Yes, I am a salaried employee at a bank."
BOT_LINE = "Welcome to QuickRupee. Are you a salaried employee?"


def feed_caller(rec: CallRecorder, clock: FakeClock, pcm: bytes, at: float, rate: int = 16000) -> float:
    """Stream `pcm` in 20 ms frames as a client would, the first frame arriving at call time `at`."""
    frame = rate * 2 // 50
    t = clock.t = rec.timeline.start + at
    for i in range(0, len(pcm), frame):
        t += 0.02
        clock.t = t
        rec.caller_audio(pcm[i : i + frame], rate, t)
    return t - rec.timeline.start


def feed_bot(rec: CallRecorder, clock: FakeClock, pcm: bytes, at: float, rate: int, until: float | None = None) -> None:
    """Send bot audio as the speaker does: 200 ms chunks, each 250 ms before it plays, from
    call time `at`; a chunk that would start at or after `until` is not sent (a barge-in)."""
    chunk = rate * 2 // 5
    plays = rec.timeline.start + at
    for i in range(0, len(pcm), chunk):
        if until is not None and plays >= rec.timeline.start + until:
            return
        clock.t = max(clock.t, plays - 0.25)
        rec.bot_audio(pcm[i : i + chunk], rate, plays)
        plays += len(pcm[i : i + chunk]) / 2 / rate


def recorded(tmp_path: Path, clock: FakeClock, encoder: Encoder, rate: int = 16000) -> CallRecorder:
    closed: list[Path] = []
    rec = CallRecorder(tmp_path / "call.ogg", clock=clock, call_id="c1", tags={"call_id": "c1"},
                       on_closed=closed.append, encoder=encoder, rate=rate)
    rec.closed = closed  # type: ignore[attr-defined]
    return rec


@pytest.fixture
def encoder() -> Encoder:
    return Encoder()


@pytest.mark.parametrize("line_rate", [16000, 8000])  # a browser call; a phone line's (narrowband, as heard)
def test_both_sides_where_they_were_heard(tmp_path: Path, encoder: Encoder, line_rate: int) -> None:
    clock = FakeClock()
    rec = recorded(tmp_path, clock, encoder, rate=line_rate)
    bot = say(BOT_LINE, voice="en+m3", rate=22050)
    caller = say(CALLER_CLIP, voice="en-us+f2")
    if line_rate == 8000:  # what the phone line carried, and what the file must be matched against
        caller = resample(resample(caller, 16000, 8000), 8000, 16000)
    feed_bot(rec, clock, bot, at=0.3, rate=22050)
    bot_seconds = len(bot) / 2 / 22050
    caller_at = 0.3 + bot_seconds + 0.8
    ended = feed_caller(rec, clock, caller if line_rate == 16000 else resample(caller, 16000, 8000), at=caller_at,
                        rate=line_rate)
    clock.t = rec.timeline.start + ended + 1.5
    rec.stop()
    assert encoder.drain()
    assert rec.closed == [tmp_path / "call.ogg"]  # type: ignore[attr-defined]

    got = decode(tmp_path / "call.ogg")
    assert got.tags.get("call_id") == "c1"
    assert abs(got.duration - (ended + 1.5)) < 0.1
    at, match = find(caller, got.channel("caller"))
    assert abs(at - caller_at) < 0.03 and match > 0.5, (at, match)
    at, match = find(resample(bot, 22050, 16000), got.channel("bot"))
    assert abs(at - 0.3) < 0.03 and match > 0.5, (at, match)
    # Each side holds only its own speaker: the other is (nearly) silent meanwhile.
    assert got.rms("bot", caller_at, ended) < 0.01 < got.rms("caller", caller_at, ended)
    assert got.rms("caller", 0.3, 0.3 + bot_seconds) < 0.01 < got.rms("bot", 0.3, 0.3 + bot_seconds)


def test_a_barge_in_cuts_the_bot_where_it_stopped_playing(tmp_path: Path, encoder: Encoder) -> None:
    clock = FakeClock()
    rec = recorded(tmp_path, clock, encoder)
    bot = say(BOT_LINE, rate=22050)
    assert len(bot) / 2 / 22050 > 2.0
    # The speaker had sent audio up to 250 ms ahead when the caller barged in at 1.5 s.
    feed_bot(rec, clock, bot, at=0.5, rate=22050, until=1.5 + 0.25)
    clock.t = rec.timeline.start + 1.5
    rec.bot_cut(clock.t)
    feed_caller(rec, clock, say("No wait", voice="en-us"), at=1.5)
    clock.t = rec.timeline.start + 4.0
    rec.stop()
    assert encoder.drain()

    got = decode(tmp_path / "call.ogg")
    assert got.rms("bot", 0.6, 1.45) > 0.02
    assert got.rms("bot", 1.52, 4.0) < 0.003  # the lead sent but never heard is not in the file
    assert abs(got.duration - 4.0) < 0.1


def test_push_to_talk_presses_keep_their_gaps(tmp_path: Path, encoder: Encoder) -> None:
    """The client sends nothing between presses: the second press sits at its own time,
    not right after the first."""
    clock = FakeClock()
    rec = recorded(tmp_path, clock, encoder)
    first, second = say("Yes I am", voice="en-gb-x-rp"), say("about fifty thousand a month", voice="en+f3")
    end_first = feed_caller(rec, clock, first, at=0.5)
    second_at = end_first + 2.0
    ended = feed_caller(rec, clock, second, at=second_at)
    clock.t = rec.timeline.start + ended + 0.5
    rec.stop()
    assert encoder.drain()
    got = decode(tmp_path / "call.ogg")
    assert abs(find(second, got.channel("caller"))[0] - second_at) < 0.03
    assert abs(find(first, got.channel("caller"))[0] - 0.5) < 0.03


def test_memory_holds_about_a_second_whatever_the_length(tmp_path: Path, encoder: Encoder) -> None:
    clock = FakeClock()
    rec = recorded(tmp_path, clock, encoder)
    clip = say("I live in Mumbai and I work for a company", voice="en")
    t = 0.0
    for _ in range(20):  # a minute and more of talk
        t = feed_caller(rec, clock, clip, at=t + 0.2)
        assert rec.timeline._len <= 16000 * 1.2  # undecided audio only, never the call
    rec.stop()
    assert encoder.drain()
    assert abs(decode(tmp_path / "call.ogg").duration - t) < 0.1


def test_audio_the_encoder_cannot_take_becomes_counted_silence(tmp_path: Path) -> None:
    from calls.metrics import RECORDING_DROPPED

    blocked = Encoder(max_blocks=0)  # every block of audio is refused
    clock = FakeClock()
    rec = recorded(tmp_path, clock, blocked)
    before = RECORDING_DROPPED._value.get()
    ended = feed_caller(rec, clock, say("Yes I am salaried"), at=0.2)
    clock.t = rec.timeline.start + ended + 0.5
    rec.stop()
    assert blocked.drain()
    got = decode(tmp_path / "call.ogg")
    assert abs(got.duration - (ended + 0.5)) < 0.1  # the timeline kept its length
    assert got.rms("caller", 0, got.duration) < 0.003
    assert RECORDING_DROPPED._value.get() - before == pytest.approx(ended + 0.5, abs=0.05)


def test_the_file_is_locked_while_written(tmp_path: Path, encoder: Encoder) -> None:
    clock = FakeClock()
    rec = recorded(tmp_path, clock, encoder)
    feed_caller(rec, clock, say("Yes"), at=0.1)
    assert encoder.drain()
    assert locked_by_writer(rec.path)
    rec.stop()
    assert encoder.drain()
    assert not locked_by_writer(rec.path)


WRITER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from calls.runtime.ports import SYSTEM_CLOCK
    from calls.runtime.recorder import CallRecorder
    from devtools.speech import say
    clip = say("Yes I am a salaried employee", voice="en-us")
    rec = CallRecorder(Path({path!r}), clock=SYSTEM_CLOCK, call_id="killed")
    start = SYSTEM_CLOCK.now()
    sent = 0
    while True:  # the clip over and over in real time, 20 ms frames
        for i in range(0, len(clip), 640):
            sent += 0.02
            delay = start + sent - SYSTEM_CLOCK.now()
            if delay > 0:
                time.sleep(delay)
            rec.caller_audio(clip[i:i + 640], 16000, SYSTEM_CLOCK.now())
            print(f"{{sent:.2f}}", flush=True)
""")


def test_a_worker_killed_mid_call_leaves_a_playable_file(tmp_path: Path) -> None:
    path = tmp_path / "killed.ogg"
    proc = subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT), path=str(path))],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        sent = 0.0
        assert proc.stdout is not None
        for line in proc.stdout:  # the child's own account of the audio it has fed
            sent = float(line)
            if sent >= 4.0:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    got = decode(path)  # the last page may be cut short: the decoder reads up to it
    # Up to HOLD_S undecided + a block + a page may be missing, nothing more.
    assert sent - 1.6 <= got.duration <= sent + 0.1, (sent, got.duration)
    assert got.rms("caller", 0.2, got.duration) > 0.01
    assert not locked_by_writer(path)  # the kernel dropped the dead writer's lock
