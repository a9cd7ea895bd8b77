"""The order form when the fleet is full that day, in a real browser: the quote's proposals in words (English and
Chinese), a button that takes the next window, and one that switches to the pickup booking with the slot chosen.

The test's own depot (far from the demo's, in Guangxi) has one tanker of two 6,000 L compartments whose rack loads
only from 06:00 to 07:00: two orders of 6,000 L fill tomorrow.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.e2e.browser import SHANGHAI, Server, login, new_page, shoot

pytestmark = pytest.mark.e2e

EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]
LAT, LON = 24.0, 110.0


def _full_day(server: Server) -> tuple[dict[str, Any], str, str]:
    """The depot, the customer's username (one site near it) and tomorrow, which two orders have filled."""
    suffix = uuid.uuid4().hex[:6]
    depot = server.send(
        "POST",
        "/depots",
        "admin",
        {
            "code": f"e2e-full-{suffix}",
            "name": f"Guilin Depot 桂林油库 {suffix}",
            "lat": LAT,
            "lon": LON,
            "timezone": "Asia/Shanghai",
            "opening_hours": [{"days": EVERY_DAY, "open": "06:00", "close": "07:00"}],
            "loading_bays": 2,
            "products": ["diesel-0"],
        },
    )
    today = datetime.now(SHANGHAI).date()
    prices = [
        {
            "depot_id": depot["id"],
            "product_code": "diesel-0",
            "date": (today + timedelta(days=d)).isoformat(),
            "price_per_litre_minor": 780,
        }
        for d in range(5)
    ]
    server.send("PUT", "/prices", "admin", prices)
    tanker = {
        "plate": f"桂C{uuid.uuid4().int % 100000:05d}",
        "depot_id": depot["id"],
        "compartments_litres": [6000, 6000],
        "vehicle_class": 3,
        "cost_per_km_minor": 650,
        "fixed_cost_minor": 50_000,
        "shift_start": "06:00:00",
        "shift_end": "20:00:00",
    }
    server.send("POST", "/tankers", "dispatcher", tanker)
    driver = server.send(
        "POST", "/users", "admin", {"username": f"drv-{suffix}", "password": "Driver-pass-1234", "role": "driver"}
    )
    server.send(
        "POST",
        "/drivers",
        "dispatcher",
        {
            "user_id": driver["id"],
            "name": f"Driver {suffix}",
            "phone": f"139{uuid.uuid4().int % 10**8:08d}",
            "hazmat_licence_expires": (today + timedelta(days=700)).isoformat(),
            "shift_start": "06:00:00",
            "shift_end": "20:00:00",
            "home_depot_id": depot["id"],
        },
    )
    account = server.send(
        "POST", "/customers", "admin", {"name": f"满车物流 Full Fleet {suffix}", "credit_limit_minor": 100_000_000}
    )
    username, password = f"full-{suffix}", "Customer-pass-1234"
    server.send(
        "POST",
        "/users",
        "admin",
        {"username": username, "password": password, "role": "customer", "customer_id": account["id"]},
    )
    server.passwords[username] = password
    site = server.send(
        "POST",
        "/sites",
        username,
        {
            "name": f"Yard {suffix}",
            "address": "1 Lijiang Road, Guilin",
            "lat": LAT + 0.01,
            "lon": LON + 0.01,
            "tank_capacity_litres": 30_000,
            "receiving_hours": [{"days": EVERY_DAY, "open": "06:00", "close": "22:00"}],
        },
    )
    tomorrow = (today + timedelta(days=1)).isoformat()
    for start, end in (("08:00", "10:00"), ("10:00", "12:00")):
        order = {
            "site_id": site["id"],
            "product_code": "diesel-0",
            "quantity_litres": 6000,
            "delivery_date": tomorrow,
            "window_start": start,
            "window_end": end,
        }
        answer = server.http.post(
            "/orders",
            json=order,
            headers={"Authorization": f"Bearer {server.token(username)}", "Idempotency-Key": str(uuid.uuid4())},
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["depot_id"] == depot["id"]
    return depot, username, tomorrow


def _quote_tomorrow(page: Any, server: Server, username: str, day: str, *, lang: str = "en") -> None:
    login(page, server, username, lang=lang)
    page.wait_for_selector(".site")
    page.locator(".site a").first.click()
    page.wait_for_selector("input[name=quantity_litres]")
    page.fill("input[name=quantity_litres]", "6000")
    page.fill("input[name=delivery_date]", day)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_selector("#fleet-full")


def test_a_full_day_shows_the_proposals_and_takes_the_next_window_or_the_pickup_slot(
    server: Server, browser: Any
) -> None:
    depot, username, day = _full_day(server)
    site_id = server.get("/sites", username)["items"][0]["id"]
    quote = server.send(
        "POST",
        "/quotes",
        username,
        {"site_id": site_id, "product_code": "diesel-0", "quantity_litres": 6000, "delivery_date": day},
    )
    assert quote["fleet_full"] is True, quote
    nxt, pickup = quote["earliest_window"], quote["pickup_alternative"]
    assert nxt["delivery_date"] > day and pickup["depot_id"] == depot["id"]

    page, watch = new_page(browser)
    _quote_tomorrow(page, server, username, day)
    box = page.locator("#fleet-full")
    words = " ".join(box.inner_text().split())
    assert "The fleet is full on" in words
    assert f"{nxt['window_start']}–{nxt['window_end']}" in page.locator("#next-window").inner_text()
    slot_words = page.locator("#pickup-alternative").inner_text()
    assert depot["name"] in slot_words and pickup["slot_start_at"][11:16] in slot_words
    assert f"{pickup['places_left']} places left" in slot_words
    # No feasible window that day: every window is shown refused.
    assert page.locator("#windows li[data-feasible=true]").count() == 0
    shoot(page, "07-quote-fleet-full")

    # The next window: the form moves to it and quotes again; that day has room.
    page.click("#take-next-window")
    page.wait_for_function(f"document.querySelector('input[name=delivery_date]').value === '{nxt['delivery_date']}'")
    page.wait_for_selector("#earliest-window")
    assert page.locator("#fleet-full").count() == 0
    assert page.input_value("select[name=window_start]") == nxt["window_start"]
    assert page.input_value("select[name=window_end]") == nxt["window_end"]

    # Back to the full day: the pickup slot instead, on the pickup booking with that slot chosen.
    page.fill("input[name=delivery_date]", day)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_selector("#book-pickup-slot")
    page.click("#book-pickup-slot")
    page.wait_for_url(lambda url: "/app/customer/pickup" in url)
    page.wait_for_selector("input[name=slot_start]:checked")
    assert page.input_value("select[name=depot_id]") == depot["id"]
    assert page.input_value("input[name=date]") == day
    assert page.input_value("input[name=quantity_litres]") == "6000"
    assert page.locator("input[name=slot_start]:checked").get_attribute("value") == pickup["slot_start_at"]
    shoot(page, "07-pickup-proposed-slot")
    watch.assert_clean()

    # The same proposals in Chinese.
    zh, zh_watch = new_page(browser)
    _quote_tomorrow(zh, server, username, day, lang="zh-CN")
    assert "车队已满" in zh.locator("#fleet-full").inner_text()
    assert "自提" in zh.locator("#pickup-alternative").inner_text()
    assert zh.locator("#take-next-window").inner_text() == "选这个时段"
    zh_watch.assert_clean()
