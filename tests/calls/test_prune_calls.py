"""`manage.py prune_calls`: old calls go, recent ones stay; --transcripts-only keeps calls but drops the caller's words."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from calls.models import Answer, Call, LatencySample, Turn

pytestmark = pytest.mark.django_db


def make_call(bot, days_ago: int, said: str) -> Call:
    call = Call.objects.create(bot=bot, outcome="qualified", status="ended")
    Turn.objects.create(call=call, index=0, speaker="bot", text="Are you salaried?")
    Turn.objects.create(call=call, index=1, speaker="caller", text=said)
    Answer.objects.create(call=call, question_key="salaried", question_text="Are you salaried?",
                          transcript=said, value=True, understood=True, qualifies=True)
    LatencySample.objects.create(call=call, turn=1, stage="response", ms=300.0)
    Call.objects.filter(pk=call.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return call


@pytest.fixture
def history(loan_bot):
    return {
        "old": [make_call(loan_bot, 120, f"yes I am salaried {i}") for i in range(5)],
        "recent": make_call(loan_bot, 10, "yes at Infosys"),
    }


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("prune_calls", *args, stdout=out)
    return out.getvalue()


def test_old_calls_and_everything_in_them_are_deleted(history):
    out = run("--older-than", "90d", "--batch", "2")  # several batches
    assert "Deleted 5 calls, 10 turns, 5 answers, 5 latency samples" in out
    assert list(Call.objects.values_list("pk", flat=True)) == [history["recent"].pk]
    assert Turn.objects.count() == 2 and Answer.objects.count() == 1 and LatencySample.objects.count() == 1


def test_dry_run_changes_nothing(history):
    out = run("--older-than", "90d", "--dry-run")
    assert "Would delete 5 calls" in out
    assert Call.objects.count() == 6


def test_transcripts_only_keeps_calls_answers_and_latency(history):
    out = run("--older-than", "90d", "--transcripts-only", "--batch", "2")
    assert "Blanked 5 caller turns and 5 answer transcripts" in out
    assert Call.objects.count() == 6 and LatencySample.objects.count() == 6
    old_ids = [c.pk for c in history["old"]]
    assert not Turn.objects.filter(call_id__in=old_ids, speaker="caller").exclude(text="").exists()
    assert Turn.objects.filter(call_id__in=old_ids, speaker="bot", text="Are you salaried?").count() == 5
    old_answers = Answer.objects.filter(call_id__in=old_ids)
    assert all(a.transcript == "" and a.value is True and a.qualifies for a in old_answers)
    recent = history["recent"]
    assert Turn.objects.get(call=recent, speaker="caller").text == "yes at Infosys"
    assert Answer.objects.get(call=recent).transcript == "yes at Infosys"
    assert "Blanked 0 caller turns" in run("--older-than", "90d", "--transcripts-only")  # idempotent


def test_transcripts_only_dry_run(history):
    assert "Would blank 5 caller turns and 5 answer transcripts" in run("--older-than", "90d", "--transcripts-only", "--dry-run")
    assert Answer.objects.exclude(transcript="").count() == 6


@pytest.mark.parametrize("bad", ["soon", "-5d", "2999-01-01"])
def test_bad_cutoffs_are_errors(db, bad):
    with pytest.raises(CommandError):
        run("--older-than", bad)
