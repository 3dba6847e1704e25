"""WebSocket routes of the dashboard; config.asgi adds them behind AuthMiddlewareStack."""
from django.urls import path

from dashboard.consumers import LeadsConsumer

websocket_urlpatterns = [
    path("ws/dashboard/leads/", LeadsConsumer.as_asgi()),
]
