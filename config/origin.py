"""WebSocket origin validation that still lets non-browser clients in.

Browsers always send an Origin header, so a foreign Origin is refused (this is
what stops a hostile page from driving a call). Load generators, phone bridges
and server-side integrations send none; they are let through, since the signed
call token is what authorises a call.
"""
from __future__ import annotations

from channels.security.websocket import OriginValidator
from django.conf import settings


class OriginCheck(OriginValidator):
    def __init__(self, application) -> None:
        allowed = list(settings.WS_ALLOWED_ORIGINS) or list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not settings.WS_ALLOWED_ORIGINS:
            allowed += ["localhost", "127.0.0.1", "[::1]"]
        super().__init__(application, allowed)

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return super().valid_origin(parsed_origin)
