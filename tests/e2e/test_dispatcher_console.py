"""The dispatcher console in a real browser: the day's orders with filters and totals, planning with a live
progress bar, the plan on the map (routes per tanker, depots, numbered stops) and as a timeline, a pin with its
"re-plan to apply" hint, publishing; then the driver sees the route on a phone."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.e2e.browser import DESKTOP, SHANGHAI, Server, login, new_page, shoot

pytestmark = pytest.mark.e2e


def place_orders(server: Server, day: str) -> list[dict[str, Any]]:
    """One order per demo site that receives deliveries that day (weekday sites are closed on Sundays)."""
    placed = []
    for user in ("fleet1", "fleet2", "fleet3"):
        for site in server.all("/sites", user):
            body = {
                "site_id": site["id"],
                "product_code": "diesel-0",
                "quantity_litres": 5000,
                "delivery_date": day,
                "window_start": "09:00",
                "window_end": "12:00",
            }
            headers = {"Authorization": f"Bearer {server.token(user)}", "Idempotency-Key": str(uuid.uuid4())}
            answer = server.http.post("/orders", json=body, headers=headers)
            if answer.status_code in (200, 201):
                placed.append(answer.json())
            else:
                assert answer.json()["code"] == "outside_receiving_hours", answer.text
    assert len(placed) >= 2, placed
    return placed


def pair_driver1(server: Server, day: str) -> str:
    """driver1 drives 沪A10001 that day; returns the tanker's id."""
    me = server.get("/me", "driver1")
    user_id = me.get("id") or me["user"]["id"]
    driver = next(d for d in server.all("/drivers", "dispatcher") if d["user_id"] == user_id)
    tanker = next(t for t in server.all("/tankers", "dispatcher") if t["plate"] == "沪A10001")
    server.send("POST", "/pairings", "dispatcher", {"date": day, "tanker_id": tanker["id"], "driver_id": driver["id"]})
    return str(tanker["id"])


def test_dispatcher_plans_watches_progress_and_publishes(server: Server, browser: Any) -> None:
    day = (datetime.now(SHANGHAI).date() + timedelta(days=1)).isoformat()
    placed = place_orders(server, day)
    tanker_id = pair_driver1(server, day)
    page, watch = new_page(browser)
    page.set_viewport_size(DESKTOP)
    login(page, server, "dispatcher")
    page.wait_for_url("**/app/dispatcher")
    page.wait_for_selector("#order-totals [data-count]")
    count = int(page.get_attribute("#order-totals [data-count]", "data-count"))
    assert count >= len(placed)
    total_litres = int(page.get_attribute("#order-totals [data-litres]", "data-litres"))
    assert total_litres >= 5000 * len(placed)
    assert page.locator(".orders-table tbody tr").count() == count
    assert page.locator("#live-state").inner_text() in ("Live", "Connecting…", "Refreshing every few seconds")

    # Filters: by status (all of ours are confirmed), and by a product nobody ordered.
    page.select_option("#filter-product", "diesel-m35")
    page.wait_for_selector("text=No order matches these filters.")
    page.select_option("#filter-product", "")
    page.select_option("#filter-status", "confirmed")
    assert page.locator(".orders-table tbody tr[data-status=confirmed]").count() >= len(placed)
    page.select_option("#filter-status", "")

    # Plan with a time limit: the progress bar moves and reaches "done", with the best cost.
    page.fill("#time-limit", "4")
    page.click("#plan-button")
    page.wait_for_selector("#plan-job[data-status=running]", timeout=30_000)
    page.wait_for_selector("#plan-job[data-status=succeeded]", timeout=90_000)
    assert page.get_attribute("#plan-progress", "value") == "1"
    assert "best cost so far ¥" in page.inner_text("#job-state")
    page.wait_for_selector("#plan [data-plan-status=draft]")

    # The plan on the map: one coloured route per trip, depots, numbered stops; and on the timeline.
    stops = page.locator(".plan-map .map-stop")
    assert stops.count() == page.locator(".stop-row").count() >= 2
    assert page.locator(".plan-map .map-depot").count() >= 1
    assert page.locator(".plan-map .map-route").count() == page.locator(".trip").count()
    assert "© OpenStreetMap contributors" in page.inner_text(".plan-map")
    colours = set(page.eval_on_selector_all(".plan-map .map-route", "els => els.map(e => e.getAttribute('stroke'))"))
    assert len(colours) == page.locator(".route-card").count()
    assert page.locator(".timeline-svg .tl-row").count() == page.locator(".route-card").count()
    for kind in ("loading", "driving", "delivering", "idle"):
        assert page.locator(f".timeline-svg [data-kind={kind}]").count() >= 1, kind
    assert page.locator(".timeline-svg .tl-shift").count() >= 1
    assert page.locator(".timeline-svg .tl-window").count() == stops.count()
    assert page.locator(".orders-table td:has-text('#1')").count() >= 1  # the table names each order's tanker
    shoot(page, "20-dispatcher-plan")

    # Move a stop to driver1's tanker: on a draft the move is made at once (re-timed, checked) and pinned.
    first = page.locator(".stop-row").first
    order_id = first.get_attribute("data-order")
    first.locator("button[data-pin-for]").click()
    first.locator("select[name=tanker_id]").select_option(tanker_id)
    first.locator("form.pin-form button[type=submit]").click()
    page.wait_for_selector("#banner:has-text('Moved')")
    moved = page.locator(f".route-card[data-tanker='{tanker_id}'] .stop-row[data-order='{order_id}']")
    moved.locator(".chip:has-text('Pinned')").wait_for(timeout=10_000)  # re-rendered from the PATCH answer
    assert page.locator("#outdated-banner").count() == 0  # nothing waits for a re-plan

    # Publish: the orders become scheduled.
    page.click("#publish")
    page.wait_for_selector("#plan [data-plan-status=published]", timeout=30_000)
    page.wait_for_selector("#banner:has-text('The plan is published')")
    published = {o["id"]: o for o in server.get(f"/orders?date={day}&limit=500", "dispatcher")["items"]}
    assert all(published[o["id"]]["status"] == "scheduled" for o in placed if o["id"] in published)
    page.wait_for_selector(".orders-table tr[data-status=scheduled]")
    shoot(page, "21-dispatcher-published")
    watch.assert_clean()

    # The driver sees the route on a phone: trips and stops in order with address, window and quantity.
    driver, driver_watch = new_page(browser)
    login(driver, server, "driver1")
    driver.wait_for_url("**/app/driver")
    driver.click("a.day-tab:has-text('Tomorrow')")
    driver.wait_for_selector(".trip-card")
    plan = server.get(f"/plans?date={day}", "dispatcher")
    assert any(p["status"] == "published" for p in plan)
    items = driver.locator(".driver-stop")
    assert items.count() >= 1
    text = items.first.inner_text()
    assert "Window" in text and " L" in text
    assert driver.locator("a:has-text('Show the load code')").count() >= 1
    shoot(driver, "22-driver-route")
    driver.locator("a:has-text('Show the load code')").first.click()
    driver.wait_for_selector("#load-qr svg path")
    shoot(driver, "23-driver-load-code")
    driver_watch.assert_clean()


def test_a_stale_plan_is_refused_in_words_and_can_be_published_anyway(server: Server, browser: Any) -> None:
    day = (datetime.now(SHANGHAI).date() + timedelta(days=2)).isoformat()
    prices = [
        {"depot_id": depot["id"], "product_code": code, "date": day, "price_per_litre_minor": 790}
        for depot in server.get("/depots", "admin")
        for code in depot["products"]
    ]
    server.send("PUT", "/prices", "admin", prices)
    placed = place_orders(server, day)
    accepted = server.send("POST", "/plans", "dispatcher", {"date": day, "time_limit_s": 2})
    page, watch = new_page(browser, allowed_statuses=(409,))
    page.set_viewport_size(DESKTOP)
    login(page, server, "dispatcher")
    page.goto(f"{server.url}/app/dispatcher?date={day}")
    deadline = datetime.now() + timedelta(seconds=60)
    while server.get(f"/plan-jobs/{accepted['job_id']}", "dispatcher")["status"] != "succeeded":
        assert datetime.now() < deadline, server.log_tail()
        page.wait_for_timeout(500)
    page.reload()
    page.wait_for_selector("#plan [data-plan-status=draft]")

    # A customer cancels one of the planned orders: the console shows the plan is outdated, without a reload.
    order = placed[0]
    owner = next(
        u for u in ("fleet1", "fleet2", "fleet3") if any(s["id"] == order["site_id"] for s in server.all("/sites", u))
    )
    server.send("POST", f"/orders/{order['id']}/cancel", owner, {"reason": "plans changed"})
    page.wait_for_selector("#outdated-banner", timeout=30_000)
    assert "changed or cancelled" in page.inner_text("#outdated-banner")

    page.click("#publish")
    page.wait_for_selector("#publish-anyway")
    assert "Not published" in page.inner_text(".publish-message")
    shoot(page, "24-dispatcher-stale")
    page.click("#publish-anyway")
    page.wait_for_selector("#plan [data-plan-status=published]", timeout=30_000)
    assert server.get(f"/orders/{order['id']}", "dispatcher")["status"] == "cancelled"
    watch.assert_clean()
