"""Live lead updates for the dashboard list.

calls.persistence.lifecycle broadcasts `lead.updated` to the "leads" group after a call
starts or ends (on commit, so the row is in the database). This consumer turns
each event into the rendered table row, the same template the page uses, so
the browser only swaps HTML and never re-implements the row's logic.
"""
from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import ValidationError

from calls.persistence.lifecycle import LEADS_GROUP
from dashboard.leads import VIEW_PERM, lead_queryset, render_row


@database_sync_to_async
def _may_view(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff and user.has_perm(VIEW_PERM))


@database_sync_to_async
def _row_for(call_id: str) -> str | None:
    call = lead_queryset().filter(pk=call_id).first()  # one query, bot via select_related
    return render_row(call) if call is not None else None


class LeadsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        if not await _may_view(self.scope.get("user")):
            await self.close(code=4403)
            return
        await self.channel_layer.group_add(LEADS_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(LEADS_GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The dashboard only listens; a ping gets a pong so clients can check the link."""
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def lead_updated(self, event: dict[str, Any]) -> None:
        try:
            html = await _row_for(event["call_id"])
        except (KeyError, ValidationError):  # malformed event: nothing to show
            return
        if html is None:
            return
        await self.send_json(
            {
                "type": "lead.updated",
                "call_id": event["call_id"],
                "outcome": event.get("outcome", ""),
                "status": event.get("status", ""),
                "progress": event.get("progress", ""),  # a phone line's carrier state, when known
                "html": html,
            }
        )
