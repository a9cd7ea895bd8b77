"""Accessibility basics (axe-core: labels, names, contrast, landmarks, ARIA) on the dispatcher console with a
plan on screen, the driver's route and stop screens, and the customer's order page with its map; in both
languages. No console errors, nothing wider than the screen."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.e2e.browser import DESKTOP, SHANGHAI, Server, login, new_page
from tests.e2e.test_accessibility import AXE, _describe, _violations
from tests.e2e.test_dispatcher_console import pair_driver1, place_orders

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def published_day(server: Server) -> str:
    """Three days ahead: orders, driver1 on 沪A10001, a published plan (prices set for that day)."""
    day = (datetime.now(SHANGHAI).date() + timedelta(days=3)).isoformat()
    prices = [
        {"depot_id": depot["id"], "product_code": code, "date": day, "price_per_litre_minor": 790}
        for depot in server.get("/depots", "admin")
        for code in depot["products"]
    ]
    server.send("PUT", "/prices", "admin", prices)
    place_orders(server, day)
    tanker_id = pair_driver1(server, day)
    plan_and_publish_all(server, day, driver_tanker_id=tanker_id)
    return day


def plan_and_publish_all(server: Server, day: str, *, driver_tanker_id: str) -> None:
    state = server.plan({"date": day, "time_limit_s": 2})
    # The driver's screens need a stop on driver1's tanker; the planner owes it none, so a dispatcher moves one.
    plan = server.get(f"/plans/{state['plan_id']}", "dispatcher")
    if not any(r["tanker_id"] == driver_tanker_id and any(t["stops"] for t in r["trips"]) for r in plan["routes"]):
        stop = next(stop for r in plan["routes"] for t in r["trips"] for stop in t["stops"])
        path = f"/plans/{state['plan_id']}/stops/{stop['id']}"
        server.send("PATCH", path, "dispatcher", {"tanker_id": driver_tanker_id, "pinned": True})
    server.send("POST", f"/plans/{state['plan_id']}/publish", "dispatcher", {"force": True})


def _check(page: Any, what: str) -> None:
    page.wait_for_timeout(600)  # no "networkidle": the live stream stays open
    found = _violations(page)
    assert not found, f"{what}: {_describe(found)}"
    for width in (360, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{what}: {overflow} px wider than a {width} px screen"


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_dispatcher_and_driver_screens_are_accessible(
    server: Server, browser: Any, published_day: str, lang: str
) -> None:
    if not AXE.is_file():
        pytest.skip("axe-core is not installed (npm ci)")
    page, watch = new_page(browser, bypass_csp=True)
    page.set_viewport_size(DESKTOP)
    login(page, server, "dispatcher", lang=lang)
    page.goto(f"{server.url}/app/dispatcher?date={published_day}")
    page.wait_for_selector("#plan [data-plan-status=published]")
    page.wait_for_selector(".plan-map .map-stop")
    _check(page, f"dispatcher ({lang})")
    watch.assert_clean()

    driver, driver_watch = new_page(browser, bypass_csp=True)
    login(driver, server, "driver1", lang=lang)
    driver.goto(f"{server.url}/app/driver?date={published_day}")
    driver.wait_for_selector(".driver-stop")
    _check(driver, f"driver route ({lang})")
    driver.set_viewport_size({"width": 390, "height": 844})
    driver.locator(".driver-stop a").first.click()
    driver.wait_for_selector("#arrive")
    _check(driver, f"driver stop ({lang})")
    # Gloves: every button and link of the driver's stop screen is at least 48 px tall.
    driver.set_viewport_size({"width": 390, "height": 844})
    small = driver.eval_on_selector_all(
        "main .btn, main button, main select, main input:not([type=checkbox])",
        "els => els.filter(e => e.offsetParent && e.getBoundingClientRect().height < 48)"
        ".map(e => e.outerHTML.slice(0, 80))",
    )
    assert not small, small
    driver_watch.assert_clean()


def test_customer_order_page_with_its_map_is_accessible(server: Server, browser: Any, published_day: str) -> None:
    if not AXE.is_file():
        pytest.skip("axe-core is not installed (npm ci)")
    scheduled = list(server.get(f"/orders?date={published_day}&status=scheduled", "fleet1")["items"])
    assert scheduled
    page, watch = new_page(browser, bypass_csp=True)
    login(page, server, "fleet1")
    page.goto(f"{server.url}/app/customer/orders/{scheduled[0]['id']}")
    page.wait_for_selector(".order-map .map-stop-mine")
    _check(page, "customer order page with the map")
    watch.assert_clean()


def test_maps_draw_tiles_under_the_routes_when_a_tile_server_is_configured(
    server: Server, browser: Any, published_day: str
) -> None:
    """The page shell's setting (window.DIESEL_CONFIG.tileUrl, from MAP_TILE_URL) switches the map to Web
    Mercator with tiles underneath and the OpenStreetMap attribution. The "tile server" here is this very
    origin, answered by the test (so the page's policy allows it and nothing leaves the machine)."""
    import base64

    pixel = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    page, watch = new_page(browser)
    page.set_viewport_size(DESKTOP)
    requested: list[str] = []

    def tile(route: Any) -> None:
        requested.append(route.request.url)
        route.fulfill(status=200, body=pixel, content_type="image/png")

    page.route(f"{server.url}/tiles/**", tile)
    page.add_init_script(f"window.DIESEL_CONFIG = {{tileUrl: '{server.url}/tiles/{{z}}/{{x}}/{{y}}.png'}};")
    login(page, server, "dispatcher")
    page.goto(f"{server.url}/app/dispatcher?date={published_day}")
    page.wait_for_selector(".plan-map .map-tiles image")
    assert page.get_attribute(".plan-map .map-attribution", "data-tiles") == "1"
    assert "© OpenStreetMap contributors" in page.inner_text(".plan-map .map-attribution")
    page.wait_for_timeout(500)
    assert requested and all("/tiles/" in url and url.endswith(".png") for url in requested)
    zoom = {int(url.split("/tiles/")[1].split("/")[0]) for url in requested}
    assert zoom <= set(range(6, 19)), zoom  # a city-sized plan: street-level tiles, not the whole world
    # The routes and stops are drawn above the tiles.
    order = page.eval_on_selector(".plan-map svg", "svg => [...svg.children].map(c => c.getAttribute('class'))")
    assert order.index("map-tiles") < order.index("map-routes") < order.index("map-stops")
    watch.assert_clean()
