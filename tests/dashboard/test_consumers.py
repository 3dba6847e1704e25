"""Live lead rows over the dashboard WebSocket (real channel layer, real database)."""
from __future__ import annotations

import pytest
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from bots.models import Bot
from calls.models import Call
from dashboard.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/dashboard/leads/"


def communicator(user) -> WebsocketCommunicator:
    app = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
    # A browser on the dashboard page: the socket only accepts its own origin.
    comm = WebsocketCommunicator(app, PATH, headers=[(b"host", b"testserver"), (b"origin", b"http://testserver")])
    comm.scope["user"] = user  # AuthMiddleware keeps a user already in the scope
    return comm


@database_sync_to_async
def transfer_bot() -> Bot:
    """Own bot rather than the seeded one: transactional tests flush the database between tests."""
    return Bot.objects.create(
        slug="live-reno", name="Live reno", greeting="Hi", qualified_message="Great", rejected_message="Bye",
        incomplete_message="Sorry", qualified_label="hot lead", transfer_on_qualified=True,
    )


async def test_staff_receives_the_rendered_row(staff_user):
    bot = await transfer_bot()
    call = await database_sync_to_async(Call.objects.create)(
        bot=bot, caller_name="John <b>Smith</b>", caller_phone="+1 555 0100",
        status=Call.Status.ENDED, outcome=Call.Outcome.QUALIFIED,
    )
    comm = communicator(staff_user)
    connected, _ = await comm.connect()
    assert connected
    try:
        await get_channel_layer().group_send(
            "leads", {"type": "lead.updated", "call_id": str(call.pk), "outcome": "qualified", "status": "ended"}
        )
        message = await comm.receive_json_from(timeout=5)
        assert message["type"] == "lead.updated"
        assert message["call_id"] == str(call.pk) and message["outcome"] == "qualified"
        html = message["html"]
        assert html.startswith(f'<tr id="call-{call.pk}"') and 'data-outcome="qualified"' in html
        assert "hot lead" in html and "transfer to specialist" in html
        assert "John &lt;b&gt;Smith&lt;/b&gt;" in html  # escaped like the page

        # an event for a call that no longer exists is skipped, the socket stays usable
        await get_channel_layer().group_send("leads", {"type": "lead.updated", "call_id": "not-a-uuid"})
        assert await comm.receive_nothing(timeout=0.3)
        await comm.send_json_to({"type": "ping"})
        assert await comm.receive_json_from(timeout=5) == {"type": "pong"}
    finally:
        await comm.disconnect()


async def test_anonymous_is_rejected():
    comm = communicator(AnonymousUser())
    connected, code = await comm.connect()
    assert not connected and code == 4403


async def test_non_staff_is_rejected(django_user_model):
    user = await database_sync_to_async(django_user_model.objects.create_user)(username="nobody", password="pw-123456")
    comm = communicator(user)
    connected, _ = await comm.connect()
    assert not connected
