"""Error bodies of the JSON API: always `{"error": {"code", "message"}}`, never an HTML page.

`error()` is how every view under /api/ (and the phone webhooks' JSON answers)
says no; `ApiErrorMiddleware` turns an unexpected exception under /api/ into a
JSON 500 with an error id (the detail goes to the log, `calls.runtime.failures`).
"""
from __future__ import annotations

import json
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from calls.runtime.failures import log_failure, public_message


def error(status: int, code: str, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": {"code": code, "message": message}}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def json_object(request: HttpRequest) -> dict | JsonResponse:
    """The request's body as a JSON object, or the 400 that says why it is not one."""
    try:
        data = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        return error(400, "bad_json", "The request body must be a JSON object.")
    if not isinstance(data, dict):
        return error(400, "bad_request", "The request body must be a JSON object.")
    return data


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
