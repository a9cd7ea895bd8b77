"""Security headers on every response (the API is JSON; pages set their own stricter CSP later); the client's
address from trusted proxies only; HEAD handled as GET."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any, cast

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), geolocation=(self), microphone=()",
}


class SecurityHeadersMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await next_app(scope, receive, send_with_headers)


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def forwarded_client(headers: dict[str, str], peer: str, trusted: Sequence[IPNetwork]) -> tuple[str, str | None]:
    """The client's address (and scheme) a request names: the peer's own unless the peer is a trusted proxy.

    Behind trusted proxies the chain `X-Forwarded-For: client, proxy1, proxy2` (or RFC 7239 `Forwarded: for=`)
    is read from the right: the first address that is not a trusted proxy is the client. Anything further left
    was written by that client and could be anything.
    """
    if not _is_trusted(peer, trusted):
        return peer, None
    chain = _forwarded_for(headers.get("forwarded", "")) or [
        hop.strip() for hop in headers.get("x-forwarded-for", "").split(",") if hop.strip()
    ]
    client = peer
    for hop in reversed(chain):
        client = hop
        if not _is_trusted(hop, trusted):
            break
    proto = headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
    return client, proto if proto in ("http", "https") else None


def trusted_networks(entries: Sequence[str]) -> tuple[IPNetwork, ...]:
    """TRUSTED_PROXIES: addresses or CIDRs (e.g. `10.0.0.5, 172.16.0.0/12`); a wrong entry stops the start."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _is_trusted(address: str, trusted: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def _forwarded_for(value: str) -> list[str]:
    """The `for=` addresses of an RFC 7239 `Forwarded` header, without quotes, brackets or ports."""
    hops = []
    for element in value.split(","):
        for pair in element.split(";"):
            name, _, raw = pair.strip().partition("=")
            if name.strip().lower() != "for":
                continue
            address = raw.strip().strip('"')
            if address.startswith("["):  # "[2001:db8::1]:4711"
                address = address[1:].partition("]")[0]
            elif address.count(":") == 1:  # "192.0.2.60:4711"
                address = address.partition(":")[0]
            hops.append(address)
    return hops


class ClientAddressMiddleware:
    """Outermost: sets the scope's client (and scheme) from forwarded headers sent by a trusted proxy only, so the
    rate limits, logs and links see the real client. uvicorn's own proxy-header handling is off (api/cli.py)."""

    def __init__(self, app: ASGIApp, trusted: Sequence[IPNetwork]) -> None:
        self.app, self.trusted = app, tuple(trusted)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:  # raw ASGI: any scope type passes
        if self.trusted and scope["type"] in ("http", "websocket") and scope.get("client"):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            client, proto = forwarded_client(headers, scope["client"][0], self.trusted)
            scope = {**scope, "client": (client, 0)}
            if proto is not None:
                scope["scheme"] = proto if scope["type"] == "http" else {"http": "ws", "https": "wss"}[proto]
        await self.app(scope, receive, send)


class HeadAsGetMiddleware:
    """Outermost: HEAD is answered as GET without the body (RFC 9110 9.3.2), so it passes the same routing,
    authentication and guards as GET. (Litestar alone answers HEAD on a GET route with 405 before any
    authentication, listing the route's methods to anyone.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:  # raw ASGI: any scope type passes
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        finished = False

        async def send_without_body(message: Any) -> None:
            nonlocal finished
            if finished:
                return
            if message["type"] == "http.response.body":
                finished = True
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        async def receive_until_finished() -> Any:
            # Once the headers went out, a streaming GET (live events) is told the client left: it would never end.
            if finished:
                return {"type": "http.disconnect"}
            return await receive()

        as_get = cast("HTTPScope", {**scope, "method": "GET"})  # an HTTP scope: checked above
        await self.app(as_get, receive_until_finished, send_without_body)
