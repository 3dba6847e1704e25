"""Bearer credentials on HTTP requests (call tokens, the outbound API key, the metrics token)."""
from __future__ import annotations

from django.http import HttpRequest


def bearer_token(request: HttpRequest) -> str:
    """The token of an `Authorization: Bearer <token>` header, or "" when there is none."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
