"""What a public caller is told when the server fails: a generic line and an error id.

The exception text (paths, SQL, vendor messages) goes to the log under the same
id, so an operator can find the detail a caller reports and the caller learns
nothing about the server's insides.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

log = logging.getLogger("calls.errors")


def new_error_id() -> str:
    return uuid.uuid4().hex[:12]


def log_failure(what: str, *, logger: logging.Logger = log, exc_info: bool = True) -> str:
    """Log the exception being handled under a new error id and return the id."""
    error_id = new_error_id()
    logger.error("%s [error id %s]", what, error_id, exc_info=exc_info)
    return error_id


def public_message(text: str, error_id: str) -> str:
    """`text` (generic, says nothing of the cause) with the id a caller can quote."""
    return f"{text} (error id {error_id})"


class ApiErrorMiddleware:
    """An unexpected exception under /api/ answers JSON 500 with an error id, not an HTML page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith("/api/"):
            return None
        error_id = log_failure(f"{request.method} {request.path} failed")
        return JsonResponse(
            {"error": {"code": "server_error", "message": public_message("The server failed on this request.", error_id), "error_id": error_id}},
            status=500,
        )
