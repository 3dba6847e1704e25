"""ASGI entry point: HTTP through Django, WebSockets through Channels.

Speech engines are warmed in a background thread at start-up (SPEECH_WARMUP) so
the first call does not pay for loading models.
"""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from calls.routing import websocket_urlpatterns as call_routes  # noqa: E402
from config.origin import OriginCheck  # noqa: E402
from config.warmup import start_warmup  # noqa: E402

websocket_routes = list(call_routes)
try:
    from dashboard.routing import websocket_urlpatterns as dashboard_routes  # noqa: E402

    websocket_routes += dashboard_routes
except ImportError:  # pragma: no cover - dashboard routes are optional during development
    pass

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginCheck(AuthMiddlewareStack(URLRouter(websocket_routes))),
    }
)

start_warmup()
