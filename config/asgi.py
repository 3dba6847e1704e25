"""ASGI entry point: HTTP through Django, WebSockets through Channels.

A production process (DEBUG=0) without SECRET_KEY refuses to start here: a
server signing call tokens with a public key would hand every caller's data to
anyone. Speech engines are warmed in a background thread at start-up
(SPEECH_WARMUP) so the first call does not pay for loading models, and the call
janitor (calls.worker.heartbeat) stamps live calls and closes calls a dead worker left. The
outbox runner (calls.outbox) sends lead webhooks from every server process, and the
recording uploader (calls.persistence.recordings) stores the recordings left on this
host's disk: nothing else needs to run.
"""
import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

if settings.SECRET_KEY_MISSING and not (settings.DEBUG or settings.TESTING):
    from config.env import ImproperSetting

    raise ImproperSetting(
        "SECRET_KEY is not set. Set SECRET_KEY (or SECRET_KEY_FILE) to a long random value; "
        "`make run` generates one in VAR_DIR on first start. Refusing to serve with DEBUG=0."
    )

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from calls.transport.routing import CALL_SOCKET_PREFIXES  # noqa: E402
from calls.transport.routing import websocket_urlpatterns as call_routes  # noqa: E402
from calls.outbox.runner import start_runner  # noqa: E402
from calls.persistence.recordings import uploader as recording_uploader  # noqa: E402
from calls.worker.heartbeat import start_janitor  # noqa: E402
from config.origin import OriginCheck  # noqa: E402
from config.warmup import start_warmup  # noqa: E402

try:
    from dashboard.routing import websocket_urlpatterns as dashboard_routes  # noqa: E402
except ImportError:  # pragma: no cover - dashboard routes are optional during development
    dashboard_routes = []

call_sockets = URLRouter(call_routes)
staff_sockets = AuthMiddlewareStack(URLRouter(dashboard_routes))


async def websocket_app(scope, receive, send):
    """Call and phone sockets are authorised by their call token or carrier signature and
    need no session: they skip Channels' cookie, session and auth middleware, whose
    session wrapper checks the session on every frame sent (a few % of a loaded
    worker's CPU at 5 bot-audio chunks a second per call). Staff sockets keep it."""
    if scope["path"].startswith(CALL_SOCKET_PREFIXES):
        return await call_sockets(scope, receive, send)
    return await staff_sockets(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginCheck(websocket_app),
    }
)

start_warmup()
start_janitor()
start_runner()  # lead webhooks (and any other outbox queue), sent from this process
if not settings.TESTING:  # recordings a stopped or killed worker left on this host go to the store
    recording_uploader.start()
