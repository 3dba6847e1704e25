"""Signed, expiring links to a call's recording: made here, checked by `calls.http.recordings`.

A leaf module (like `calls.models`) so that every place that hands out a link can make
one: the dashboard's player (RECORDING_URL_SECONDS), the lead webhook's body
(`calls.delivery.events`, RECORDING_LINK_SECONDS). A link is good for one stored file
until it expires. In an S3-compatible store it is the store's own pre-signed URL (the
bucket stays private and serves ranges itself); in the local folder it is the server's
`/api/recordings/<token>.ogg`, whose token names the call, the file and the moment the
link expires, signed with SECRET_KEY.
"""
from __future__ import annotations

import time
from typing import Any

from django.core import signing
from django.urls import reverse

from calls.models import Call, recordings_storage

_SALT = "calls.recording-link.v1"


def recording_url(call: Call, seconds: int, *, absolute_base: str = "") -> str:
    """A link to `call`'s recording that works for `seconds` ("" when it has none).
    `absolute_base` (e.g. PUBLIC_BASE_URL) makes a local link absolute."""
    name = call.recording.name
    if not name:
        return ""
    storage = recordings_storage()
    if presigns(storage):
        return storage.url(name, expire=seconds)
    token = signing.dumps({"c": str(call.pk), "n": name, "x": int(time.time()) + seconds}, salt=_SALT, compress=False)
    return absolute_base + reverse("api:recording-file", kwargs={"token": token})


def read_link(token: str) -> dict[str, Any] | None:
    """What a local link's token says (`c` the call, `n` the file, `x` when it expires),
    or None when it was not made here (or was altered)."""
    try:
        link = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return None
    return link if isinstance(link, dict) else None


def presigns(storage: Any) -> bool:
    """An S3-compatible store signs its own URLs (django-storages' S3Storage)."""
    return bool(getattr(storage, "querystring_auth", False)) and hasattr(storage, "bucket_name")
