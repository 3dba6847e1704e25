"""Staff actions on deliveries, mounted at /dashboard/webhooks/ by config.urls."""
from django.urls import path

from calls.delivery import views

app_name = "delivery"

urlpatterns = [
    path("calls/<uuid:call_id>/resend/", views.resend_call_view, name="resend-call"),
]
