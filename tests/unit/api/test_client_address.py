"""Which address a request comes from: forwarded headers count only when a trusted proxy sent them."""

from __future__ import annotations

import pytest

from api.middleware import forwarded_client, trusted_networks

PROXIES = trusted_networks(["10.0.0.0/8", "192.0.2.1"])


@pytest.mark.parametrize(
    ("peer", "headers", "client"),
    [
        # an untrusted peer's headers are ignored, whatever they say
        ("203.0.113.9", {"x-forwarded-for": "198.51.100.1"}, "203.0.113.9"),
        ("testclient", {"x-forwarded-for": "198.51.100.1"}, "testclient"),
        ("127.0.0.1", {"forwarded": "for=198.51.100.1"}, "127.0.0.1"),
        # a trusted proxy names the client; the right-most address that is not a proxy is the client
        ("10.1.2.3", {"x-forwarded-for": "198.51.100.1"}, "198.51.100.1"),
        ("10.1.2.3", {"x-forwarded-for": "6.6.6.6, 198.51.100.1, 192.0.2.1"}, "198.51.100.1"),
        ("10.1.2.3", {"x-forwarded-for": "10.9.9.9, 192.0.2.1"}, "10.9.9.9"),  # only proxies: the farthest
        ("10.1.2.3", {}, "10.1.2.3"),
        # RFC 7239, with ports, quotes and IPv6 brackets; it wins over X-Forwarded-For
        ("10.1.2.3", {"forwarded": 'for="[2001:db8::7]:4711";proto=https, for=192.0.2.1'}, "2001:db8::7"),
        ("10.1.2.3", {"forwarded": "for=198.51.100.2:8080", "x-forwarded-for": "6.6.6.6"}, "198.51.100.2"),
    ],
)
def test_the_client_address(peer: str, headers: dict[str, str], client: str) -> None:
    assert forwarded_client(headers, peer, PROXIES)[0] == client


def test_the_scheme_comes_from_a_trusted_proxy_only() -> None:
    assert forwarded_client({"x-forwarded-proto": "https"}, "10.1.2.3", PROXIES)[1] == "https"
    assert forwarded_client({"x-forwarded-proto": "https"}, "203.0.113.9", PROXIES)[1] is None
    assert forwarded_client({"x-forwarded-proto": "gopher"}, "10.1.2.3", PROXIES)[1] is None


def test_a_wrong_trusted_proxies_entry_stops_the_start() -> None:
    with pytest.raises(ValueError):
        trusted_networks(["not-an-address"])
