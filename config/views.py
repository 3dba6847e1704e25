"""The caller demo page and the operator endpoints: liveness, readiness and metrics."""
from __future__ import annotations

import asyncio
import hmac
from ipaddress import ip_address, ip_network

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from bots.models import Bot
from calls import metrics as call_metrics
from calls.http.auth import bearer_token
from calls.http.errors import error
from calls.worker import admission
from config import readiness

#: Headers a reverse proxy adds: a request carrying one came from outside through
#: the load balancer, whose own (internal) address is all REMOTE_ADDR shows.
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")
#: Loopback, RFC 1918 and IPv6 unique-local networks (ipaddress's `is_private` also
#: counts documentation and benchmark ranges, which are routable in tests and labs).
INTERNAL_NETWORKS = tuple(ip_network(n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7",
))


def demo(request: HttpRequest) -> HttpResponse:
    bots = Bot.objects.filter(active=True).order_by("name").values("slug", "name", "description")
    return render(request, "demo.html", {"bots": list(bots)})


async def health(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Nothing else: a restart cures neither a database
    nor a Redis that is down, and it would cut every call in progress (which go on
    through an outage, their writes held: calls.persistence.write_queue). Whether the
    worker should take new callers is `/readyz`."""
    return JsonResponse({"ok": True})


@require_GET
async def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 once engines and prompts are warm and the database answers, else 503
    (Redis is reported, but calls do not need it: see config.readiness).

    Async, its checks on a thread of their own and bounded (config.readiness): a probe
    must never wait in the queue of Django's one thread for sync views, nor hold it
    while a database that is down makes a connection wait for the pool's timeout."""
    results = await asyncio.to_thread(readiness.checks)
    ok = readiness.is_ready(results)
    if ok:
        admission.announce()
    response = JsonResponse({"ready": ok, "checks": results}, status=200 if ok else 503)
    response["Cache-Control"] = "no-store"
    # A 503 here is an expected answer to a probe, not a server error: keep it out of
    # django.request's ERROR lines (which error-log alerts watch). The checks log their causes.
    response._has_been_logged = True  # type: ignore[attr-defined]  # read by django.utils.log.log_response
    return response


def metrics_allowed(request: HttpRequest) -> bool:
    """METRICS_TOKEN set: the bearer token must match. Unset: internal addresses only, not via a proxy."""
    if settings.METRICS_TOKEN:
        return hmac.compare_digest(bearer_token(request).encode(), settings.METRICS_TOKEN.encode())
    if any(request.META.get(header) for header in PROXY_HEADERS):
        return False
    try:
        address = ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in INTERNAL_NETWORKS)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, every worker of this host (see calls.metrics)."""
    if not metrics_allowed(request):
        if settings.METRICS_TOKEN:
            return error(401, "unauthorized", "Send the metrics token as 'Authorization: Bearer <token>'.",
                         WWW_Authenticate='Bearer realm="metrics"')
        return error(403, "forbidden", "Metrics are served to internal addresses only (or set METRICS_TOKEN).")
    body, content_type = call_metrics.exposition()
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response
