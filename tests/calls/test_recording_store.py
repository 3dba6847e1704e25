"""Recordings after the call: from the spool into the store (a local folder, or a real
S3-compatible server in its own process), retried while the store is down, joined
when a resumed call records a second part, deleted when their call is gone."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from bots.models import Bot
from calls.metrics import RECORDINGS_STORED
from calls.models import Call, recordings_storage
from calls.persistence import recordings
from calls.persistence.recordings import Uploader, spool_path
from calls.runtime.ogg_writer import RATE, OggOpusFile
from tests.recordings import decode
from tests.s3server import BUCKET, s3_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def folders(settings, tmp_path: Path) -> Path:
    settings.RECORDINGS_SPOOL_DIR = tmp_path / "spool"
    settings.RECORDINGS_DIR = tmp_path / "store"
    settings.STORAGES = {**settings.STORAGES, "recordings": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path / "store"}}}
    return tmp_path


def new_call() -> Call:
    return Call.objects.create(bot=Bot.objects.get(slug="quickrupee-loan"), caller_phone="+919800000001")


def spool_recording(call: Call, seconds: float, *, hz: float = 440, tags: dict[str, str] | None = None) -> Path:
    """A closed spool file of `seconds` with a tone on the caller's side."""
    path = spool_path(str(call.pk))
    f = OggOpusFile(path, tags=tags or recordings.recording_tags(str(call.pk)))
    t = np.arange(int(seconds * RATE)) / RATE
    tone = (np.sin(2 * np.pi * hz * t) * 8000).astype(np.int16)
    f.write(np.stack([tone, np.zeros_like(tone)], axis=1))
    f.close()
    return path


def failed() -> float:
    return RECORDINGS_STORED.labels("failed")._value.get()


def test_a_closed_recording_becomes_the_calls_file_in_the_local_store(folders: Path) -> None:
    call = new_call()
    path = spool_recording(call, 2.0)
    name = recordings.store(path)
    call.refresh_from_db()
    assert call.recording.name == name == f"{call.created_at:%Y/%m}/{call.pk}.ogg"
    assert (folders / "store" / name).is_file() and not path.exists()
    got = decode((folders / "store" / name).read_bytes())
    assert abs(got.duration - 2.0) < 0.05 and got.tags["call_id"] == str(call.pk)


def test_the_s3_store_over_the_wire(settings, s3_server) -> None:  # noqa: F811
    import httpx

    from calls.recording_links import recording_url

    settings.STORAGES = {**settings.STORAGES, "recordings": s3_server.storage_setting()}
    call = new_call()
    name = recordings.store(spool_recording(call, 1.5))
    head = s3_server.client().head_object(Bucket=BUCKET, Key=f"recordings/{name}")
    assert head["ContentLength"] > 1000
    call.refresh_from_db()
    url = recording_url(call, 120)
    assert "X-Amz-Expires=120" in url and "X-Amz-Signature=" in url  # the store's own signed link
    part = httpx.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100 and part.content.startswith(b"OggS")
    whole = httpx.get(url)
    assert abs(decode(whole.content).duration - 1.5) < 0.05
    # (moto does not check signatures by default; the link's expiry is the store's to enforce)


def test_nothing_is_lost_while_the_store_is_down(settings, s3_server, caplog) -> None:  # noqa: F811
    settings.STORAGES = {**settings.STORAGES, "recordings": s3_server.storage_setting()}
    call = new_call()
    path = spool_recording(call, 1.0)
    up = Uploader()
    s3_server.stop()  # the store goes down before the call ends
    before = failed()
    up._ready.append(path)  # noqa: SLF001 (as stored_later does, without starting the thread)
    delays = []
    for _ in range(4):  # four rounds of retries, each further apart (time given, not waited)
        assert up.upload_due(float("inf")) == 0
        delays.append(up._retry_at[path][1])  # noqa: SLF001
        assert path.exists() and up.waiting() == 1
    assert delays == [2.0, 4.0, 8.0, 16.0]
    assert failed() - before == 4
    assert f"recording {path.name} not stored" in caplog.text
    call.refresh_from_db()
    assert not call.recording
    s3_server.start()  # back (an empty store: its bucket made again)
    assert up.upload_due(float("inf")) == 1
    call.refresh_from_db()
    assert call.recording.name and not path.exists() and up.waiting() == 0
    assert decode(recordings_storage().open(call.recording.name).read()).duration == pytest.approx(1.0, abs=0.05)


def test_a_resumed_calls_second_part_is_joined_with_the_gap_between(folders: Path) -> None:
    call = new_call()
    first = spool_recording(call, 2.0, tags={"call_id": str(call.pk), "started": "2026-12-07T10:00:00.000+00:00"})
    recordings.store(first)
    second = spool_recording(call, 1.0, hz=880, tags={"call_id": str(call.pk), "started": "2026-12-07T10:00:05.000+00:00"})
    recordings.store(second)
    call.refresh_from_db()
    stored = list((folders / "store").rglob("*.ogg"))
    assert [p.name for p in stored] == [Path(call.recording.name).name]  # one file; the first part's was replaced
    got = decode(stored[0].read_bytes())
    assert abs(got.duration - 6.0) < 0.1  # 2 s, 3 s of silence, 1 s
    assert got.rms("caller", 2.3, 4.7) < 0.003 < got.rms("caller", 5.2, 5.8)


def test_a_recording_whose_call_is_gone_is_deleted(folders: Path) -> None:
    call = new_call()
    path = spool_recording(call, 0.5)
    call.delete()
    assert recordings.store(path) == ""
    assert not path.exists() and not list((folders / "store").rglob("*.ogg"))


def test_the_sweep_takes_files_left_behind_but_not_live_ones(folders: Path) -> None:
    left = spool_recording(new_call(), 0.5)  # a killed worker's file: closed by the kernel, lock gone
    old = time.time() - 60
    os.utime(left, (old, old))
    live_call = new_call()
    live = OggOpusFile(spool_path(str(live_call.pk)))  # a live call's file: locked
    os.utime(live.path, (old, old))
    fresh = spool_recording(new_call(), 0.5)  # just created: its writer may not hold its lock yet
    up = Uploader()
    up._sweep()  # noqa: SLF001
    assert up._ready == [left]  # noqa: SLF001
    assert up.upload_due(time.monotonic()) == 1
    assert not left.exists() and live.path.exists() and fresh.exists()
    live.close()
