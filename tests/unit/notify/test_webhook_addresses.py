"""The address table webhooks are checked against: each special range on both sides of both its boundaries, the
ranges that embed an IPv4 address judged by that address, the operator's allow-list, and IPv4 spellings."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from notify.webhooks.addresses import (
    SPECIAL_RANGES,
    is_numeric_host,
    parse_networks,
    refusal,
    special_range,
)

PUBLIC = None
RESERVED_V6 = "not global unicast (reserved)"

# (range, its name, addresses inside it (the first and last ones), [(an address just outside, what that one is)]).
BOUNDARIES: list[tuple[str, str, list[str], list[tuple[str, str | None]]]] = [
    ("0.0.0.0/8", "'this network'", ["0.0.0.0", "0.255.255.255"], [("1.0.0.0", PUBLIC)]),
    ("10.0.0.0/8", "private", ["10.0.0.0", "10.255.255.255"], [("9.255.255.255", PUBLIC), ("11.0.0.0", PUBLIC)]),
    (
        "100.64.0.0/10",
        "shared address space (CGNAT)",
        ["100.64.0.0", "100.127.255.255"],
        [("100.63.255.255", PUBLIC), ("100.128.0.0", PUBLIC)],
    ),
    ("127.0.0.0/8", "loopback", ["127.0.0.0", "127.255.255.255"], [("126.255.255.255", PUBLIC), ("128.0.0.0", PUBLIC)]),
    (
        "169.254.0.0/16",
        "link-local",
        ["169.254.0.0", "169.254.169.254", "169.254.255.255"],
        [("169.253.255.255", PUBLIC), ("169.255.0.0", PUBLIC)],
    ),
    (
        "172.16.0.0/12",
        "private",
        ["172.16.0.0", "172.31.255.255"],
        [("172.15.255.255", PUBLIC), ("172.32.0.0", PUBLIC)],
    ),
    (
        "192.0.0.0/24",
        "IETF protocol assignments",
        ["192.0.0.0", "192.0.0.9", "192.0.0.255"],
        [("191.255.255.255", PUBLIC), ("192.0.1.0", PUBLIC)],
    ),
    (
        "192.0.2.0/24",
        "documentation (TEST-NET-1)",
        ["192.0.2.0", "192.0.2.255"],
        [("192.0.1.255", PUBLIC), ("192.0.3.0", PUBLIC)],
    ),
    (
        "192.88.99.0/24",
        "6to4 relay anycast (deprecated)",
        ["192.88.99.0", "192.88.99.255"],
        [("192.88.98.255", PUBLIC), ("192.88.100.0", PUBLIC)],
    ),
    (
        "192.168.0.0/16",
        "private",
        ["192.168.0.0", "192.168.255.255"],
        [("192.167.255.255", PUBLIC), ("192.169.0.0", PUBLIC)],
    ),
    (
        "198.18.0.0/15",
        "benchmarking",
        ["198.18.0.0", "198.19.255.255"],
        [("198.17.255.255", PUBLIC), ("198.20.0.0", PUBLIC)],
    ),
    (
        "198.51.100.0/24",
        "documentation (TEST-NET-2)",
        ["198.51.100.0", "198.51.100.255"],
        [("198.51.99.255", PUBLIC), ("198.51.101.0", PUBLIC)],
    ),
    (
        "203.0.113.0/24",
        "documentation (TEST-NET-3)",
        ["203.0.113.0", "203.0.113.255"],
        [("203.0.112.255", PUBLIC), ("203.0.114.0", PUBLIC)],
    ),
    (
        "224.0.0.0/4",
        "multicast",
        ["224.0.0.0", "239.255.255.255"],
        [("223.255.255.255", PUBLIC), ("240.0.0.0", "reserved")],
    ),
    ("240.0.0.0/4", "reserved", ["240.0.0.0", "255.255.255.254"], [("239.255.255.255", "multicast")]),
    ("255.255.255.255/32", "broadcast", ["255.255.255.255"], [("255.255.255.254", "reserved")]),
    ("::/128", "unspecified", ["::"], [("::1", "loopback")]),
    (
        "::1/128",
        "loopback",
        ["::1"],
        [("::", "unspecified"), ("::2", "IPv4-compatible (deprecated) of a 'this network' address")],
    ),
    (
        "::/96",
        "IPv4-compatible (deprecated) of a loopback address",
        ["::127.0.0.1", "::127.255.255.255"],
        [("::1:0:0", RESERVED_V6)],
    ),
    (
        "::ffff:0:0/96",
        "IPv4-mapped of a private address",
        ["::ffff:10.0.0.0", "::ffff:192.168.255.255"],
        [("::fffe:ffff:ffff", RESERVED_V6), ("::1:0:0:0", RESERVED_V6)],
    ),
    (
        "::ffff:0:0:0/96",
        "IPv4-translated (SIIT)",
        ["::ffff:0:0:0", "::ffff:0:ffff:ffff"],
        [("::fffe:ffff:ffff:ffff", RESERVED_V6), ("::ffff:1:0:0", RESERVED_V6)],
    ),
    (
        "64:ff9b::/96",
        "NAT64 of a private address",
        ["64:ff9b::10.0.0.0", "64:ff9b::172.31.255.255"],
        [("64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", RESERVED_V6), ("64:ff9b::1:0:0", RESERVED_V6)],
    ),
    (
        "64:ff9b:1::/48",
        "local-use NAT64",
        ["64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "64:ff9b:1::8.8.8.8"],
        [("64:ff9b:0:ffff:ffff:ffff:ffff:ffff", RESERVED_V6), ("64:ff9b:2::", RESERVED_V6)],
    ),
    (
        "100::/64",
        "discard-only",
        ["100::", "100::ffff:ffff:ffff:ffff"],
        [("ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", RESERVED_V6), ("100:0:0:1::", "dummy prefix")],
    ),
    (
        "100:0:0:1::/64",
        "dummy prefix",
        ["100:0:0:1::", "100:0:0:1:ffff:ffff:ffff:ffff"],
        [("100::ffff:ffff:ffff:ffff", "discard-only"), ("100:0:0:2::", RESERVED_V6)],
    ),
    (
        "2001::/23",
        "IETF protocol assignments",
        ["2001:1::1", "2001:3::1", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff"],
        [("2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PUBLIC), ("2001:200::", PUBLIC)],
    ),
    (
        "2001::/32",
        "Teredo",
        ["2001::", "2001:0:ffff:ffff:ffff:ffff:ffff:ffff"],
        [("2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PUBLIC), ("2001:1::", "IETF protocol assignments")],
    ),
    (
        "2001:2::/48",
        "benchmarking",
        ["2001:2::", "2001:2:0:ffff:ffff:ffff:ffff:ffff"],
        [
            ("2001:1:ffff:ffff:ffff:ffff:ffff:ffff", "IETF protocol assignments"),
            ("2001:2:1::", "IETF protocol assignments"),
        ],
    ),
    (
        "2001:10::/28",
        "ORCHID (deprecated)",
        ["2001:10::", "2001:1f:ffff:ffff:ffff:ffff:ffff:ffff"],
        [("2001:f:ffff:ffff:ffff:ffff:ffff:ffff", "IETF protocol assignments"), ("2001:20::", "ORCHIDv2")],
    ),
    (
        "2001:20::/28",
        "ORCHIDv2",
        ["2001:20::", "2001:2f:ffff:ffff:ffff:ffff:ffff:ffff"],
        [("2001:1f:ffff:ffff:ffff:ffff:ffff:ffff", "ORCHID (deprecated)"), ("2001:30::", "IETF protocol assignments")],
    ),
    (
        "2001:db8::/32",
        "documentation",
        ["2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"],
        [("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", PUBLIC), ("2001:db9::", PUBLIC)],
    ),
    (
        "2002::/16",
        "6to4 of a loopback address",
        ["2002:7f00::", "2002:7fff:ffff:ffff:ffff:ffff:ffff:ffff"],
        [("2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PUBLIC), ("2003::", PUBLIC)],
    ),
    (
        "3fff::/20",
        "documentation",
        ["3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff"],
        [("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PUBLIC), ("3fff:1000::", PUBLIC)],
    ),
    (
        "5f00::/16",
        "segment routing (SRv6) SIDs",
        ["5f00::", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
        [("5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", RESERVED_V6), ("5f01::", RESERVED_V6)],
    ),
    (
        "fc00::/7",
        "unique local",
        ["fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
        [("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", RESERVED_V6), ("fe00::", RESERVED_V6)],
    ),
    (
        "fe80::/10",
        "link-local",
        ["fe80::", "fe80::1%eth0", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
        [("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", RESERVED_V6), ("fec0::", "site-local (deprecated)")],
    ),
    (
        "fec0::/10",
        "site-local (deprecated)",
        ["fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
        [("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local"), ("ff00::", "multicast")],
    ),
    (
        "ff00::/8",
        "multicast",
        ["ff00::", "ff02::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
        [("feff::", "site-local (deprecated)")],
    ),
]


@pytest.mark.parametrize(("cidr", "name", "inside", "outside"), BOUNDARIES, ids=[b[0] for b in BOUNDARIES])
def test_each_special_range_on_both_sides_of_its_boundaries(
    cidr: str, name: str, inside: list[str], outside: list[tuple[str, str | None]]
) -> None:
    network = ip_network(cidr)
    for text in inside:
        address = ip_address(text)
        assert address in network, text
        assert special_range(address) == name, text
        assert refusal(address, allowed=()) == name, text
    for text, expected in outside:
        address = ip_address(text)
        assert address not in network, text
        assert special_range(address) == expected, text


def test_every_range_of_the_table_has_its_boundary_test() -> None:
    assert {str(r.network) for r in SPECIAL_RANGES} == {ip_network(b[0]).compressed for b in BOUNDARIES}


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("::ffff:8.8.8.8", PUBLIC),  # an IPv4 host reached over a dual-stack socket
        ("::ffff:127.0.0.1", "IPv4-mapped of a loopback address"),
        ("::ffff:169.254.169.254", "IPv4-mapped of a link-local address"),
        ("::ffff:100.64.0.1", "IPv4-mapped of a shared address space (CGNAT) address"),
        ("::8.8.8.8", PUBLIC),
        ("::10.0.0.1", "IPv4-compatible (deprecated) of a private address"),
        ("64:ff9b::8.8.8.8", PUBLIC),  # what DNS64 answers for an IPv4-only receiver
        ("64:ff9b::127.0.0.1", "NAT64 of a loopback address"),
        ("64:ff9b::169.254.169.254", "NAT64 of a link-local address"),
        ("64:ff9b::198.18.0.1", "NAT64 of a benchmarking address"),
        ("2002:808:808::1", PUBLIC),  # 6to4 of 8.8.8.8
        ("2002:a00:1::1", "6to4 of a private address"),  # 10.0.0.1
        ("2002:c0a8:101::", "6to4 of a private address"),  # 192.168.1.1
        ("2002:a9fe:a9fe::", "6to4 of a link-local address"),  # 169.254.169.254
        ("2002:6440:1::", "6to4 of a shared address space (CGNAT) address"),  # 100.64.0.1
    ],
)
def test_ranges_that_carry_an_ipv4_address_are_judged_by_it(address: str, expected: str | None) -> None:
    assert special_range(ip_address(address)) == expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("8.8.8.8", PUBLIC),
        ("1.1.1.1", PUBLIC),
        ("2606:4700:4700::1111", PUBLIC),
        ("2000::", PUBLIC),  # the first global unicast address ...
        ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", RESERVED_V6),  # ... and the one before it
        ("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PUBLIC),  # the last one ...
        ("4000::", RESERVED_V6),  # ... and the one after it
    ],
)
def test_public_unicast_addresses_and_the_edges_of_global_unicast(address: str, expected: str | None) -> None:
    assert special_range(ip_address(address)) == expected


def test_the_operators_networks_are_allowed_and_nothing_next_to_them() -> None:
    allowed = parse_networks("10.1.2.0/24, 127.0.0.1, fd00:1::/64")
    assert [str(n) for n in allowed] == ["10.1.2.0/24", "127.0.0.1/32", "fd00:1::/64"]
    for inside in ["10.1.2.0", "10.1.2.255", "127.0.0.1", "::ffff:10.1.2.7", "fd00:1::5"]:
        assert refusal(ip_address(inside), allowed=allowed) is None, inside
    for outside, reason in [
        ("10.1.1.255", "private"),
        ("10.1.3.0", "private"),
        ("127.0.0.2", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fd00:2::5", "unique local"),
        ("64:ff9b::10.1.2.7", "NAT64 of a private address"),  # the allow-list names addresses, not translators
    ]:
        assert refusal(ip_address(outside), allowed=allowed) == reason, outside
    assert refusal(ip_address("8.8.8.8"), allowed=allowed) is None


@pytest.mark.parametrize("text", ["10.1.2.5/24", "10.1.2.0/33", "intranet", "10.1.2.0/24;10.9.0.0/16"])
def test_a_mistyped_allow_list_is_an_error_not_a_wider_one(text: str) -> None:
    with pytest.raises(ValueError):
        parse_networks(text)


def test_an_empty_allow_list_allows_nothing_internal() -> None:
    assert parse_networks("") == parse_networks(" , ") == ()


@pytest.mark.parametrize(
    ("host", "numeric"),
    [
        ("2130706433", True),  # 127.0.0.1 as one decimal number
        ("0x7f000001", True),
        ("0x7f.1", True),
        ("0177.0.0.1", True),  # octal
        ("127.1", True),
        ("127.0.1", True),
        ("0x", True),
        ("1.2.3.4.5", True),
        ("hooks.example.123", True),  # browsers read it as an IPv4 address too (and then refuse it)
        ("127.0.0.1.", True),
        ("example.com", False),
        ("1e100.net", False),
        ("123.example", False),
        ("0x7f.example", False),
        ("", False),
    ],
)
def test_hosts_read_as_an_ipv4_number(host: str, numeric: bool) -> None:
    assert is_numeric_host(host) is numeric
