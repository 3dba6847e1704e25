from django.contrib import admin
from django.urls import include, path

from calls.transport.phone import webhooks as telephony
from campaigns.urls import api_urlpatterns as campaign_api
from campaigns.urls import telephony_urlpatterns as campaign_telephony
from config import views

urlpatterns = [
    path("", views.demo, name="demo"),
    path("healthz", views.health, name="health"),
    path("readyz", views.ready, name="ready"),
    path("metrics", views.metrics, name="metrics"),
    path("api/campaigns/", include(campaign_api)),
    path("api/", include("calls.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("dashboard/webhooks/", include("calls.delivery.urls")),
    path("telephony/twilio/voice/", telephony.twilio_voice, name="twilio-voice"),
    path("telephony/twilio/status/", telephony.twilio_status, name="twilio-status"),
    path("", include(campaign_telephony)),
    path("admin/", admin.site.urls),
]
