"""One webhook POST to a destination, with the guards a server-side request needs.

- The host is resolved at send time and every address it resolves to is checked:
  loopback, private, link-local, multicast, reserved or otherwise non-global addresses
  are refused unless WEBHOOK_ALLOW_PRIVATE=1 (a URL checked only when saved could
  resolve elsewhere later). The connection then goes to the address that was checked
  (the Host header and TLS server name stay the URL's), so a second lookup cannot
  point it elsewhere (DNS rebinding). Kept-alive connections are pooled per host name.
- Redirects are not followed (a 3xx is an answer that is not 2xx: retried); no proxy
  or netrc from the environment.
- At most 64 KiB of the response body is read; no answer within WEBHOOK_TIMEOUT_S
  is a timeout.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import httpx

USER_AGENT = "VoiceQualify-Webhooks/1.0 (voice qualification bot; Standard Webhooks)"
MAX_RESPONSE_BYTES = 64 * 1024
SNIPPET_CHARS = 200

MAX_CLIENTS = 64
_clients: OrderedDict[str, httpx.Client] = OrderedDict()
_clients_lock = threading.Lock()


@dataclass(frozen=True)
class Answer:
    """What one attempt got: a status (`kind` "answered") or an error (`kind` timeout,
    connect or refused: refused is our own refusal to send)."""

    kind: str
    status: int | None = None
    error: str = ""
    body_snippet: str = ""


class Refused(Exception):
    """The destination resolves to an address events may not be sent to."""


def client(host: str) -> httpx.Client:
    """The client for one host name. Connections go to an address, not a name, so a pool
    shared by every host could hand a TLS connection verified for one name to a request
    for another name on the same address: each host gets its own (the last MAX_CLIENTS)."""
    with _clients_lock:
        found = _clients.get(host)
        if found is not None:
            _clients.move_to_end(host)
            return found
        made = _clients[host] = httpx.Client(
            follow_redirects=False, trust_env=False,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=8),
        )
        if len(_clients) > MAX_CLIENTS:
            _clients.popitem(last=False)[1].close()
        return made


def forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_multicast or ip.is_loopback or ip.is_link_local or ip.is_private or not ip.is_global


def resolve(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The host's addresses; Refused when one of them may not be sent to."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not allow_private:
        bad = [a for a in addresses if forbidden(a)]
        if bad:
            raise Refused(f"{host} resolves to {', '.join(bad)}: loopback, private, link-local or multicast "
                          "addresses are refused (WEBHOOK_ALLOW_PRIVATE=1 allows them)")
    return addresses


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool) -> Answer:
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return Answer("refused", error=f"not a URL: {exc}")
    if target.scheme not in ("http", "https") or not target.host:
        return Answer("refused", error="not an http(s) URL")
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        address = resolve(target.host, port, allow_private=allow_private)[0]
    except Refused as exc:
        return Answer("refused", error=str(exc))
    except OSError as exc:
        return Answer("connect", error=f"cannot resolve {target.host}: {exc}")
    http = client(target.host)
    request = http.build_request(
        "POST", target.copy_with(host=address), content=body,
        headers={**headers, "host": target.netloc.decode("ascii"), "user-agent": USER_AGENT},
        extensions={"sni_hostname": target.host}, timeout=timeout,
    )
    deadline = time.monotonic() + timeout
    try:
        response = http.send(request, stream=True)
        try:
            received = bytearray()
            for chunk in response.iter_raw():
                received += chunk
                if len(received) >= MAX_RESPONSE_BYTES or time.monotonic() > deadline:
                    break
        finally:
            response.close()
    except httpx.TimeoutException:
        return Answer("timeout", error=f"no answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        return Answer("connect", error=f"{type(exc).__name__}: {exc}"[:300])
    snippet = bytes(received[:SNIPPET_CHARS]).decode("utf-8", "replace")
    return Answer("answered", status=response.status_code, body_snippet=snippet)
