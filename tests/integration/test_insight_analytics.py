"""The account managers' figures on small worlds computed by hand: bands, yearly net tonnes, the quarter's trend,
the usual interval, the dormant rule (with the floor for new customers) and each of its reasons, the dashboard
(top customers, visits due, reactivation) and who may see what.

The frozen clock stands at T0 = Monday 2030-01-07 09:00 in Shanghai (01:00 UTC): the quarter is 2030-Q1, which
started on 2030-01-01 00:00 local; the same part of it a year earlier is 2029-01-01 00:00 .. 2029-01-07 09:00.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.conftest import T0
from tests.factories import ok
from tests.insight_factories import Account, History, assign, local, new_manager

pytestmark = pytest.mark.integration
API = "/api/v1"
DAY = timedelta(days=1)


async def customers_of(world: Any, manager: Any, **params: Any) -> dict[str, dict[str, Any]]:
    page = ok(await world.client.get(f"{API}/analytics/customers", headers=manager.h, params={"limit": 500, **params}))
    return {item["customer_id"]: item for item in page["items"]}


async def managed_customer(world: Any, app: Any, manager: Any, depot: dict[str, Any] | None = None) -> History:
    customer = await world.new_customer()
    await assign(world, customer.id, manager)
    return History(app, customer, depot or world.depots["main"])


async def test_bands_follow_yearly_net_tonnes_of_the_last_365_days(world, app) -> None:
    manager = await new_manager(world)
    kgs = {"<20t": 19_999, "20-50t": 20_000, "50-100t": 50_000, "100-500t": 499_999, ">500t": 500_001}
    histories = {}
    for band, kg in kgs.items():
        history = await managed_customer(world, app, manager)
        # Half ten days ago, half 364 days ago; a charge 366 days ago is outside the year.
        await history.charges((T0 - 10 * DAY, kg // 2), (T0 - 364 * DAY, kg - kg // 2), (T0 - 366 * DAY, 90_000))
        histories[band] = history
    found = await customers_of(world, manager)
    for band, history in histories.items():
        item = found[history.customer.id]
        assert (item["band"], item["net_kg"]) == (band, kgs[band])
        assert item["net_tonnes"] == round(kgs[band] / 1000, 3)
    levels = {found[h.customer.id]["level"] for h in histories.values()}
    assert levels == {"station_employee", "station", "area", "city", "region"}
    # Largest first; the band filter.
    assert next(iter(found)) == histories[">500t"].customer.id
    only = await customers_of(world, manager, tier="20-50t")
    assert list(only) == [histories["20-50t"].customer.id]
    refused = await world.client.get(f"{API}/analytics/customers", headers=manager.h, params={"tier": "huge"})
    assert refused.status_code == 422 and refused.json()["code"] == "unknown_tier"


async def test_trend_compares_this_quarter_so_far_with_the_same_days_a_year_earlier(world, app) -> None:
    manager = await new_manager(world)
    history = await managed_customer(world, app, manager)
    await history.charges(
        (local(2030, 1, 1, 0, 30), 6_000),  # this quarter (its first half hour)
        (local(2029, 12, 31, 23, 30), 1_000),  # last quarter: not in either figure
        (local(2029, 1, 5), 4_000),  # the same quarter last year, before the same day
        (local(2029, 1, 7, 10), 9_999),  # a year ago, but after the same moment (09:00): not counted
    )
    trend = (await customers_of(world, manager))[history.customer.id]["trend"]
    assert trend == {
        "quarter": "2030-Q1",
        "this_quarter_kg": 6_000,
        "last_year_kg": 4_000,
        "this_quarter_t": 6.0,
        "last_year_t": 4.0,
        "change_pct": 50.0,
    }


async def test_dormant_rule_twice_the_usual_interval_or_the_floor_for_new_customers(world, app) -> None:
    manager = await new_manager(world)
    weekly = await managed_customer(world, app, manager)  # every 7 days, last 15 days ago: quiet after 14
    await weekly.orders(*(T0 - d * DAY for d in (36, 29, 22, 15)))
    steady = await managed_customer(world, app, manager)  # gaps 10, 10, 5: median 10, last 5 days ago
    await steady.orders(*(T0 - d * DAY for d in (30, 20, 10, 5)))
    new_quiet = await managed_customer(world, app, manager)  # 2 orders, the last 31 days ago: past the floor (30)
    await new_quiet.orders(T0 - 35 * DAY, T0 - 31 * DAY)
    new_active = await managed_customer(world, app, manager)  # 1 order 29 days ago: within the floor
    await new_active.orders(T0 - 29 * DAY)
    never = await managed_customer(world, app, manager)  # never ordered: nothing to go quiet from
    cancelled = await managed_customer(world, app, manager)  # a cancelled order is no order
    await cancelled.orders(*(T0 - d * DAY for d in (36, 29, 22)))
    await cancelled.orders(T0 - 2 * DAY, status="cancelled")

    found = await customers_of(world, manager)
    assert found[weekly.customer.id]["usual_interval_days"] == 7.0
    assert found[weekly.customer.id]["dormant"] == {
        "since": (T0 - DAY).isoformat().replace("+00:00", "Z"),
        "reasons": [],
    }
    assert found[weekly.customer.id]["last_order_at"].startswith((T0 - 15 * DAY).date().isoformat())
    assert found[steady.customer.id]["usual_interval_days"] == 10.0
    assert found[steady.customer.id]["dormant"] is None
    assert found[new_quiet.customer.id]["dormant"]["since"].startswith((T0 - DAY).date().isoformat())
    assert found[new_active.customer.id]["dormant"] is None
    assert found[never.customer.id]["dormant"] is None and found[never.customer.id]["last_order_at"] is None
    assert found[cancelled.customer.id]["dormant"] is not None  # last standing order 22 days ago, rhythm 7 days

    dormant = await customers_of(world, manager, dormant="true")
    assert set(dormant) == {weekly.customer.id, new_quiet.customer.id, cancelled.customer.id}


async def test_the_floor_is_configurable(world, app, settings) -> None:
    from dataclasses import replace

    manager = await new_manager(world)
    history = await managed_customer(world, app, manager)
    await history.orders(T0 - 20 * DAY)
    assert (await customers_of(world, manager))[history.customer.id]["dormant"] is None
    original = app.state.settings
    app.state.settings = replace(original, insight=replace(original.insight, dormant_floor_days=19))
    try:
        found = await customers_of(world, manager)
    finally:
        app.state.settings = original
    assert found[history.customer.id]["dormant"]["since"].startswith((T0 - DAY).date().isoformat())


async def quiet_customer(world: Any, app: Any, manager: Any, depot: dict[str, Any] | None = None) -> History:
    """Orders every 7 days, the last 20 days ago (2029-12-18): quiet since 6 days ago."""
    history = await managed_customer(world, app, manager, depot)
    await history.orders(*(T0 - d * DAY for d in (41, 34, 27, 20)))
    return history


async def test_each_reason_of_a_quiet_customer_is_found_in_our_own_data(world, app) -> None:
    manager = await new_manager(world)
    held = await quiet_customer(world, app, manager)
    await held.event("order_on_hold", T0 - 10 * DAY)
    held_long_ago = await quiet_customer(world, app, manager)  # before the last order's look-back (30 days)
    await held_long_ago.event("order_on_hold", T0 - 51 * DAY)
    failed = await quiet_customer(world, app, manager)
    await failed.event("order_failed", T0 - 19 * DAY)
    late = await quiet_customer(world, app, manager)
    window_end = local(2029, 12, 19, 12)
    await late.delivered(
        T0 - 20 * DAY,
        window_end=window_end,
        arrived=window_end + timedelta(minutes=1),
        delivered=window_end + timedelta(minutes=40),
    )
    punctual = await quiet_customer(world, app, manager)  # arrived in time (delivered after the window: not late)
    await punctual.delivered(
        T0 - 20 * DAY,
        window_end=window_end,
        arrived=window_end - timedelta(minutes=5),
        delivered=window_end + timedelta(minutes=30),
    )
    own_depot = await world.new_depot()  # prices from 2030-01-07 at 780; add a lower one in force on 2029-12-18
    priced = await quiet_customer(world, app, manager, own_depot)
    await priced.price(date(2029, 12, 10), 700)
    quoted = await quiet_customer(world, app, manager)
    await quoted.quote(T0 - 3 * DAY)
    quoted_before = await quiet_customer(world, app, manager)  # a quote before its last order is no sign
    await quoted_before.quote(T0 - 21 * DAY)
    unpaid = await quiet_customer(world, app, manager)
    await unpaid.overdue_invoice(due=date(2030, 1, 6))
    not_due = await quiet_customer(world, app, manager)
    await not_due.overdue_invoice(due=date(2030, 1, 7))  # due today: not past due
    silent = await quiet_customer(world, app, manager)

    found = await customers_of(world, manager)

    def reasons(history: History) -> list[str]:
        return found[history.customer.id]["dormant"]["reasons"]

    assert reasons(held) == ["held_on_credit"]
    assert reasons(held_long_ago) == []
    assert reasons(failed) == ["failed_delivery"]
    assert reasons(late) == ["late_delivery"]
    assert reasons(punctual) == []
    assert reasons(priced) == ["price_rise"]
    assert reasons(quoted) == ["quotes_without_orders"]
    assert reasons(quoted_before) == []
    assert reasons(unpaid) == ["unpaid_invoice"]
    assert reasons(not_due) == []
    assert reasons(silent) == []


async def test_quotes_are_logged_by_post_quotes(world, app) -> None:
    manager = await new_manager(world)
    history = await managed_customer(world, app, manager)
    await history.orders(*(T0 - d * DAY for d in (41, 34, 27, 20)))
    body = {
        "site_id": history.customer.site["id"],
        "product_code": "diesel-0",
        "delivery_date": "2030-01-09",
        "quantity_litres": 5000,
    }
    ok(await world.client.post(f"{API}/quotes", headers=history.customer.h, json=body))
    assert (await customers_of(world, manager))[history.customer.id]["dormant"]["reasons"] == ["quotes_without_orders"]


async def test_a_manager_sees_its_own_customers_only(world, app) -> None:
    mine, theirs = await new_manager(world), await new_manager(world)
    history = await managed_customer(world, app, mine)
    assert history.customer.id in await customers_of(world, mine)
    assert history.customer.id not in await customers_of(world, theirs)
    refused = await world.client.get(f"{API}/analytics/customers", headers=theirs.h, params={"manager_id": mine.id})
    assert refused.status_code == 403 and refused.json()["code"] == "not_your_customers"
    dashboard = await world.client.get(f"{API}/analytics/managers/{mine.id}/dashboard", headers=theirs.h)
    assert dashboard.status_code == 403
    # Staff who are not managers see nothing of it; the admin sees anyone's.
    plain = await world.client.get(f"{API}/analytics/customers", headers=world.h("dispatcher"))
    assert plain.status_code == 403 and plain.json()["code"] == "forbidden"
    customer = await world.client.get(f"{API}/analytics/customers", headers=history.customer.h)
    assert customer.status_code == 403
    by_admin = ok(
        await world.client.get(f"{API}/analytics/customers", headers=world.h("admin"), params={"manager_id": mine.id})
    )
    assert [i["customer_id"] for i in by_admin["items"]] == [history.customer.id]


async def test_dashboard_bands_top_customers_and_visits_due(world, app) -> None:
    from tests.insight_visits import visit_at

    manager = await new_manager(world)
    small = [await managed_customer(world, app, manager) for _ in range(12)]
    for index, history in enumerate(small):  # 1,000 .. 12,000 kg this quarter; none last year
        await history.charges((local(2030, 1, 2), 1_000 * (index + 1)))
    big = await managed_customer(world, app, manager)
    await big.charges((local(2029, 1, 3), 10_000), (local(2030, 1, 3), 30_000))  # 30 t: 20-50t band
    # The largest small customer was visited this quarter, the second largest last quarter.
    await visit_at(world, app, manager, small[11], local(2030, 1, 2, 10))
    await visit_at(world, app, manager, small[10], local(2029, 12, 20, 10))

    body = ok(await world.client.get(f"{API}/analytics/managers/{manager.id}/dashboard", headers=manager.h))
    assert body["customers"] == 13 and body["quarter"] == "2030-Q1"
    bands = {b["band"]: b for b in body["bands"]}
    assert bands["<20t"]["customers"] == 12 and bands["<20t"]["net_kg"] == 78_000
    assert bands["20-50t"]["customers"] == 1
    assert bands["20-50t"]["trend"]["this_quarter_kg"] == 30_000 and bands["20-50t"]["trend"]["last_year_kg"] == 10_000
    assert bands["20-50t"]["trend"]["change_pct"] == 200.0
    assert bands[">500t"]["customers"] == 0 and bands[">500t"]["trend"]["change_pct"] is None
    assert [t["customer_id"] for t in body["top"]] == [big.customer.id] + [h.customer.id for h in small[::-1][:9]]
    top = {t["customer_id"]: t for t in body["top"]}
    assert top[small[11].customer.id]["visited_this_quarter"] is True
    assert top[small[10].customer.id]["last_visit_at"].startswith("2029-12-20")
    assert top[small[10].customer.id]["visited_this_quarter"] is False
    # Due: the top 10 of each band not visited this quarter: of the small ones 12..3 t but the visited 12 t.
    due = [d["customer_id"] for d in body["due_visits"]]
    assert due == [h.customer.id for h in small[::-1][1:10]] + [big.customer.id]
    assert body["dormant"] == 0


async def test_reactivation_counts_quiet_customers_won_back_within_60_days_of_a_visit(world, app, clock) -> None:
    from tests.insight_visits import visit_at

    manager = await new_manager(world)
    won = await quiet_customer(world, app, manager)
    lost = await quiet_customer(world, app, manager)
    awake = await managed_customer(world, app, manager)  # not quiet when visited: not counted
    await awake.orders(*(T0 - d * DAY for d in (21, 14, 7)))
    for history in (won, lost, awake):
        await visit_at(world, app, manager, history, T0)
        await visit_at(world, app, manager, history, T0 + 2 * DAY)  # another visit in the same quiet spell
    await won.orders(T0 + 20 * DAY)
    await lost.orders(T0 + 63 * DAY)  # too late to count as won back by these visits

    async def reactivation() -> dict[str, Any]:
        body = ok(await world.client.get(f"{API}/analytics/managers/{manager.id}/dashboard", headers=manager.h))
        return body["reactivation"]

    async def outcomes() -> dict[tuple[str, str], str | None]:
        page = ok(await world.client.get(f"{API}/visits", headers=manager.h, params={"limit": 50}))
        return {(v["customer_id"], v["day"]): v["outcome"] for v in page["items"]}

    first, second = str((T0 + 0 * DAY).date()), str((T0 + 2 * DAY).date())
    clock.set(T0 + 30 * DAY)
    assert await reactivation() == {"dormant_visited": 2, "won_back": 1, "pending": 1, "rate": 0.5}
    # Each visit says the same in the visit list: won back, still waiting, or nothing for a customer not quiet.
    by_visit = await outcomes()
    assert by_visit[(won.customer.id, first)] == by_visit[(won.customer.id, second)] == "won_back"
    assert by_visit[(lost.customer.id, first)] == by_visit[(lost.customer.id, second)] == "pending"
    assert by_visit[(awake.customer.id, first)] is None
    clock.set(T0 + 70 * DAY)
    assert await reactivation() == {"dormant_visited": 2, "won_back": 1, "pending": 0, "rate": 0.5}
    by_visit = await outcomes()
    assert by_visit[(won.customer.id, first)] == "won_back"
    # 63 days after the first visit and 61 after the second: too late for either.
    assert by_visit[(lost.customer.id, first)] == by_visit[(lost.customer.id, second)] == "not_won_back"


async def test_referral_scoreboard_counts_sign_ups_and_app_adoption(world, app) -> None:
    manager = await new_manager(world)
    code = (await world.client.get(f"{API}/me/referral.svg", headers=manager.h)).headers["X-Referral-Code"]
    suffix = code.lower()
    site = {
        "name": "Yard",
        "address": "1 Road",
        "lat": 31.3,
        "lon": 121.5,
        "tank_capacity_litres": 20000,
        "receiving_hours": [{"days": [1, 2, 3, 4, 5, 6, 7], "open": "06:00", "close": "22:00"}],
    }
    approved = []
    for index in range(2):
        application = ok(
            await world.client.post(
                f"{API}/applications",
                json={
                    "company_name": f"Referred {suffix} {index}",
                    "tax_id": f"91310000REF{index}{suffix}"[:18],
                    "contact_name": "Li",
                    "contact_phone": "13800000000",
                    "username": f"ref-{suffix}-{index}",
                    "password": "a-long-password-1",
                    "site": site,
                    "referral_code": code,
                },
            )
        )
        decided = ok(
            await world.client.post(
                f"{API}/applications/{application['id']}/approve",
                headers=world.h("admin"),
                json={"credit_limit_minor": 0},
            )
        )
        assert decided["manager_id"] == manager.id  # the referrer, a manager, by default
        approved.append(decided)
    # One of them orders through the app (an order placed by its own user).
    login = await world.login(f"ref-{suffix}-0", "a-long-password-1")
    me = ok(await world.client.get(f"{API}/me", headers={"Authorization": f"Bearer {login}"}))
    customer_id = approved[0]["customer_id"]
    sites = ok(await world.client.get(f"{API}/sites", headers=world.h("admin"), params={"customer_id": customer_id}))
    history = History(app, Account(id=customer_id, site=sites["items"][0]), world.depots["main"])
    await history.orders(T0 - DAY, created_by=me["user"]["id"])
    board = ok(await world.client.get(f"{API}/analytics/referrals", headers=manager.h))
    row = next(r for r in board["managers"] if r["manager_id"] == manager.id)
    assert (row["sign_ups"], row["sign_ups_ordering_in_app"]) == (2, 1)
    assert (row["customers"], row["app_customers"], row["app_adoption"]) == (2, 1, 0.5)
