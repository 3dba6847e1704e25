"""WebSocket origin checks.

Browsers always send an Origin header, so a foreign Origin is refused (this is
what stops a hostile page from driving a call, or reading the dashboard with a
staff member's cookies). Clients that are not browsers (load generators, phone
bridges, server-side integrations) send none; on the call socket they are let
through, since the signed call token is what authorises a call.

- `OriginCheck` (every socket): the page's own origin (Origin matches Host),
  WS_ALLOWED_ORIGINS, or else ALLOWED_HOSTS. A `*` never counts: with
  ALLOWED_HOSTS=* only the page's own origin is accepted.
- `SameOriginOnly` (the dashboard socket, which carries callers' names and
  phones): the page's own origin and nothing else, and an Origin is required.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def same_origin(origin: str, host: str | None) -> bool:
    """True when `origin` (scheme://host[:port]) names the host the socket was opened on."""
    if not host or not origin or origin == "null":
        return False
    parsed = urlparse(origin)
    if parsed.scheme not in _DEFAULT_PORTS or not parsed.hostname:
        return False
    served = urlparse("//" + host)
    if not served.hostname:
        return False
    try:
        origin_port = parsed.port or _DEFAULT_PORTS[parsed.scheme]
        host_port = served.port
    except ValueError:  # a port that is not a number
        return False
    if host_port is None:  # Host without a port: the default port of the origin's scheme
        host_port = _DEFAULT_PORTS[parsed.scheme]
    return parsed.hostname == served.hostname.lower() and origin_port == host_port


def allowed_origins() -> list[str]:
    listed = list(settings.WS_ALLOWED_ORIGINS) or list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not settings.WS_ALLOWED_ORIGINS:
        listed += ["localhost", "127.0.0.1", "[::1]"]
    return [pattern for pattern in listed if pattern.strip() and pattern.strip() != "*"]


class OriginCheck(OriginValidator):
    def __init__(self, application) -> None:
        super().__init__(application, allowed_origins())

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            origin = _header(scope, b"origin")
            if origin is not None and not (same_origin(origin, _header(scope, b"host")) or self._listed(origin)):
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)

    def _listed(self, origin: str) -> bool:
        try:
            parsed = urlparse(origin.lower())
        except ValueError:
            return False
        return parsed.hostname is not None and self.validate_origin(parsed)


class SameOriginOnly:
    """ASGI wrapper: accept a WebSocket only from a page of this very site."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not same_origin(_header(scope, b"origin") or "", _header(scope, b"host")):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
