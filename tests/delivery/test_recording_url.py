"""The lead webhook's `recording_url` (protocol §5): null until the call's recording is
stored, then a fresh `call.ended` carries a signed link that expires (RECORDING_LINK_SECONDS)
and fetches the file; a `lead.qualified` is not sent twice. Real loopback receivers, the
real runner, the real uploader's `store()`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from standardwebhooks import Webhook

from calls.delivery.models import Delivery
from calls.outbox.items import Status
from calls.persistence import recordings
from calls.persistence.recordings import spool_path
from calls.runtime.ogg_writer import RATE, OggOpusFile
from tests.delivery.support import add_destination, ended_call, run_until_idle, start_call
from tests.recordings import decode

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def local_store(settings, tmp_path: Path) -> Path:
    settings.RECORDINGS_SPOOL_DIR = tmp_path / "spool"
    settings.PUBLIC_BASE_URL = "https://bot.example.com"
    settings.STORAGES = {**settings.STORAGES, "recordings": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path / "store"}}}
    return tmp_path / "store"


def spool_recording(call) -> Path:
    path = spool_path(str(call.pk))
    f = OggOpusFile(path, tags=recordings.recording_tags(str(call.pk)))
    f.write((np.random.default_rng(2).standard_normal((RATE, 2)) * 3000).astype(np.int16))
    f.close()
    return path


def test_the_recording_url_follows_once_the_file_is_stored(loan_bot, receivers, runner, client, settings):
    hook = receivers()
    crm = add_destination(loan_bot, hook.url, event_types=["call.ended", "lead.qualified"])
    call = ended_call(loan_bot)
    run_until_idle(runner)
    recordings.store(spool_recording(call))
    run_until_idle(runner)
    bodies = [Webhook(crm.secret).verify(r.body, r.headers) for r in hook.requests]
    assert [b["type"] for b in bodies] == ["call.ended", "lead.qualified", "call.ended"]
    first, _, second = (b["data"] for b in bodies)
    assert first["recording_url"] is None
    link = second["recording_url"]
    assert link.startswith("https://bot.example.com/api/recordings/") and link.endswith(".ogg")
    response = client.get(link.removeprefix("https://bot.example.com"))  # no session: the link is the key
    assert response.status_code == 200
    assert abs(decode(b"".join(response.streaming_content)).duration - 1.0) < 0.05
    assert {k: v for k, v in second.items() if k != "recording_url"} == {
        k: v for k, v in first.items() if k != "recording_url"}


def test_a_pending_call_ended_is_superseded_and_a_pending_lead_qualified_kept(loan_bot, receivers, runner):
    down = receivers(default=503)
    add_destination(loan_bot, down.url, event_types=["call.ended", "lead.qualified"])
    call = ended_call(loan_bot)  # both events wait for a destination that answers 503
    recordings.store(spool_recording(call))
    statuses = {(d.event.type, json.loads(d.event.payload)["data"]["recording_url"] is not None): d.status
                for d in Delivery.objects.select_related("event")}
    assert statuses == {("call.ended", False): Status.CANCELLED, ("lead.qualified", False): Status.PENDING,
                        ("call.ended", True): Status.PENDING}


def test_a_call_still_running_gets_its_link_with_its_end(loan_bot, receivers, runner):
    hook = receivers()
    add_destination(loan_bot, hook.url, event_types=["call.ended"])
    call = start_call(loan_bot)  # a killed worker's file, stored before the sweep ends the call
    recordings.store(spool_recording(call))
    assert not Delivery.objects.exists()
    from calls.persistence import lifecycle

    lifecycle.end_call(str(call.pk), "qualified", "all_answers_qualify")
    run_until_idle(runner)
    (body,) = [json.loads(r.body) for r in hook.requests]
    assert body["data"]["recording_url"].startswith("https://bot.example.com/api/recordings/")
