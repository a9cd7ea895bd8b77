"""Where a delivery may connect: its host resolved once, every address checked, the connection pinned to it.

Resolving for the check and letting the HTTP client resolve again for the connection lets a DNS answer change in
between (rebinding) and reach an internal address. So the host is resolved here, once; all its addresses must be
allowed (one internal address among public ones refuses the lot); and `PinnedTransport` connects to the checked
address while the URL's host stays in the Host header, the TLS server name (SNI) and the certificate check.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from notify.webhooks.addresses import IPAddress, IPNetwork, literal_address, refusal

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""The addresses of a host name (for a port) as text, like getaddrinfo; raises OSError when there are none."""


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


# A name with several addresses: the next checked one is tried when one cannot be connected to (as any client
# does), a few at most so that an attempt stays well within its lease.
MAX_ADDRESSES_TRIED = 3


@dataclass(frozen=True, slots=True)
class Target:
    host: str  # the URL's host (IDNA-encoded): Host header, SNI, certificate
    addresses: tuple[IPAddress, ...]  # all checked: the connection goes to one of these and nowhere else


class Refused(Exception):
    """No connection is made. `permanent`: the host is internal, retrying cannot help; otherwise (the lookup
    failed) the next attempt resolves again. `reason` is shown to the customer in the delivery log, so it names no
    internal address (`detail`, for the server's log, does)."""

    def __init__(self, reason: str, *, permanent: bool, detail: str = "") -> None:
        super().__init__(reason)
        self.reason, self.permanent, self.detail = reason, permanent, detail or reason


async def resolve_target(url: str, *, resolver: Resolver, allowed: Sequence[IPNetwork], timeout_s: float) -> Target:
    """The checked address to send `url` to; raises `Refused`."""
    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeDecodeError) as error:
        raise Refused(f"not a valid URL ({error})", permanent=True) from error
    literal = literal_address(host)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = [literal] if literal is not None else await _lookup(host, port, resolver, timeout_s=timeout_s)
    for address in addresses:
        reason = refusal(address, allowed=allowed)
        if reason is not None:
            raise Refused(
                "the host resolves to an internal address",
                permanent=True,
                detail=f"{host} resolves to {address} ({reason}) among {[str(a) for a in addresses]}",
            )
    return Target(host=host, addresses=tuple(addresses))


async def _lookup(host: str, port: int, resolver: Resolver, *, timeout_s: float) -> list[IPAddress]:
    try:
        async with asyncio.timeout(timeout_s):
            answers = [str(answer) for answer in await resolver(host, port)]
    except (OSError, ValueError, TimeoutError) as error:
        raise Refused(
            "the host name could not be resolved", permanent=False, detail=f"{host}: {str(error) or 'timed out'}"
        ) from error
    # A scope (`fe80::1%eth0`) stays: it is part of where the connection would go.
    addresses = [address for answer in answers if (address := literal_address(answer)) is not None]
    if not addresses or len(addresses) != len(answers):
        raise Refused("the host name could not be resolved", permanent=False, detail=f"{host}: answer {answers}")
    return addresses


class PinnedTransport(httpx.AsyncBaseTransport):
    """Sends requests for `target.host` to its checked addresses only (any other host, e.g. a redirect's, is
    refused)."""

    def __init__(self, target: Target, *, verify: ssl.SSLContext | bool = True) -> None:
        self._target = target
        self._inner = httpx.AsyncHTTPTransport(verify=verify, trust_env=False, retries=0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.raw_host.decode("ascii") != self._target.host:
            raise httpx.ConnectError(f"{url.host} is not the checked host", request=request)
        # The Host header was set from the URL when the request was built; only the socket's address changes.
        request.extensions = {**request.extensions, "sni_hostname": self._target.host}
        failures: list[httpx.TransportError] = []
        for address in self._target.addresses[:MAX_ADDRESSES_TRIED]:
            request.url = url.copy_with(host=str(address))
            try:
                return await self._inner.handle_async_request(request)
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:  # nothing was sent: the next one may take it
                failures.append(error)
        raise failures[-1]

    async def aclose(self) -> None:
        await self._inner.aclose()
