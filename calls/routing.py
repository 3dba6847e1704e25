from django.urls import path

from calls.consumers import CallConsumer
from calls.telephony.consumers import ExotelStreamConsumer, TwilioStreamConsumer

websocket_urlpatterns = [
    path("ws/calls/<uuid:call_id>/", CallConsumer.as_asgi()),
    path("ws/telephony/twilio/", TwilioStreamConsumer.as_asgi()),
    path("ws/telephony/exotel/", ExotelStreamConsumer.as_asgi()),
]
