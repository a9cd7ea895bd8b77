"""Which IP addresses a webhook may reach: public unicast ones, and those in networks the operator names.

The table follows the IANA IPv4 and IPv6 Special-Purpose Address Registries (2025), plus deprecated ranges that old
networks still route (site-local, the 6to4 relay anycast). It does not use `ipaddress`'s `is_global`/`is_private`:
Python 3.12.1 predates their CVE-2024-4032 fix and, even fixed, they miss CGNAT space, NAT64 and 6to4 addresses that
embed an internal IPv4 address. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network


def _low_32_bits(address: IPv6Address) -> IPv4Address:
    return IPv4Address(int(address) & 0xFFFF_FFFF)


def _sixtofour(address: IPv6Address) -> IPv4Address:
    return IPv4Address((int(address) >> 80) & 0xFFFF_FFFF)  # 2002:AABB:CCDD::/48 carries AA.BB.CC.DD


@dataclass(frozen=True, slots=True)
class SpecialRange:
    network: IPNetwork
    name: str
    # Ranges that carry an IPv4 address: a packet to them reaches that IPv4 address, so it decides.
    embedded: Callable[[IPv6Address], IPv4Address] | None = None


def _range(cidr: str, name: str, embedded: Callable[[IPv6Address], IPv4Address] | None = None) -> SpecialRange:
    return SpecialRange(ip_network(cidr), name, embedded)


SPECIAL_RANGES: tuple[SpecialRange, ...] = (
    _range("0.0.0.0/8", "'this network'"),
    _range("10.0.0.0/8", "private"),
    _range("100.64.0.0/10", "shared address space (CGNAT)"),
    _range("127.0.0.0/8", "loopback"),
    _range("169.254.0.0/16", "link-local"),
    _range("172.16.0.0/12", "private"),
    _range("192.0.0.0/24", "IETF protocol assignments"),
    _range("192.0.2.0/24", "documentation (TEST-NET-1)"),
    _range("192.88.99.0/24", "6to4 relay anycast (deprecated)"),
    _range("192.168.0.0/16", "private"),
    _range("198.18.0.0/15", "benchmarking"),
    _range("198.51.100.0/24", "documentation (TEST-NET-2)"),
    _range("203.0.113.0/24", "documentation (TEST-NET-3)"),
    _range("224.0.0.0/4", "multicast"),
    _range("240.0.0.0/4", "reserved"),
    _range("255.255.255.255/32", "broadcast"),
    _range("::/128", "unspecified"),
    _range("::1/128", "loopback"),
    _range("::/96", "IPv4-compatible (deprecated)", _low_32_bits),
    _range("::ffff:0:0/96", "IPv4-mapped", _low_32_bits),
    _range("::ffff:0:0:0/96", "IPv4-translated (SIIT)"),
    _range("64:ff9b::/96", "NAT64", _low_32_bits),
    _range("64:ff9b:1::/48", "local-use NAT64"),
    _range("100::/64", "discard-only"),
    _range("100:0:0:1::/64", "dummy prefix"),
    _range("2001::/23", "IETF protocol assignments"),
    _range("2001::/32", "Teredo"),
    _range("2001:2::/48", "benchmarking"),
    _range("2001:10::/28", "ORCHID (deprecated)"),
    _range("2001:20::/28", "ORCHIDv2"),
    _range("2001:db8::/32", "documentation"),
    _range("2002::/16", "6to4", _sixtofour),
    _range("3fff::/20", "documentation"),
    _range("5f00::/16", "segment routing (SRv6) SIDs"),
    _range("fc00::/7", "unique local"),
    _range("fe80::/10", "link-local"),
    _range("fec0::/10", "site-local (deprecated)"),
    _range("ff00::/8", "multicast"),
)
# The most specific range names an address (broadcast rather than reserved, Teredo rather than IETF assignments).
_MOST_SPECIFIC_FIRST = sorted(SPECIAL_RANGES, key=lambda r: r.network.prefixlen, reverse=True)
GLOBAL_UNICAST_V6 = IPv6Network("2000::/3")  # outside it every IPv6 address is unassigned or special


def special_range(address: IPAddress) -> str | None:
    """The name of the special-purpose range holding the address, or None for a public unicast address."""
    for special in _MOST_SPECIFIC_FIRST:
        if address.version != special.network.version or address not in special.network:
            continue
        if special.embedded is None or not isinstance(address, IPv6Address):
            return special.name
        inner = special_range(special.embedded(address))
        return None if inner is None else f"{special.name} of a {inner} address"
    if isinstance(address, IPv6Address) and address not in GLOBAL_UNICAST_V6:
        return "not global unicast (reserved)"
    return None


def refusal(address: IPAddress, *, allowed: Sequence[IPNetwork]) -> str | None:
    """Why a webhook may not connect to the address (None: it may): internal unless the operator allowed it."""
    plain = address.ipv4_mapped if isinstance(address, IPv6Address) and address.ipv4_mapped else address
    if any(plain.version == net.version and plain in net for net in allowed):
        return None
    return special_range(address)


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """`10.1.2.0/24, 127.0.0.1` -> networks (a bare address is a /32 or /128); raises ValueError on a typo, such
    as host bits set (`10.1.2.5/24`), so a mistaken allow-list stops the service instead of widening it."""
    return tuple(ip_network(part.strip(), strict=True) for part in text.split(",") if part.strip())


def networks_text(networks: Iterable[IPNetwork]) -> str:
    return ", ".join(str(n) for n in networks) or "none"


# The WHATWG URL standard (browsers) reads a host whose last label is a number as an IPv4 address, and so does
# inet_aton (getaddrinfo): `2130706433`, `0x7f.1`, `0177.0.0.1` and `127.1` all mean 127.0.0.1.
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)


def is_numeric_host(host: str) -> bool:
    """Whether the host name would be read as an IPv4 address (in any spelling)."""
    return _NUMERIC_LABEL.fullmatch(host.rstrip(".").rsplit(".", 1)[-1]) is not None


def literal_address(host: str) -> IPAddress | None:
    """The host as an IP address when it is written as one in the canonical way, else None."""
    try:
        return ip_address(host)
    except ValueError:
        return None
