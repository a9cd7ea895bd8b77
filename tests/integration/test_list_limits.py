"""Every list is a page (`{items, total, limit, offset}`) no larger than 500 items and no deeper than 100,000:
sites (customers and staff), tankers and drivers, and the bounded offset of every paged list."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.factories import new_fleet, ok

pytestmark = pytest.mark.integration

API = "/api/v1"


async def read_all(client: Any, path: str, headers: dict[str, str], *, limit: int) -> tuple[list[Any], set[int]]:
    """Every item, a page of `limit` at a time; and the `total` each page gave."""
    items: list[Any] = []
    totals = set()
    glue = "&" if "?" in path else "?"
    while True:
        page = ok(await client.get(f"{API}{path}{glue}limit={limit}&offset={len(items)}", headers=headers))
        assert (page["limit"], page["offset"]) == (limit, len(items))
        assert len(page["items"]) <= limit
        totals.add(page["total"])
        items += page["items"]
        if not page["items"] or len(items) >= page["total"]:
            return items, totals


async def test_a_customer_reads_its_sites_page_by_page(world) -> None:
    customer = await world.new_customer()
    fields = ("address", "lat", "lon", "tank_capacity_litres", "receiving_hours")
    for n in range(4):
        site = {"name": f"Extra yard {n}", **{name: customer.site[name] for name in fields}}
        ok(await world.client.post(f"{API}/sites", headers=customer.h, json=site), 201)

    sites, totals = await read_all(world.client, "/sites", customer.h, limit=2)
    assert totals == {5}
    assert [s["name"] for s in sites] == [customer.site["name"]] + [f"Extra yard {n}" for n in range(4)]
    # Staff read the same account's sites, paged the same way.
    staff_sites, _ = await read_all(world.client, f"/sites?customer_id={customer.id}", world.h("dispatcher"), limit=3)
    assert [s["id"] for s in staff_sites] == [s["id"] for s in sites]
    first = ok(await world.client.get(f"{API}/sites", headers=customer.h))
    assert (first["limit"], first["offset"], first["total"]) == (50, 0, 5)


async def test_tankers_and_drivers_are_read_page_by_page(world) -> None:
    depot = await world.new_depot()
    fleet = await new_fleet(world, depot, tankers=3)
    staff = world.h("dispatcher")

    tankers, totals = await read_all(world.client, f"/tankers?depot_id={depot['id']}", staff, limit=2)
    assert totals == {3}
    assert [t["plate"] for t in tankers] == sorted(t["plate"] for t in fleet)

    drivers, totals = await read_all(world.client, "/drivers", staff, limit=7)
    assert len(totals) == 1 and len(drivers) == totals.pop()
    assert len({d["id"] for d in drivers}) == len(drivers)  # pages neither repeat nor skip a driver
    assert {t["driver"]["id"] for t in fleet} <= {d["id"] for d in drivers}


@pytest.mark.parametrize("path", ["/sites", "/tankers", "/drivers", "/orders", "/pickups", "/customers"])
async def test_a_page_is_at_most_500_items_and_100_000_deep(world, path: str) -> None:
    headers = world.h("admin")
    for query in ("limit=501", "limit=0", "offset=100001", "offset=-1", f"offset={10**9}"):
        response = await world.client.get(f"{API}{path}?{query}", headers=headers)
        assert (response.status_code, response.json()["code"]) == (400, "validation_error"), (query, response.text)
    deepest = ok(await world.client.get(f"{API}{path}?limit=500&offset=100000", headers=headers))
    assert deepest["items"] == [] and (deepest["limit"], deepest["offset"]) == (500, 100_000)


async def test_share_links_and_webhook_deliveries_have_the_same_bounds(world) -> None:
    customer = await world.new_customer()
    order = ok(await customer.order(), 201)
    webhook = ok(
        await world.client.post(
            f"{API}/webhooks",
            headers=customer.h,
            json={"url": f"https://example.com/{uuid.uuid4().hex}", "events": ["*"]},
        ),
        201,
    )
    for path in (f"/orders/{order['id']}/share", f"/webhooks/{webhook['id']}/deliveries"):
        response = await world.client.get(f"{API}{path}?offset=100001", headers=customer.h)
        assert (response.status_code, response.json()["code"]) == (400, "validation_error"), path
        ok(await world.client.get(f"{API}{path}?offset=100000", headers=customer.h))
