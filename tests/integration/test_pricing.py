"""Pricing over HTTP: prices that hold from `valid_from` until replaced, contract prices per customer, the stored
tier table, and tonnes beside litres. Orders take the database's own path (one statement on PostgreSQL, the unit of
work on SQLite), so each test here runs both when CI runs the tier on both databases."""

from __future__ import annotations

import itertools
import math
import uuid
from datetime import date
from fractions import Fraction
from typing import Any

import pytest
from sqlalchemy import update

from core.db import create_engine, session_factory, unit_of_work
from orders.models import CustomerAccount
from tests.factories import PRODUCTS, Customer, ok

pytestmark = pytest.mark.integration

API = "/api/v1"
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY = (f"2030-01-{d:02d}" for d in range(7, 12))
DENSITY = {p["code"]: p["density_kg_m3"] for p in PRODUCTS}
DEFAULT_TIERS = [
    {"from_tonnes": 0, "discount_bps": 0},
    {"from_tonnes": 20, "discount_bps": 100},
    {"from_tonnes": 50, "discount_bps": 200},
    {"from_tonnes": 100, "discount_bps": 300},
    {"from_tonnes": 500, "discount_bps": 400},
]
# Each test's depot and customers in a place of their own in Guangxi, far from every other test's depots.
_places = itertools.count()


def per_tonne(per_litre: int, density: float) -> int:
    """The price of 1,000 kg (1,000,000 / density litres), half up, computed here with exact fractions."""
    return math.floor(Fraction(per_litre * 1_000_000) / Fraction(str(density)) + Fraction(1, 2))


async def depot_of_its_own(world: Any, **kwargs: Any) -> tuple[dict[str, Any], tuple[float, float]]:
    """A depot without prices, nearest to the sites `customer_near` makes beside it."""
    where = (22.0 + 0.05 * next(_places), 108.3)
    depot = await world.new_depot(lat=where[0], lon=where[1], priced=False, **kwargs)
    return depot, where


async def customer_near(world: Any, where: tuple[float, float]) -> Customer:
    customer: Customer = await world.new_customer(lat=where[0] + 0.01, lon=where[1] + 0.01)
    return customer


async def publish(world: Any, depot: dict[str, Any], *items: tuple[str, int], product: str = "diesel-0") -> Any:
    body = [
        {"depot_id": depot["id"], "product_code": product, "valid_from": day, "price_per_litre_minor": price}
        for day, price in items
    ]
    return ok(await world.client.put(f"{API}/prices", headers=world.h("admin"), json=body))


async def quote(customer: Customer, day: str, **quantity: int) -> Any:
    body = {"site_id": customer.site["id"], "product_code": "diesel-0", "delivery_date": day}
    body |= quantity or {"quantity_litres": 5000}
    return await customer.world.client.post(f"{API}/quotes", headers=customer.h, json=body)


async def price_in_force(world: Any, depot: dict[str, Any], day: str, product: str = "diesel-0") -> dict[str, Any]:
    rows = ok(
        await world.client.get(
            f"{API}/prices", params={"date": day, "depot_id": depot["id"]}, headers=world.h("dispatcher")
        )
    )
    return next(r for r in rows if r["product_code"] == product)


def booking(depot: dict[str, Any], day: str, **overrides: Any) -> dict[str, Any]:
    return {
        "depot_id": depot["id"],
        "product_code": "diesel-0",
        "quantity_litres": 5000,
        "slot_start": f"{day}T10:00:00+08:00",
        "vehicle_plate": "桂A12345",
        "driver_name": "李师傅",
        "driver_phone": "13800138000",
    } | overrides


# --- prices hold from valid_from until replaced ---------------------------------------------------------------


async def test_a_price_valid_from_monday_serves_fridays_order(world) -> None:
    depot, where = await depot_of_its_own(world)
    published = await publish(world, depot, (MONDAY, 801))
    assert published[0]["valid_from"] == MONDAY and published[0]["price_per_litre_minor"] == 801
    customer = await customer_near(world, where)

    quoted = ok(await quote(customer, FRIDAY))
    assert quoted["depot"]["id"] == depot["id"] and quoted["price"]["price_per_litre_minor"] == 801
    order = ok(await customer.order(delivery_date=FRIDAY), 201)
    assert order["status"] == "confirmed" and order["price"]["price_per_litre_minor"] == 801
    assert order["price"]["gross_minor"] == 801 * 5000
    shown = await price_in_force(world, depot, FRIDAY)
    assert (shown["valid_from"], shown["price_per_litre_minor"]) == (MONDAY, 801)


async def test_a_later_price_takes_over_from_its_first_day(world) -> None:
    depot, where = await depot_of_its_own(world)
    await publish(world, depot, (MONDAY, 801), (WEDNESDAY, 850))
    customer = await customer_near(world, where)
    prices = {}
    for day in (TUESDAY, WEDNESDAY, FRIDAY):
        prices[day] = ok(await customer.order(delivery_date=day), 201)["price"]["price_per_litre_minor"]
    assert prices == {TUESDAY: 801, WEDNESDAY: 850, FRIDAY: 850}
    assert (await price_in_force(world, depot, TUESDAY))["valid_from"] == MONDAY
    assert (await price_in_force(world, depot, FRIDAY))["valid_from"] == WEDNESDAY


async def test_no_price_from_that_day_or_before_is_a_clear_refusal(world) -> None:
    depot, where = await depot_of_its_own(world, bays=2)
    await publish(world, depot, (WEDNESDAY, 850))
    customer = await customer_near(world, where)
    for response in (
        await customer.order(delivery_date=TUESDAY),
        await quote(customer, TUESDAY),
        await world.client.post(f"{API}/pickups", headers=customer.h, json=booking(depot, TUESDAY)),
    ):
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "not_on_sale" and "no price" in response.json()["detail"]
    assert ok(await world.client.get(f"{API}/orders", headers=customer.h))["total"] == 0
    assert ok(await world.client.get(f"{API}/pickups", headers=customer.h))["total"] == 0
    assert ok(await customer.order(delivery_date=WEDNESDAY), 201)["price"]["price_per_litre_minor"] == 850


async def test_the_former_date_field_still_publishes_a_price_and_valid_from_is_given_once(world) -> None:
    depot, _ = await depot_of_its_own(world)
    item = {"depot_id": depot["id"], "product_code": "diesel-0", "price_per_litre_minor": 777}
    old_client = ok(await world.client.put(f"{API}/prices", headers=world.h("admin"), json=[item | {"date": TUESDAY}]))
    assert old_client[0]["valid_from"] == TUESDAY
    assert (await price_in_force(world, depot, FRIDAY))["price_per_litre_minor"] == 777
    for wrong in (item, item | {"date": TUESDAY, "valid_from": TUESDAY}):
        response = await world.client.put(f"{API}/prices", headers=world.h("admin"), json=[wrong])
        assert response.status_code == 422 and response.json()["code"] == "valid_from_required", response.text
        assert response.json()["field"] == "[0].valid_from"


async def test_price_history_lists_every_published_price_newest_first_in_pages(world) -> None:
    depot, where = await depot_of_its_own(world)
    await publish(world, depot, (MONDAY, 800), (WEDNESDAY, 820))
    await publish(world, depot, (FRIDAY, 840))
    await publish(world, depot, (MONDAY, 600), product="diesel-m10")
    customer = await customer_near(world, where)
    query = {"depot_id": depot["id"], "product_code": "diesel-0", "limit": 2}
    first = ok(await world.client.get(f"{API}/prices/history", params=query, headers=customer.h))
    assert first["total"] == 3
    assert [(p["valid_from"], p["price_per_litre_minor"]) for p in first["items"]] == [(FRIDAY, 840), (WEDNESDAY, 820)]
    rest = ok(await world.client.get(f"{API}/prices/history", params=query | {"offset": 2}, headers=customer.h))
    assert [p["valid_from"] for p in rest["items"]] == [MONDAY]
    every = ok(await world.client.get(f"{API}/prices/history", params={"depot_id": depot["id"]}, headers=customer.h))
    assert every["total"] == 4


# --- tonnes beside litres -------------------------------------------------------------------------------------


async def test_prices_are_shown_per_tonne_from_the_density(world) -> None:
    depot, where = await depot_of_its_own(world)
    for code, price in zip(DENSITY, (781, 803, 829, 857), strict=True):
        await publish(world, depot, (MONDAY, price), product=code)
    for code in DENSITY:
        shown = await price_in_force(world, depot, TUESDAY, product=code)
        assert shown["price_per_tonne_minor"] == per_tonne(shown["price_per_litre_minor"], DENSITY[code])
    customer = await customer_near(world, where)
    price = ok(await quote(customer, TUESDAY))["price"]
    assert price["price_per_tonne_minor"] == per_tonne(781, DENSITY["diesel-0"])
    order = ok(await customer.order(delivery_date=TUESDAY), 201)
    listed = ok(await world.client.get(f"{API}/orders", headers=customer.h))["items"][0]
    fetched = ok(await world.client.get(f"{API}/orders/{order['id']}", headers=customer.h))
    for shown in (order["price"], listed["price"], fetched["price"]):
        assert shown["price_per_tonne_minor"] == per_tonne(781, DENSITY["diesel-0"])
        assert (shown["quantity_litres"], shown["quantity_kg"]) == (5000, round(5000 * DENSITY["diesel-0"] / 1000))


async def test_quotes_orders_and_pickups_take_kilograms(world) -> None:
    depot, where = await depot_of_its_own(world, bays=2)
    await publish(world, depot, (MONDAY, 800))
    customer = await customer_near(world, where)
    quoted = ok(await quote(customer, TUESDAY, quantity_kg=8350))
    assert (quoted["quantity_litres"], quoted["price"]["quantity_litres"], quoted["price"]["quantity_kg"]) == (
        10_000,
        10_000,
        8350,
    )
    order = ok(await customer.order(delivery_date=TUESDAY, quantity_litres=None, quantity_kg=8350), 201)
    assert order["quantity_litres"] == 10_000 and order["price"]["gross_minor"] == 800 * 10_000
    body = booking(depot, TUESDAY, quantity_litres=None, quantity_kg=4175)
    booked = ok(await world.client.post(f"{API}/pickups", headers=customer.h, json=body), 201)
    assert booked["quantity_litres"] == 5000 and booked["price"]["quantity_kg"] == 4175
    assert booked["price"]["price_per_tonne_minor"] == per_tonne(800, DENSITY["diesel-0"])
    for quantities in ({"quantity_kg": 4175}, {"quantity_litres": None}):
        response = await world.client.post(
            f"{API}/pickups", headers=customer.h, json=booking(depot, TUESDAY, **quantities)
        )
        assert response.status_code == 422 and response.json()["code"] == "quantity_required", response.text


# --- contract prices ------------------------------------------------------------------------------------------


async def set_contracts(world: Any, customer: Customer, items: list[dict[str, Any]], *, role: str = "admin") -> Any:
    url = f"{API}/customers/{customer.id}/contract-prices"
    return await world.client.put(url, headers=world.h(role), json=items)


async def test_a_fixed_contract_price_replaces_the_list_price_for_its_customer_and_days(world) -> None:
    depot, where = await depot_of_its_own(world, bays=2)
    await publish(world, depot, (MONDAY, 800))
    customer, other = await customer_near(world, where), await customer_near(world, where)
    contract = {"product_code": "diesel-0", "valid_from": MONDAY, "valid_to": THURSDAY, "price_per_litre_minor": 700}
    ok(await set_contracts(world, customer, [contract]))

    assert ok(await quote(customer, TUESDAY))["price"]["price_per_litre_minor"] == 700
    order = ok(await customer.order(delivery_date=TUESDAY), 201)
    assert order["price"]["price_per_litre_minor"] == 700 and order["price"]["gross_minor"] == 700 * 5000
    stored = ok(await world.client.get(f"{API}/orders/{order['id']}", headers=customer.h))
    assert stored["price"] == order["price"]
    after_contract = ok(await customer.order(delivery_date=FRIDAY), 201)  # valid_to is Thursday
    assert after_contract["price"]["price_per_litre_minor"] == 800
    booked = ok(await world.client.post(f"{API}/pickups", headers=customer.h, json=booking(depot, TUESDAY)), 201)
    assert booked["price"]["price_per_litre_minor"] == 700
    assert ok(await other.order(delivery_date=TUESDAY), 201)["price"]["price_per_litre_minor"] == 800


async def test_a_contract_discount_per_litre_is_stored_beside_the_tier_discount(world) -> None:
    depot, where = await depot_of_its_own(world, bays=2)
    await publish(world, depot, (MONDAY, 800))
    customer = await customer_near(world, where)
    ok(
        await set_contracts(
            world,
            customer,
            [
                # For every depot a fixed price, for this depot a discount: the depot's own applies here.
                {"product_code": "diesel-0", "valid_from": MONDAY, "price_per_litre_minor": 650},
                {
                    "product_code": "diesel-0",
                    "depot_id": depot["id"],
                    "valid_from": MONDAY,
                    "discount_per_litre_minor": 25,
                },
            ],
        )
    )
    order = ok(await customer.order(delivery_date=TUESDAY), 201)
    price = order["price"]
    assert (price["price_per_litre_minor"], price["discount_per_litre_minor"]) == (800, 25)
    gross = 800 * 5000
    tier_part = (gross * price["discount_bps"] + 5000) // 10_000
    assert (price["gross_minor"], price["discount_minor"]) == (gross, 25 * 5000 + tier_part)
    assert price["amount_minor"] == gross - price["discount_minor"]
    stored = ok(await world.client.get(f"{API}/orders/{order['id']}", headers=customer.h))["price"]
    assert stored == price  # read back from the order's own columns
    booked = ok(await world.client.post(f"{API}/pickups", headers=customer.h, json=booking(depot, TUESDAY)), 201)
    fetched = ok(await world.client.get(f"{API}/pickups/{booked['id']}", headers=customer.h))["price"]
    assert fetched["discount_per_litre_minor"] == 25 and fetched["discount_minor"] == 25 * 5000 + tier_part


async def test_a_customers_contract_prices_are_replaced_whole(world) -> None:
    depot, where = await depot_of_its_own(world)
    customer = await customer_near(world, where)
    items = [
        {"product_code": "diesel-0", "valid_from": MONDAY, "valid_to": TUESDAY, "discount_per_litre_minor": 10},
        {"product_code": "diesel-0", "valid_from": WEDNESDAY, "discount_per_litre_minor": 20},
        # The same days, but this depot's own: not an overlap.
        {"product_code": "diesel-0", "depot_id": depot["id"], "valid_from": MONDAY, "price_per_litre_minor": 700},
    ]
    assert len(ok(await set_contracts(world, customer, items))) == 3
    ok(await set_contracts(world, customer, items[1:]))
    listed = ok(await world.client.get(f"{API}/customers/{customer.id}/contract-prices", headers=customer.h))
    assert [(c["valid_from"], c["depot_id"]) for c in listed] == [(MONDAY, depot["id"]), (WEDNESDAY, None)]
    ok(await set_contracts(world, customer, []))
    assert ok(await world.client.get(f"{API}/customers/{customer.id}/contract-prices", headers=customer.h)) == []


@pytest.mark.parametrize(
    ("items", "status", "code", "field"),
    [
        (
            [
                {
                    "product_code": "diesel-0",
                    "valid_from": MONDAY,
                    "valid_to": WEDNESDAY,
                    "discount_per_litre_minor": 10,
                },
                {"product_code": "diesel-0", "valid_from": WEDNESDAY, "discount_per_litre_minor": 20},
            ],
            422,
            "contract_overlap",
            "[1].valid_from",
        ),
        (
            [
                {"product_code": "diesel-0", "valid_from": FRIDAY, "discount_per_litre_minor": 20},
                {"product_code": "diesel-0", "valid_from": MONDAY, "price_per_litre_minor": 700},
            ],
            422,
            "contract_overlap",
            "[1].valid_from",
        ),
        (
            [
                {
                    "product_code": "diesel-0",
                    "valid_from": MONDAY,
                    "price_per_litre_minor": 700,
                    "discount_per_litre_minor": 5,
                }
            ],
            422,
            "contract_price_or_discount",
            "[0].price_per_litre_minor",
        ),
        (
            [{"product_code": "diesel-0", "valid_from": MONDAY}],
            422,
            "contract_price_or_discount",
            "[0].price_per_litre_minor",
        ),
        (
            [{"product_code": "diesel-0", "valid_from": FRIDAY, "valid_to": MONDAY, "discount_per_litre_minor": 5}],
            422,
            "invalid_period",
            "[0].valid_to",
        ),
        (
            [{"product_code": "petrol-95", "valid_from": MONDAY, "discount_per_litre_minor": 5}],
            422,
            "unknown_product",
            "[0].product_code",
        ),
        (
            [
                {
                    "product_code": "diesel-0",
                    "depot_id": str(uuid.UUID(int=7)),
                    "valid_from": MONDAY,
                    "discount_per_litre_minor": 5,
                }
            ],
            422,
            "unknown_depot",
            "[0].depot_id",
        ),
        (
            [{"product_code": "diesel-0", "valid_from": MONDAY, "discount_per_litre_minor": 0}],
            400,
            "validation_error",
            None,
        ),
    ],
    ids=["overlap", "open-ended overlap", "both kinds", "no kind", "period backwards", "product", "depot", "zero"],
)
async def test_a_wrong_contract_price_list_changes_nothing(world, items, status, code, field) -> None:
    _, where = await depot_of_its_own(world)
    customer = await customer_near(world, where)
    kept = [{"product_code": "diesel-m10", "valid_from": MONDAY, "discount_per_litre_minor": 3}]
    ok(await set_contracts(world, customer, kept))
    response = await set_contracts(world, customer, items)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code and response.json().get("field") == field
    listed = ok(await world.client.get(f"{API}/customers/{customer.id}/contract-prices", headers=world.h("admin")))
    assert [(c["product_code"], c["discount_per_litre_minor"]) for c in listed] == [("diesel-m10", 3)]


async def test_a_depot_that_does_not_stock_the_product_is_refused(world) -> None:
    depot, where = await depot_of_its_own(world, products=["diesel-0"])
    customer = await customer_near(world, where)
    item = {"product_code": "diesel-m35", "depot_id": depot["id"], "valid_from": MONDAY, "discount_per_litre_minor": 5}
    response = await set_contracts(world, customer, [item])
    assert response.status_code == 422 and response.json()["code"] == "product_not_stocked", response.text


async def test_a_customer_reads_its_own_contract_prices_and_nobody_elses(world) -> None:
    """Attack: customer B asks for (and tries to set) customer A's contract prices with A's real id."""
    _, where = await depot_of_its_own(world)
    a, b = await customer_near(world, where), await customer_near(world, where)
    secret = {"product_code": "diesel-0", "valid_from": MONDAY, "price_per_litre_minor": 612}
    ok(await set_contracts(world, a, [secret]))
    url = f"{API}/customers/{a.id}/contract-prices"
    assert ok(await world.client.get(url, headers=a.h))[0]["price_per_litre_minor"] == 612
    assert ok(await world.client.get(url, headers=world.h("dispatcher")))[0]["price_per_litre_minor"] == 612
    peek = await world.client.get(url, headers=b.h)
    assert peek.status_code == 404 and "612" not in peek.text
    for caller in (b.h, a.h, world.h("dispatcher")):
        response = await world.client.put(url, headers=caller, json=[secret | {"price_per_litre_minor": 1}])
        assert response.status_code == 403, response.text
    assert ok(await world.client.get(url, headers=a.h))[0]["price_per_litre_minor"] == 612


# --- the tier table -------------------------------------------------------------------------------------------


async def put_tiers(world: Any, bands: list[dict[str, int]], role: str = "admin") -> Any:
    return await world.client.put(f"{API}/settings/tiers", headers=world.h(role), json=bands)


@pytest.fixture
async def tier_table_restored(world):  # type: ignore[no-untyped-def]
    """The tests share one tier table: a test that changes it gets the defaults back afterwards."""
    yield
    ok(await put_tiers(world, DEFAULT_TIERS))


async def test_the_tier_table_starts_with_the_bands_of_the_product(world) -> None:
    bands = ok(await world.client.get(f"{API}/settings/tiers", headers=world.h("driver")))
    assert bands == [
        {"tier": 0, "from_tonnes": 0, "to_tonnes": 20, "discount_bps": 0},
        {"tier": 1, "from_tonnes": 20, "to_tonnes": 50, "discount_bps": 100},
        {"tier": 2, "from_tonnes": 50, "to_tonnes": 100, "discount_bps": 200},
        {"tier": 3, "from_tonnes": 100, "to_tonnes": 500, "discount_bps": 300},
        {"tier": 4, "from_tonnes": 500, "to_tonnes": None, "discount_bps": 400},
    ]


@pytest.mark.parametrize(
    ("bands", "status", "code"),
    [
        ([], 422, "empty_request"),
        ([{"from_tonnes": 10, "discount_bps": 0}], 422, "tiers_start_at_zero"),
        ([{"from_tonnes": 0, "discount_bps": 0}, {"from_tonnes": 0, "discount_bps": 50}], 422, "tiers_not_ascending"),
        (
            [
                {"from_tonnes": 0, "discount_bps": 0},
                {"from_tonnes": 50, "discount_bps": 50},
                {"from_tonnes": 20, "discount_bps": 90},
            ],
            422,
            "tiers_not_ascending",
        ),
        ([{"from_tonnes": 0, "discount_bps": 10_001}], 400, "validation_error"),
        ([{"from_tonnes": 0, "discount_bps": -1}], 400, "validation_error"),
    ],
)
async def test_a_wrong_tier_table_is_refused_and_changes_nothing(world, bands, status, code) -> None:
    response = await put_tiers(world, bands)
    assert response.status_code == status and response.json()["code"] == code, response.text
    assert [
        b["discount_bps"] for b in ok(await world.client.get(f"{API}/settings/tiers", headers=world.h("admin")))
    ] == [
        0,
        100,
        200,
        300,
        400,
    ]


async def test_only_an_admin_changes_the_tier_table(world) -> None:
    for role in ("dispatcher", "rack_operator"):
        response = await put_tiers(world, [{"from_tonnes": 0, "discount_bps": 9000}], role=role)
        assert response.status_code == 403, response.text


async def test_a_new_tier_table_prices_the_next_order_and_forgets_the_tiers_found_under_the_old(
    world, app, tier_table_restored
) -> None:
    depot, where = await depot_of_its_own(world)
    await publish(world, depot, (MONDAY, 800))
    customer = await customer_near(world, where)
    first = ok(await customer.order(delivery_date=TUESDAY), 201)
    assert (first["price"]["tier"], first["price"]["discount_bps"]) == (0, 0)
    # As if this customer's volume had put it in the old table's band 3 today (the account keeps the day's tier).
    engine = create_engine(app.state.settings.db.url, null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            await session.execute(
                update(CustomerAccount)
                .where(CustomerAccount.id == uuid.UUID(customer.id))
                .values(tier=3, tier_day=date(2030, 1, 7))
            )
    finally:
        await engine.dispose()

    new_table = [{"from_tonnes": 0, "discount_bps": 250}, {"from_tonnes": 30, "discount_bps": 500}]
    assert [b["to_tonnes"] for b in ok(await put_tiers(world, new_table))] == [30, None]
    # Band 3 does not exist any more: the tier is found again with the new bands (0 t: band 0), not kept.
    order = ok(await customer.order(delivery_date=TUESDAY), 201)
    assert (order["price"]["tier"], order["price"]["discount_bps"]) == (0, 250)
    assert order["price"]["discount_minor"] == (800 * 5000 * 250 + 5000) // 10_000
    assert ok(await quote(customer, TUESDAY))["price"]["discount_bps"] == 250
    other = await customer_near(world, where)
    booked = ok(await world.client.post(f"{API}/pickups", headers=other.h, json=booking(depot, TUESDAY)), 201)
    assert booked["price"]["discount_bps"] == 250
