"""The campaign endpoints: the lead API (under /api/) and Twilio's dial callbacks."""
from django.urls import path

from campaigns import api, callbacks
from campaigns.dialer import AMD_PATH, STATUS_PATH

api_urlpatterns = [
    path("<int:campaign_id>/leads/", api.add_lead_view, name="campaign-leads"),
]

telephony_urlpatterns = [
    path(STATUS_PATH.lstrip("/"), callbacks.dial_status, name="campaign-dial-status"),
    path(AMD_PATH.lstrip("/"), callbacks.amd_status, name="campaign-amd-status"),
]
