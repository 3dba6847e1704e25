"""What a public caller is told when the server fails: a generic line and an error id.

The exception text (paths, SQL, vendor messages) goes to the log under the same
id, so an operator can find the detail a caller reports and the caller learns
nothing about the server's insides.
"""
from __future__ import annotations

import logging
import uuid

log = logging.getLogger(__name__)


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
