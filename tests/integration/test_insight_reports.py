"""Reports on hand-computed worlds: sales grouped by customer, depot, product and manager per local day, week and
month (JSON, CSV, XLSX), and deliveries promised against actual (on-time share, lateness buckets).

Shanghai is UTC+8. 2029-12-31 is a Monday, so the week of 2029-12-31 runs to Sunday 2030-01-06."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import openpyxl
import pytest

from tests.factories import ok
from tests.insight_factories import History, assign, local, new_manager

pytestmark = pytest.mark.integration
API = "/api/v1"


async def sales_world(world: Any, app: Any) -> tuple[Any, History, History, dict[str, Any]]:
    manager = await new_manager(world)
    other_depot = await world.new_depot()
    first = History(app, await world.new_customer(), world.depots["main"])
    second = History(app, await world.new_customer(), other_depot)
    for history in (first, second):
        await assign(world, history.customer.id, manager)
    await first.charges((local(2029, 12, 31, 20), 1_000), litres=1_200, amount=960_000)  # Dec 31 local
    await first.charges((local(2030, 1, 1, 7), 2_000), litres=2_400, amount=1_920_000)  # Dec 31 23:00 UTC
    await first.charges((local(2030, 1, 2, 10), 3_000), litres=3_600, amount=2_880_000)
    await second.charges((local(2030, 1, 6, 23, 59), 500), litres=600, amount=480_000)  # Sunday
    await second.charges((local(2030, 1, 7, 8), 700), litres=840, amount=672_000)  # Monday, before 09:00
    await second.charges((local(2030, 1, 8, 8), 9_999), litres=9_999, amount=1)  # after the report: not counted
    return manager, first, second, other_depot


async def sales(world: Any, manager: Any, **params: Any) -> dict[str, Any]:
    body = {"from": "2029-12-31", "to": "2030-01-07", "manager_id": manager.id, **params}
    return ok(await world.client.get(f"{API}/analytics/sales", headers=world.h("admin"), params=body))


def table(report: dict[str, Any]) -> list[tuple[str, str | None, int, int, int, int]]:
    return [
        (r["period_start"], r["key"], r["net_litres"], r["net_kg"], r["amount_minor"], r["charges"])
        for r in report["rows"]
    ]


async def test_sales_by_customer_per_local_day_week_and_month(world, app) -> None:
    manager, first, second, _ = await sales_world(world, app)
    a, b = first.customer.id, second.customer.id
    by_day = await sales(world, manager, group_by="customer", period="day")
    assert table(by_day) == [
        ("2029-12-31", a, 1_200, 1_000, 960_000, 1),
        ("2030-01-01", a, 2_400, 2_000, 1_920_000, 1),
        ("2030-01-02", a, 3_600, 3_000, 2_880_000, 1),
        ("2030-01-06", b, 600, 500, 480_000, 1),
        ("2030-01-07", b, 840, 700, 672_000, 1),
    ]
    assert by_day["totals"] == {
        "net_litres": 8_640,
        "net_kg": 7_200,
        "net_tonnes": 7.2,
        "amount_minor": 6_912_000,
        "charges": 5,
    }
    assert by_day["rows"][0]["label"].startswith("测试物流")
    by_week = await sales(world, manager, group_by="customer", period="week")
    assert table(by_week) == [
        ("2029-12-31", a, 7_200, 6_000, 5_760_000, 3),
        ("2029-12-31", b, 600, 500, 480_000, 1),
        ("2030-01-07", b, 840, 700, 672_000, 1),
    ]
    by_month = await sales(world, manager, group_by="customer", period="month")
    assert table(by_month) == [
        ("2029-12-01", a, 1_200, 1_000, 960_000, 1),
        ("2030-01-01", a, 6_000, 5_000, 4_800_000, 2),
        ("2030-01-01", b, 1_440, 1_200, 1_152_000, 2),
    ]


async def test_sales_by_depot_product_and_manager(world, app) -> None:
    manager, _first, _second, other_depot = await sales_world(world, app)
    by_depot = await sales(world, manager, group_by="depot", period="month", **{"from": "2030-01-01"})
    assert [(r["key"], r["label"], r["net_kg"]) for r in by_depot["rows"]] == [
        (world.depots["main"]["id"], world.depots["main"]["name"], 5_000),
        (other_depot["id"], other_depot["name"], 1_200),
    ]
    by_product = await sales(world, manager, group_by="product", period="month", **{"from": "2030-01-01"})
    assert [(r["key"], r["label"], r["net_kg"]) for r in by_product["rows"]] == [("diesel-0", "0号柴油", 6_200)]
    by_manager = await sales(world, manager, group_by="manager", period="week")
    assert [(r["period_start"], r["key"], r["net_kg"]) for r in by_manager["rows"]] == [
        ("2029-12-31", manager.id, 6_500),
        ("2030-01-07", manager.id, 700),
    ]
    assert by_manager["rows"][0]["label"] == manager.username


async def test_sales_as_csv_and_xlsx_and_who_may_ask(world, app) -> None:
    manager, first, _second, _ = await sales_world(world, app)
    params = {"from": "2029-12-31", "to": "2030-01-07", "group_by": "customer", "period": "month"}
    as_csv = await world.client.get(f"{API}/analytics/sales.csv", headers=manager.h, params=params)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[0][0] == "期间 Period"
    assert rows[1][:2] == ["2029-12-01", first.customer.id] and rows[1][3:] == ["1200", "1.000", "9600.00", "1"]
    assert len(rows) == 4
    as_xlsx = await world.client.get(f"{API}/analytics/sales.xlsx", headers=manager.h, params=params)
    assert as_xlsx.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[1][0].date().isoformat() == "2029-12-01" and values[1][1] == first.customer.id
    assert (values[1][3], float(values[1][4]), float(values[1][5]), values[1][6]) == (1200, 1.0, 9600.0, 1)
    # A manager sees its own customers only; another manager asking for these gets 403.
    colleague = await new_manager(world)
    own = ok(await world.client.get(f"{API}/analytics/sales", headers=colleague.h, params=params))
    assert own["rows"] == []
    foreign = await world.client.get(
        f"{API}/analytics/sales", headers=colleague.h, params={**params, "manager_id": manager.id}
    )
    assert foreign.status_code == 403
    bad = await world.client.get(f"{API}/analytics/sales", headers=manager.h, params={**params, "group_by": "colour"})
    assert bad.status_code == 400
    backwards = await world.client.get(
        f"{API}/analytics/sales", headers=manager.h, params={**params, "from": "2030-02-01"}
    )
    assert backwards.status_code == 422 and backwards.json()["code"] == "invalid_range"
    for path in ("sales", "deliveries", "referrals"):
        ancient = await world.client.get(f"{API}/analytics/{path}", headers=manager.h, params={"from": "0001-01-01"})
        assert ancient.status_code == 422 and ancient.json()["code"] == "date_out_of_range", path
    ancient = await world.client.get(f"{API}/visits", headers=manager.h, params={"to": "9999-12-31"})
    assert ancient.status_code == 422 and ancient.json()["field"] == "to"


async def test_deliveries_on_time_share_and_lateness(world, app) -> None:
    manager = await new_manager(world)
    history = History(app, await world.new_customer(), world.depots["main"])
    await assign(world, history.customer.id, manager)
    end = local(2030, 1, 5, 12)
    minutes = timedelta(minutes=1)
    placed = local(2030, 1, 3)
    for arrived in (end - 10 * minutes, end, end + 10 * minutes, end + 45 * minutes, end + 180 * minutes):
        await history.delivered(placed, window_end=end, arrived=arrived, delivered=arrived + 30 * minutes)
    # No arrival recorded: the delivery time counts (late by 20 minutes), on the next day.
    next_end = local(2030, 1, 6, 12)
    await history.delivered(placed, window_end=next_end, arrived=None, delivered=next_end + 20 * minutes)
    params = {"from": "2030-01-05", "to": "2030-01-06", "manager_id": manager.id}
    body = ok(await world.client.get(f"{API}/analytics/deliveries", headers=world.h("dispatcher"), params=params))
    assert body["summary"] == {
        "deliveries": 6,
        "on_time": 2,
        "on_time_share": 0.3333,
        "early": 0,
        "lateness": {"on_time": 2, "<=15m": 1, "15-30m": 1, "30-60m": 1, "1-2h": 0, ">2h": 1},
    }
    days = {row["key"]: row["punctuality"] for row in body["by_day"]}
    assert (days["2030-01-05"]["deliveries"], days["2030-01-05"]["on_time_share"]) == (5, 0.4)
    assert (days["2030-01-06"]["deliveries"], days["2030-01-06"]["on_time"]) == (1, 0)
    assert [(r["key"], r["punctuality"]["deliveries"]) for r in body["by_customer"]] == [(history.customer.id, 6)]
    assert [r["key"] for r in body["by_depot"]] == [world.depots["main"]["id"]]
    only_the_5th = ok(
        await world.client.get(
            f"{API}/analytics/deliveries", headers=manager.h, params={"from": "2030-01-06", "to": "2030-01-06"}
        )
    )
    assert only_the_5th["summary"]["deliveries"] == 1


async def test_the_promise_measured_per_day_depot_and_customer(world, app) -> None:
    """A hand-computed world: windows 10:00-12:00 local. One customer at the main depot: early (09:30, waited for
    the window) and on time (11:30) on the 5th; another at a second depot: 20 minutes late (12:20) on the 5th and
    two hours late (14:00, exactly 120 minutes) on the 6th."""
    manager = await new_manager(world)
    near = History(app, await world.new_customer(), world.depots["main"])
    far = History(app, await world.new_customer(), await world.new_depot())
    for history in (near, far):
        await assign(world, history.customer.id, manager)
    placed, minutes = local(2030, 1, 3), timedelta(minutes=1)
    fifth, sixth = local(2030, 1, 5, 12), local(2030, 1, 6, 12)
    await near.delivered(placed, window_end=fifth, arrived=fifth - 150 * minutes, delivered=fifth - 60 * minutes)
    await near.delivered(placed, window_end=fifth, arrived=fifth - 30 * minutes, delivered=fifth)
    await far.delivered(placed, window_end=fifth, arrived=fifth + 20 * minutes, delivered=fifth + 50 * minutes)
    await far.delivered(placed, window_end=sixth, arrived=sixth + 120 * minutes, delivered=sixth + 150 * minutes)
    params = {"from": "2030-01-05", "to": "2030-01-06", "manager_id": manager.id}
    body = ok(await world.client.get(f"{API}/analytics/deliveries", headers=world.h("admin"), params=params))
    assert body["summary"] == {
        "deliveries": 4,
        "on_time": 2,
        "on_time_share": 0.5,
        "early": 1,
        "lateness": {"on_time": 2, "<=15m": 0, "15-30m": 1, "30-60m": 0, "1-2h": 1, ">2h": 0},
    }
    days = {row["key"]: row["punctuality"] for row in body["by_day"]}
    assert days["2030-01-05"]["deliveries"] == 3 and days["2030-01-05"]["on_time_share"] == 0.6667
    assert days["2030-01-05"]["lateness"]["15-30m"] == 1 and days["2030-01-05"]["early"] == 1
    assert (days["2030-01-06"]["on_time"], days["2030-01-06"]["lateness"]["1-2h"]) == (0, 1)
    customers = {row["key"]: row["punctuality"] for row in body["by_customer"]}
    assert (customers[near.customer.id]["on_time_share"], customers[near.customer.id]["early"]) == (1.0, 1)
    assert customers[far.customer.id]["on_time_share"] == 0.0
    depots = {row["key"]: (row["label"], row["punctuality"]["on_time"]) for row in body["by_depot"]}
    assert depots == {
        world.depots["main"]["id"]: (world.depots["main"]["name"], 2),
        far.depot["id"]: (far.depot["name"], 0),
    }


async def test_the_monthly_rollup_gives_the_same_figures_and_is_what_months_are_read_from(world, app) -> None:
    """The rollup is shared by the whole database: the test removes it again, whatever happens."""
    import uuid

    from sqlalchemy import delete, update

    from insight import rollup
    from insight.models import RollupState, SalesMonth
    from tests.conftest import T0
    from tests.insight_factories import SHANGHAI
    from tests.money_factories import money_session

    manager, first, _second, _ = await sales_world(world, app)
    params = {"group_by": "customer", "period": "month", "from": "2029-12-01"}  # December whole
    live = table(await sales(world, manager, **params))
    live_insight = ok(await world.client.get(f"{API}/analytics/customers", headers=manager.h))["items"]
    try:
        async with money_session(app) as session:
            assert await rollup.refresh(session, now=T0, tz=SHANGHAI) >= 1
        assert table(await sales(world, manager, **params)) == live
        assert ok(await world.client.get(f"{API}/analytics/customers", headers=manager.h))["items"] == live_insight
        # December is read from the rollup now: a (deliberately wrong) rollup row shows in the report ...
        async with money_session(app) as session:
            await session.execute(
                update(SalesMonth)
                .where(SalesMonth.customer_id == uuid.UUID(first.customer.id))
                .values(net_kg=SalesMonth.net_kg + 1_000_000)
            )
        december = table(await sales(world, manager, **params))[0]
        assert december[3] == 1_001_000
        tampered = ok(await world.client.get(f"{API}/analytics/customers", headers=manager.h))["items"]
        assert next(i["net_kg"] for i in tampered if i["customer_id"] == first.customer.id) == 1_006_000
        # ... and a charge recorded late for a closed month is counted when the rollup runs next.
        await first.charges((local(2029, 12, 15), 100), litres=120, amount=96_000)
        async with money_session(app) as session:
            assert (
                await rollup.refresh(session, now=T0, tz=SHANGHAI) >= 1
            )  # December, and any month another test charged
        assert table(await sales(world, manager, **params))[0] == (
            "2029-12-01",
            first.customer.id,
            1_320,
            1_100,
            1_056_000,
            2,
        )
    finally:
        async with money_session(app) as session:
            await session.execute(delete(SalesMonth))
            await session.execute(delete(RollupState))
