"""Staff dashboard URLs, mounted at /dashboard/ by config.urls."""
from django.urls import path, re_path

from dashboard import campaign_views as campaigns
from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.lead_list, name="leads"),
    path("export.csv", views.export_csv, name="export"),
    path("calls/<uuid:call_id>/", views.call_detail, name="call"),
    path("calls/<uuid:call_id>/call-now/", views.call_now, name="call-now"),
    path("calls/<uuid:call_id>/recording/", views.call_recording, name="recording"),
    path("bots/<slug:slug>/", views.bot_stats, name="bot"),
    path("campaigns/", campaigns.campaign_list, name="campaigns"),
    path("campaigns/<int:pk>/", campaigns.campaign_detail, name="campaign"),
    path("campaigns/<int:pk>/progress.json", campaigns.campaign_progress, name="campaign-progress"),
    re_path(r"^campaigns/(?P<pk>[0-9]+)/(?P<action>start|pause|resume|finish)/$", campaigns.campaign_action,
            name="campaign-action"),
    path("campaigns/<int:pk>/leads/upload/", campaigns.campaign_upload, name="campaign-upload"),
    path("campaigns/<int:pk>/leads.csv", campaigns.campaign_export, name="campaign-export"),
    path("campaigns/<int:pk>/leads/<int:lead_id>/", campaigns.lead_detail, name="campaign-lead"),
]
