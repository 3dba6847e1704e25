"""WebSocket routes of the dashboard; config.asgi adds them behind AuthMiddlewareStack.

The lead socket carries callers' names and phones to a logged-in agent's
browser, so it accepts only pages of this site (config.origin.SameOriginOnly).
"""
from django.urls import path

from config.origin import SameOriginOnly
from dashboard.consumers import LeadsConsumer

websocket_urlpatterns = [
    path("ws/dashboard/leads/", SameOriginOnly(LeadsConsumer.as_asgi())),
]
