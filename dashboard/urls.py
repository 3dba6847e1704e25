"""Staff dashboard URLs, mounted at /dashboard/ by config.urls."""
from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.lead_list, name="leads"),
    path("export.csv", views.export_csv, name="export"),
    path("calls/<uuid:call_id>/", views.call_detail, name="call"),
    path("calls/<uuid:call_id>/call-now/", views.call_now, name="call-now"),
    path("calls/<uuid:call_id>/recording/", views.call_recording, name="recording"),
    path("bots/<slug:slug>/", views.bot_stats, name="bot"),
]
