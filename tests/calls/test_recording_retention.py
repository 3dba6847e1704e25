"""Recordings leave with their calls: retention (RECORDING_RETENTION_DAYS, prune_calls) and
`forget_caller` (one phone number's calls, recordings, transcripts and answers), also
while the store is down (nothing half-deleted: the call stays for the next run)."""
from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from calls.models import Answer, Call, LatencySample, Turn
from calls.persistence import recordings
from calls.persistence.recordings import spool_path
from calls.runtime.ogg_writer import RATE, OggOpusFile
from tests.s3server import s3_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def store(settings, tmp_path: Path) -> Path:
    settings.RECORDINGS_SPOOL_DIR = tmp_path / "spool"
    settings.RECORDING_RETENTION_DAYS = 90
    settings.STORAGES = {**settings.STORAGES, "recordings": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path / "store"}}}
    return tmp_path / "store"


def recorded_call(bot, *, phone: str = "+91 98765 43210", days_ago: int = 0, stored: bool = True) -> Call:
    call = Call.objects.create(bot=bot, caller_phone=phone, status="ended", outcome="qualified")
    Call.objects.filter(pk=call.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    call.refresh_from_db()
    Turn.objects.create(call=call, index=0, speaker="bot", text="Are you salaried?")
    Turn.objects.create(call=call, index=1, speaker="caller", text="yes I am")
    Answer.objects.create(call=call, question_key="salaried", question_text="Are you salaried?",
                          transcript="yes I am", value=True, understood=True, qualifies=True)
    LatencySample.objects.create(call=call, turn=1, stage="response", ms=300.0)
    path = spool_path(str(call.pk))
    f = OggOpusFile(path)
    f.write(np.zeros((RATE // 2, 2), dtype=np.int16))
    f.close()
    if stored:
        recordings.store(path)
        call.refresh_from_db()
    return call


def files(store: Path) -> list[str]:
    return sorted(p.name for p in store.rglob("*.ogg"))


def run(command: str, *args: str) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def test_recordings_past_retention_go_and_their_calls_stay(loan_bot, store):
    old, recent = recorded_call(loan_bot, days_ago=100), recorded_call(loan_bot, days_ago=10)
    assert "Would delete 1 recordings older than 90 days" in run("prune_calls", "--older-than", "365d", "--dry-run")
    assert len(files(store)) == 2
    out = run("prune_calls", "--older-than", "365d")
    assert "Deleted 1 recordings older than 90 days" in out
    assert files(store) == [f"{recent.pk}.ogg"]
    old.refresh_from_db()
    assert not old.recording and old.turns.count() == 2  # the call and its transcript stay


def test_pruned_calls_take_their_files(loan_bot, store):
    old, recent = recorded_call(loan_bot, days_ago=40), recorded_call(loan_bot, days_ago=10)
    out = run("prune_calls", "--older-than", "30d")
    assert "Deleted 1 calls, 2 turns, 1 answers, 1 latency samples, 1 recordings" in out
    assert files(store) == [f"{recent.pk}.ogg"] and not Call.objects.filter(pk=old.pk).exists()


def test_forget_caller_removes_everything_of_one_number_and_says_what(loan_bot, renovation_bot, store):
    mine = [recorded_call(loan_bot, phone="+91 98765 43210"), recorded_call(renovation_bot, phone="+919876543210"),
            recorded_call(loan_bot, phone="(+91) 98765-43210", stored=False)]  # still in the spool
    other = recorded_call(loan_bot, phone="+91 98765 43211")
    assert "Would remove" in run("forget_caller", "+91", "98765", "43210", "--dry-run")
    assert Call.objects.count() == 4
    out = run("forget_caller", "+91 98765 43210")
    assert out.strip() == ("Removed, for +91 98765 43210: 3 calls, 2 recordings, 6 transcript lines, "
                           "3 answers, 3 latency samples.")
    assert list(Call.objects.values_list("pk", flat=True)) == [other.pk]
    assert files(store) == [f"{other.pk}.ogg"]
    assert not list(Path(recordings.settings.RECORDINGS_SPOOL_DIR).glob("*.ogg"))
    assert not Turn.objects.filter(call_id__in=[c.pk for c in mine]).exists()
    assert "No calls from or to +15550100" in run("forget_caller", "+15550100")


def test_forget_caller_refuses_what_is_not_a_number(db):
    with pytest.raises(CommandError, match="not a phone number"):
        run("forget_caller", "robert'); drop table")


def test_a_store_that_is_down_keeps_the_call_for_the_next_run(loan_bot, settings, s3_server):  # noqa: F811
    settings.STORAGES = {**settings.STORAGES, "recordings": s3_server.storage_setting()}
    call = recorded_call(loan_bot)
    assert call.recording.name
    s3_server.stop()
    with pytest.raises(CommandError, match="could not be deleted"):
        run("forget_caller", "+91 98765 43210")
    call.refresh_from_db()  # nothing half-done: the call and its recording reference are there
    assert call.recording.name and call.turns.count() == 2
    s3_server.start()  # an empty store now: the file is gone, the call can go
    assert "Removed, for +91 98765 43210: 1 calls, 1 recordings" in run("forget_caller", "+91 98765 43210")
    assert not Call.objects.exists()
