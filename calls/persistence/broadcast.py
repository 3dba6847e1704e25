"""Dashboard broadcasts (`lead.updated` to the "leads" group), never in a call's way.

A broadcast is a nicety for the agents' screens; a call must not wait for it.
So it runs on the server's event loop (scheduled from the database thread,
after the transaction commits, without waiting), is bounded by
BROADCAST_TIMEOUT_S, and a failure — Redis down, a black-holed network — is a
log line, not an error anywhere else.
"""
from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)

LEADS_GROUP = "leads"
_pending: set[asyncio.Task[bool]] = set()  # strong references until each send is done


async def send_lead_update(message: dict[str, Any]) -> bool:
    """Send one update to the dashboards; False (logged) if the layer failed or was too slow."""
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        await asyncio.wait_for(_group_send(layer, message), settings.BROADCAST_TIMEOUT_S)
        return True
    except (TimeoutError, asyncio.TimeoutError):
        log.warning("dashboard broadcast for call %s timed out after %.1f s", message.get("call_id"), settings.BROADCAST_TIMEOUT_S)
    except Exception as exc:  # redis.ConnectionError and friends
        log.warning("dashboard broadcast for call %s failed: %s: %s", message.get("call_id"), type(exc).__name__, exc)
    return False


async def _group_send(layer, message: dict[str, Any]) -> None:
    try:
        await layer.group_send(LEADS_GROUP, message)
    except Exception as exc:  # redis.ConnectionError: a pooled connection Redis dropped (restart)
        if type(exc).__name__ != "ConnectionError":
            raise
        await layer.group_send(LEADS_GROUP, message)  # once more, on a fresh connection


def _spawn(message: dict[str, Any]) -> None:
    task = asyncio.get_running_loop().create_task(send_lead_update(message), name="lead-broadcast")
    _pending.add(task)
    task.add_done_callback(_pending.discard)


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop that handed this thread its work (sync_to_async), if any and alive."""
    if getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() and not loop.is_closed() else None


def dispatch(message: dict[str, Any]) -> None:
    """Start a broadcast from any context and return at once (or, in plain sync code, after it)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        _spawn(message)
        return
    loop = _server_loop()
    if loop is not None:
        loop.call_soon_threadsafe(_spawn, message)
        return
    async_to_sync(send_lead_update)(message)  # a management command or a sync test: bounded anyway


def lead_update_on_commit(call_id: str, status: str, outcome: str, *, progress: str = "") -> None:
    """Broadcast the call's new state once the current transaction has committed.
    `progress`: a phone line's state as the carrier reports it (ringing, in-progress, ...)."""
    message = {"type": "lead.updated", "call_id": call_id, "outcome": outcome, "status": status}
    if progress:
        message["progress"] = progress
    transaction.on_commit(lambda: dispatch(message))
