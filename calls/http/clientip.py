"""The real client address of an HTTP request, behind any number of trusted proxies.

X-Forwarded-For is written by whoever sends the request: a client can put any
address at its left end. Only the hops appended by our own proxies can be
believed, so the client is the rightmost address that is not a trusted proxy
(the address our outermost trusted proxy saw). Without TRUSTED_PROXIES the
header is ignored and the socket peer (REMOTE_ADDR) is the client.

Used for the call rate limit and the staff-login lockout (django-axes).
"""
from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip().strip('"')
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as a string, or None when it cannot be told."""
    peer = _parse(request.META.get("REMOTE_ADDR") or "")
    if peer is None:
        return None
    trusted = _networks(tuple(settings.TRUSTED_PROXIES))
    if not trusted or not any(peer in net for net in trusted):
        return str(peer)
    hops = [hop for hop in (request.META.get("HTTP_X_FORWARDED_FOR") or "").split(",") if hop.strip()]
    client = peer
    for raw in reversed(hops):
        hop = _parse(raw)
        if hop is None:  # garbage in the chain: the last good hop is as far as we can trust
            break
        client = hop
        if not any(hop in net for net in trusted):
            break
    return str(client)
