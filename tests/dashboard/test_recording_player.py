"""The call page's recording player: behind `calls.listen_recording` (403 without it), a
link that expires, range requests a player seeks with, transcript lines that seek."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth.models import Group, Permission

from calls.models import Turn
from calls.persistence import recordings
from calls.persistence.recordings import spool_path
from calls.runtime.ogg_writer import RATE, OggOpusFile
from tests.recordings import decode

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def local_store(settings, tmp_path: Path) -> Path:
    settings.RECORDINGS_SPOOL_DIR = tmp_path / "spool"
    settings.STORAGES = {**settings.STORAGES, "recordings": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path / "store"}}}
    return tmp_path / "store"


@pytest.fixture
def recorded(call):
    path = spool_path(str(call.pk))
    f = OggOpusFile(path, tags=recordings.recording_tags(str(call.pk)))
    f.write((np.random.default_rng(1).standard_normal((3 * RATE, 2)) * 3000).astype(np.int16))
    f.close()
    recordings.store(path)
    Turn.objects.create(call=call, index=0, speaker="bot", text="Hello. This call is recorded.", at_ms=0)
    Turn.objects.create(call=call, index=1, speaker="caller", text="yes", at_ms=7250)
    call.refresh_from_db()
    return call


def agent(django_user_model, *, listens: bool):
    user = django_user_model.objects.create_user(username=f"agent-{listens}", password="a-long-pass-42!", is_staff=True)
    user.groups.add(Group.objects.get(name="Sales agents"))
    if listens:
        user.user_permissions.add(Permission.objects.get(codename="listen_recording", content_type__app_label="calls"))
    return user


def test_an_agent_without_the_permission_gets_403_and_no_player(client, django_user_model, recorded):
    client.force_login(agent(django_user_model, listens=False))
    page = client.get(f"/dashboard/calls/{recorded.pk}/").content.decode()
    assert "<audio" not in page and "Can listen to call recordings" in page and "data-seek" not in page
    assert client.get(f"/dashboard/calls/{recorded.pk}/recording/").status_code == 403


def test_the_permission_is_not_part_of_the_sales_agents_group() -> None:
    assert not Group.objects.get(name="Sales agents").permissions.filter(codename="listen_recording").exists()


def test_an_agent_with_it_plays_the_file_through_a_link_that_expires(client, django_user_model, recorded,
                                                                     local_store, settings, monkeypatch):
    client.force_login(agent(django_user_model, listens=True))
    page = client.get(f"/dashboard/calls/{recorded.pk}/").content.decode()
    assert f'<audio id="recording-player" controls preload="metadata" src="/dashboard/calls/{recorded.pk}/recording/"' in page
    assert re.search(r'data-seek="7250"[^>]*>0:07<', page)  # the caller's line seeks to 7.25 s
    redirect = client.get(f"/dashboard/calls/{recorded.pk}/recording/")
    assert redirect.status_code == 302 and redirect["Cache-Control"] == "private, no-store"
    link = redirect["Location"]
    assert link.startswith("/api/recordings/") and link.endswith(".ogg")

    whole = client.get(link)
    assert whole.status_code == 200 and whole["Content-Type"] == "audio/ogg" and whole["Accept-Ranges"] == "bytes"
    body = b"".join(whole.streaming_content)
    assert body == (local_store / recorded.recording.name).read_bytes()
    assert abs(decode(body).duration - 3.0) < 0.05
    client.logout()  # the link is the capability: it works without a session, while it lasts
    part = client.get(link, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 100-199/{len(body)}"
    assert b"".join(part.streaming_content) == body[100:200]
    tail = client.get(link, HTTP_RANGE="bytes=-50")
    assert b"".join(tail.streaming_content) == body[-50:]
    open_ended = client.get(link, HTTP_RANGE="bytes=4000-")
    assert b"".join(open_ended.streaming_content) == body[4000:]
    past = client.get(link, HTTP_RANGE=f"bytes={len(body)}-")
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{len(body)}"

    import calls.http.recordings as links  # the view reads the clock through its module

    later = links.time.time() + settings.RECORDING_URL_SECONDS + 1
    monkeypatch.setattr(links.time, "time", lambda: later)
    assert client.get(link).status_code == 403  # expired


def test_a_tampered_or_stale_link_finds_nothing(client, django_user_model, recorded, local_store):
    client.force_login(agent(django_user_model, listens=True))
    link = client.get(f"/dashboard/calls/{recorded.pk}/recording/")["Location"]
    assert client.get(link.replace("/api/recordings/", "/api/recordings/x")).status_code == 404
    recorded.recording.delete(save=True)  # deleted (retention, forget_caller): the old link dies with it
    assert client.get(link).status_code == 404
    assert client.get(f"/dashboard/calls/{recorded.pk}/recording/").status_code == 404


def test_a_call_the_caller_did_not_let_us_record(client, staff_user, call):
    call.recording_consent = False
    call.save()
    client.force_login(staff_user)
    page = client.get(f"/dashboard/calls/{call.pk}/").content.decode()
    assert "did not agree to be recorded" in page and "<audio" not in page
