from django.urls import path

from calls.transport.browser import CallConsumer
from calls.transport.phone.streams import ExotelStreamConsumer, TwilioStreamConsumer

# The path prefixes of the sockets below: a call's or a phone line's, authorised by its
# token or carrier signature (config.asgi routes them past the session middleware).
CALL_SOCKET_PREFIXES = ("/ws/calls/", "/ws/telephony/")

websocket_urlpatterns = [
    path("ws/calls/<uuid:call_id>/", CallConsumer.as_asgi()),
    path("ws/telephony/twilio/", TwilioStreamConsumer.as_asgi()),
    path("ws/telephony/exotel/", ExotelStreamConsumer.as_asgi()),
]
