"""The caller demo page and a health check."""
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from bots.models import Bot


def demo(request: HttpRequest) -> HttpResponse:
    bots = Bot.objects.filter(active=True).order_by("name").values("slug", "name", "description")
    return render(request, "demo.html", {"bots": list(bots)})


def health(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
