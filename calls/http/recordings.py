"""A call recording's file over HTTP: a signed link that expires, served with range requests.

Nobody reaches a recording in the local store without a link made by
`calls.recording_links.recording_url` (the dashboard's player, behind the
calls.listen_recording permission; a lead webhook's body), and such a link is good
for one file for a limited time. Players seek with HTTP range requests
(`Range: bytes=a-b`), so a long call starts playing at once.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import IO

from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_safe

from calls.http.errors import error
from calls.models import Call, recordings_storage
from calls.recording_links import read_link

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024


@require_safe
def recording_file(request: HttpRequest, token: str) -> HttpResponse:
    """The file a link was made for, while the link lasts (403 once it has expired)."""
    link = read_link(token)
    if link is None:
        return _missing()
    if int(link.get("x", 0)) < time.time():
        return error(403, "link_expired", "This recording link has expired; open the call's page again.")
    call = Call.objects.filter(pk=link.get("c")).only("pk", "recording").first()
    if call is None or not call.recording.name or call.recording.name != link.get("n"):
        return _missing()  # deleted (retention, forget_caller) or replaced
    storage = recordings_storage()
    try:
        size = storage.size(call.recording.name)
        f = storage.open(call.recording.name, "rb")
    except FileNotFoundError:
        return _missing()
    response = _ranged(request, f, size)
    response["Content-Type"] = "audio/ogg"
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = f'inline; filename="call-{call.pk}.ogg"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _missing() -> HttpResponse:
    return error(404, "not_found", "No such recording (the link is wrong, or the recording was deleted).")


def _ranged(request: HttpRequest, f: IO[bytes], size: int) -> HttpResponse:
    """The whole file (200), the one range asked for (206), or 416 for a range past its end.
    A Range header this does not serve (several ranges, other units) gets the whole file."""
    match = _RANGE.match(request.headers.get("Range", "").strip())
    if match is None or match.groups() == ("", ""):
        response = FileResponse(f)
        response["Content-Length"] = str(size)
        return response
    first, last = match.groups()
    if first == "":  # the last N bytes
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        f.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    response = StreamingHttpResponse(_part(f, start, end - start + 1), status=206)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(end - start + 1)
    return response


def _part(f: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    with f:
        f.seek(start)
        while length > 0:
            chunk = f.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
