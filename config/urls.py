from django.contrib import admin
from django.urls import include, path

from config import views

urlpatterns = [
    path("", views.demo, name="demo"),
    path("healthz", views.health, name="health"),
    path("api/", include("calls.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("admin/", admin.site.urls),
]
