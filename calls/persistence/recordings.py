"""Call recordings after the call: from this host's spool to the recordings store, and back out.

A call's recording is written by `calls.runtime.recorder` into RECORDINGS_SPOOL_DIR
while the call runs (`spool_path`). When it is closed, `uploader.stored_later(path)`
hands it to this process's uploader thread, which saves it through Django's storage
API (STORAGES["recordings"]: a local folder, or an S3-compatible bucket) as the
call's `recording` and then deletes the spool file.

Nothing is lost when the store is down: the file stays in the spool and is tried
again with a growing delay (RETRY_MIN_S doubling to RETRY_MAX_S) for as long as it
takes; every failure is logged with the call id and counted
(`voicebot_recordings_stored{result="failed"}`), and the files waiting are a
gauge. Every SWEEP_S the uploader also looks through the spool for files nobody is
writing (their lock is free, `calls.runtime.ogg_writer.locked_by_writer`): a
killed worker's file up to its last page, or one a stopped worker left behind.

A call picked up again after its socket dropped (protocol §8) records its new
part into a file of its own (`<call>.2.ogg`, ...). Each part is stored as it
comes: a part whose call already has a recording is joined to it (decoded and
encoded again, the time between the parts as silence: the parts' OpusTags say
when each began), so a call has one file.
"""
from __future__ import annotations

import fcntl
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files import File
from django.db import close_old_connections, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from calls import metrics
from calls.delivery.events import record_recording_stored
from calls.models import Call, recordings_storage
from calls.runtime.ports import CallContext, Clock

if TYPE_CHECKING:
    from calls.runtime.recorder import CallRecorder

log = logging.getLogger(__name__)

SWEEP_S = 30.0  # how often the spool is looked through for files left behind
SETTLED_S = 2.0  # a spool file younger than this is never swept (its writer may not hold its lock yet)
RETRY_MIN_S = 2.0
RETRY_MAX_S = 60.0
_NAME = re.compile(r"^(?P<call>[0-9a-f-]{36})(?:\.(?P<part>\d+))?\.ogg$")


def spool_path(call_id: str) -> Path:
    """A new spool file for call `call_id`: `<id>.ogg`, or `<id>.<n>.ogg` for a later part."""
    folder = Path(settings.RECORDINGS_SPOOL_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    path, part = folder / f"{call_id}.ogg", 1
    while path.exists():
        part += 1
        path = folder / f"{call_id}.{part}.ogg"
    return path


def spooled(call_id: str) -> list[Path]:
    """The spool files of a call on this host (not yet stored)."""
    folder = Path(settings.RECORDINGS_SPOOL_DIR)
    return sorted(folder.glob(f"{call_id}.ogg")) + sorted(folder.glob(f"{call_id}.*.ogg"))


def start_recording(ctx: CallContext, clock: Clock) -> CallRecorder | None:
    """The recorder of a call that is recorded (its script says so, and the caller has not
    refused before a dropped line), writing to a new spool file; None otherwise."""
    from calls.runtime.ogg_writer import PHONE_RATE, RATE
    from calls.runtime.recorder import CallRecorder

    resumed = ctx.resumed
    if not ctx.script.record or (resumed is not None and resumed.consent is False):
        return None
    return CallRecorder(spool_path(ctx.call_id), clock=clock, call_id=ctx.call_id, tags=recording_tags(ctx.call_id),
                        on_closed=uploader.stored_later, rate=PHONE_RATE if ctx.channel == "phone" else RATE)


def recording_tags(call_id: str) -> dict[str, str]:
    """What a recording file says about itself (OpusTags): its call and when it began."""
    return {"call_id": call_id, "started": timezone.now().isoformat(timespec="milliseconds"),
            "encoder": "voicebot"}


class StoreFailed(Exception):
    """The recordings store or the database could not take a file just now."""


def store(path: Path) -> str:
    """Move one closed spool file into the store as its call's recording; returns the
    stored name ("" when its call no longer exists: the file is deleted). Raises
    `StoreFailed` (the spool file stays) when the store or the database fails."""
    match = _NAME.match(path.name)
    if match is None:
        raise ValueError(f"not a recording spool file: {path.name}")
    with _taken(path) as taken:
        if not taken:  # being written, or another process is storing it
            return ""
        return _store(path, match["call"])


@contextmanager
def _taken(path: Path) -> Iterator[bool]:
    """Hold `path`'s lock (the writer's, `calls.runtime.ogg_writer`): True when this process
    has it and the file is still there, False when someone else holds it or it is gone."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        yield same
    finally:
        os.close(fd)


def _store(path: Path, call_id: str) -> str:
    try:
        call = Call.objects.filter(pk=call_id).first()
        if call is None:  # forgotten (forget_caller) or pruned meanwhile
            path.unlink(missing_ok=True)
            metrics.recording_upload("orphaned")
            return ""
        storage = recordings_storage()
        previous = call.recording.name
        if previous:
            joined = _joined(storage, previous, path)
            try:
                name = storage.save(call.recording.field.generate_filename(call, path.name), File(joined.open("rb")))
            finally:
                joined.unlink(missing_ok=True)
        else:
            with path.open("rb") as f:
                name = storage.save(call.recording.field.generate_filename(call, path.name), File(f))
        with transaction.atomic():
            stored = Call.objects.select_for_update().select_related("bot").filter(pk=call_id).first()
            if stored is not None:
                stored.recording.name = name
                stored.save(update_fields=["recording"])
                record_recording_stored(stored)  # the lead webhook's recording_url (protocol §5)
        if stored is None:
            storage.delete(name)  # the call went while its file was uploading
            name = ""
        elif previous:
            storage.delete(previous)
    except Exception as exc:
        raise StoreFailed(f"{type(exc).__name__}: {exc}") from exc
    path.unlink(missing_ok=True)
    metrics.recording_upload("stored" if name else "orphaned")
    return name


def _joined(storage, previous: str, part: Path) -> Path:
    """The stored recording and a later part of the same call, as one new file."""
    from calls.runtime.ogg_writer import RATE, OggOpusFile

    with storage.open(previous, "rb") as f:
        first = _read(f)
    second = _read(part.open("rb"))
    gap = 0.0
    if first[1] is not None and second[1] is not None:
        gap = max(0.0, (second[1] - first[1]).total_seconds() - len(first[0]) / RATE)
    out = Path(settings.RECORDINGS_SPOOL_DIR) / f"joining-{uuid.uuid4().hex}.ogg"  # not a spool name: never swept
    import numpy as np

    writer = OggOpusFile(out, tags=first[2])
    writer.write(first[0])
    writer.write(np.zeros((int(gap * RATE), 2), dtype=np.int16))
    writer.write(second[0])
    writer.close()
    return out


def _read(f) -> tuple:
    """(samples (n, 2) int16 at RATE, when it began or None, its tags) of an open recording."""
    import av
    import numpy as np

    from calls.runtime.ogg_writer import RATE

    with f, av.open(f) as container:
        stream = container.streams.audio[0]
        tags = {**container.metadata, **stream.metadata}
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=RATE)
        parts = [x.to_ndarray().reshape(-1, 2) for fr in container.decode(stream) for x in resampler.resample(fr)]
        parts += [x.to_ndarray().reshape(-1, 2) for x in resampler.resample(None)]
    samples = np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int16)
    try:
        began = datetime.fromisoformat(tags["started"])
    except (KeyError, ValueError):
        began = None
    return samples, began, tags


def delete_recordings(calls: QuerySet[Call]) -> tuple[int, list[str]]:
    """Delete the recordings of `calls` from the store (and any still in this host's spool),
    clearing each call's `recording`. Returns (files deleted, ids of calls whose stored
    file could not be deleted: the store failed; their `recording` is kept for a retry)."""
    storage = recordings_storage()
    deleted, failed = 0, []
    for call_id, name in calls.values_list("pk", "recording"):
        for path in spooled(str(call_id)):
            path.unlink(missing_ok=True)
            deleted += 1
        if not name:
            continue
        try:
            storage.delete(name)
        except FileNotFoundError:
            pass
        except Exception as exc:
            log.warning("recording of call %s not deleted: %s", call_id, exc, extra={"event": "recording.delete_failed"})
            failed.append(str(call_id))
            continue
        Call.objects.filter(pk=call_id).update(recording="")
        deleted += 1
    return deleted, failed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


class Uploader:
    """One thread per process moving closed spool files into the store, retrying until it can."""

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._ready: list[Path] = []  # closed by this process: stored at once
        self._retry_at: dict[Path, tuple[float, float]] = {}  # path -> (next try, current delay)
        self._thread: threading.Thread | None = None

    def stored_later(self, path: Path) -> None:
        """A closed spool file (called from the recording encoder's thread)."""
        with self._lock:
            self._ready.append(path)
        self.start()
        self._wake.set()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="recording-uploader", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        last_sweep = 0.0
        while True:
            now = time.monotonic()
            if now - last_sweep >= SWEEP_S:
                last_sweep = now
                self._sweep()
            close_old_connections()
            try:
                self.upload_due(now)
            finally:
                connection.close()  # this thread's own connection; the next round opens a fresh one
            self._wake.wait(self._next_wait(time.monotonic(), last_sweep))
            self._wake.clear()

    def _sweep(self) -> None:
        from calls.runtime.ogg_writer import locked_by_writer

        folder = Path(settings.RECORDINGS_SPOOL_DIR)
        settled = time.time() - SETTLED_S
        found = [
            p for p in (folder.glob("*.ogg") if folder.is_dir() else [])
            if _NAME.match(p.name) and _mtime(p) < settled and not locked_by_writer(p)
        ]
        with self._lock:
            for path in found:
                if path not in self._retry_at and path not in self._ready:
                    self._ready.append(path)

    def upload_due(self, now: float) -> int:
        """Try every file that is due; returns how many were stored."""
        with self._lock:
            due = self._ready + [p for p, (at, _) in self._retry_at.items() if at <= now]
            self._ready = []
        stored = 0
        for path in dict.fromkeys(due):
            if not path.exists():
                self._retry_at.pop(path, None)
                continue
            try:
                name = store(path)
            except StoreFailed as exc:
                _, delay = self._retry_at.get(path, (0.0, RETRY_MIN_S / 2))
                delay = min(RETRY_MAX_S, delay * 2)
                self._retry_at[path] = (time.monotonic() + delay, delay)
                log.warning("recording %s not stored (%s); trying again in %.0f s", path.name, exc, delay,
                            extra={"event": "recording.store_failed", "call_id": path.name.split(".")[0]})
                metrics.recording_upload("failed", self.waiting())
                continue
            self._retry_at.pop(path, None)
            stored += 1
            if name:
                log.info("recording stored as %s", name,
                         extra={"event": "recording.stored", "call_id": path.name.split(".")[0]})
        metrics.RECORDINGS_WAITING.set(self.waiting())
        return stored

    def waiting(self) -> int:
        return len(self._retry_at) + len(self._ready)

    def _next_wait(self, now: float, last_sweep: float) -> float:
        until = [last_sweep + SWEEP_S] + [at for at, _ in self._retry_at.values()]
        return max(0.05, min(until) - now)


uploader = Uploader()
