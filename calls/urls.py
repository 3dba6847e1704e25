from django.urls import path

from calls.http import api
from calls.http.recordings import recording_file
from calls.transport.phone import webhooks as telephony

app_name = "api"

urlpatterns = [
    path("bots/", api.list_bots, name="bots"),
    path("calls/", api.start_call, name="start-call"),
    path("calls/<uuid:call_id>/", api.call_detail, name="call"),
    path("outbound-calls/", telephony.outbound_call, name="outbound-call"),
    path("recordings/<str:token>.ogg", recording_file, name="recording-file"),
]
