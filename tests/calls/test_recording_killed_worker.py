"""Done-when (recordings): a worker killed mid-call (SIGKILL, no drain) leaves a recording
that plays up to its last page, and the worker's next start moves it into the store.

Real `python -m config.server` processes on loopback (devtools/liveserver.py) with
RECORD_CALLS=1 and the bot's lines paced as they play; typed answers over a real WebSocket."""
from __future__ import annotations

import asyncio
import secrets
import time
from datetime import datetime

import pytest

from devtools.callclient import CallClient
from devtools.liveserver import Worker
from devtools.servers import Network
from devtools.typed_call import LOAN_BOT
from tests.recordings import decode

# `speech`: the worker's bot speaks through espeak-ng; server processes, not in the quick check.
pytestmark = pytest.mark.speech

WORKER = {"WORKER_ID": "recording-kill-worker", "RECORD_CALLS": "1", "PLAYBACK_LEAD_MS": "250",
          "SECRET_KEY": secrets.token_urlsafe(50)}


async def test_a_killed_workers_recording_plays_and_is_stored_at_its_next_start(tmp_path):
    worker = await Worker(tmp_path, **WORKER).ready()
    restarted: Worker | None = None
    try:
        call = await CallClient.start(LOAN_BOT, "push_to_talk", server=Network(worker.url))
        await call.say_text("yes that is fine")  # once the greeting and the consent line have been said
        await call.until("bot.speech.ended")  # the first question, played out
        killed_at = time.time()
        worker.kill()  # SIGKILL mid-call: no drain, no last page

        spooled = tmp_path / "recording-spool" / f"{call.call_id}.ogg"
        got = decode(spooled.read_bytes())  # playable as it was left
        talked = killed_at - datetime.fromisoformat(got.tags["started"]).timestamp()  # since the call began
        # At most the undecided audio, a block and a page are missing.
        assert talked - 2.0 < got.duration <= talked, (talked, got.duration)
        assert got.rms("bot", 0.5, got.duration - 0.5) > 0.005  # the bot's lines are in it

        restarted = await Worker(tmp_path, port=worker.port, **WORKER).ready()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while spooled.exists() or not list((tmp_path / "recordings").rglob(f"{call.call_id}.ogg")):
            assert loop.time() < deadline, "the restarted worker did not store the recording"
            await asyncio.sleep(0.1)
        (stored,) = (tmp_path / "recordings").rglob(f"{call.call_id}.ogg")
        assert abs(decode(stored.read_bytes()).duration - got.duration) < 0.01
        assert restarted.query("SELECT recording FROM calls_call WHERE id = ?", call.call_id.replace("-", ""))[0][0]
    finally:
        worker.kill()
        if restarted is not None:
            restarted.kill()
