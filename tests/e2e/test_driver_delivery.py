"""A delivery on the road, in real browsers: a night-shift driver's trip is loaded at the rack; on the phone the
driver sees it, shares positions from the browser's geolocation (the customer's order page shows the tanker on
the map), arrives, and confirms the delivery by scanning the customer's receipt code THROUGH THE CAMERA
(Chromium's fake camera playing a video of GET /orders/{id}/receipt-code.png); the customer's order page turns
to "Delivered" without a reload."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.browser import DESKTOP, SHANGHAI, Server, launch, login, new_page, shoot
from tests.e2e.fake_camera import write_y4m

pytestmark = pytest.mark.e2e
PNG_SCALE = 8  # GET …/receipt-code.png draws each module as 8x8 pixels


def delivery_window(now: datetime) -> tuple[str, str, str]:
    """(day, start, end) of a window that opens 35-65 min from now (the e2e server's cut-off is 30 min), so that
    the trip's load code (valid from 2 h before loading) is valid now; after 22:25 the window is tomorrow 00:30."""
    soon = now + timedelta(minutes=35)
    start = soon.replace(minute=0 if soon.minute < 30 else 30, second=0, microsecond=0) + timedelta(minutes=30)
    if start.date() == now.date() and start.hour * 60 + start.minute <= 23 * 60:
        end = min(start + timedelta(minutes=60), start.replace(hour=23, minute=30))
        return start.date().isoformat(), f"{start:%H:%M}", f"{end:%H:%M}"
    return (now.date() + timedelta(days=1)).isoformat(), "00:30", "01:30"


def night_shift(server: Server) -> dict[str, Any]:
    """A driver (with a login) and a tanker on call round the clock at the all-day depot, and a fleet3 site
    next to it that receives at any hour."""
    depot = server.all_day_depot
    suffix = uuid.uuid4().hex[:6]
    username, password = f"night-{suffix}", "night-shift-password"
    user = server.send(
        "POST",
        "/users",
        "admin",
        {"username": username, "password": password, "role": "driver", "display_name": "Zhou Min"},
    )
    server.passwords[username] = password
    server.send(
        "POST",
        "/drivers",
        "dispatcher",
        {
            "name": "Zhou Min 周敏",
            "user_id": user["id"],
            "phone": "13800009999",
            "hazmat_licence_expires": "2035-01-01",
            "shift_start": "00:00:00",
            "shift_end": "23:59:00",
            "home_depot_id": depot["id"],
        },
    )
    plate = f"沪E{int(suffix, 16) % 100000:05d}"
    tanker = server.send(
        "POST",
        "/tankers",
        "dispatcher",
        {
            "plate": plate,
            "depot_id": depot["id"],
            "compartments_litres": [8000, 6000],
            "vehicle_class": 2,
            "cost_per_km_minor": 600,
            "shift_start": "00:00:00",
            "shift_end": "23:59:00",
        },
    )
    site = server.send(
        "POST",
        "/sites",
        "fleet3",
        {
            "name": f"Night yard 夜班堆场 {suffix}",
            "address": "Wusong, Baoshan, Shanghai",
            "lat": depot["lat"] + 0.006,
            "lon": depot["lon"] + 0.006,
            "tank_capacity_litres": 20000,
            "receiving_hours": [{"days": [1, 2, 3, 4, 5, 6, 7], "open": "00:00", "close": "24:00"}],
        },
    )
    return {"username": user["username"], "tanker": tanker, "site": site, "depot": depot}


def plan_and_publish(server: Server, day: str, depot_id: str) -> None:
    state = server.plan({"date": day, "depot_id": depot_id, "time_limit_s": 2})
    server.send("POST", f"/plans/{state['plan_id']}/publish", "dispatcher", {"force": True})


def receipt_video(server: Server, order_id: str, path: Path) -> Path:
    answer = server.http.get(
        f"/orders/{order_id}/receipt-code.png", headers={"Authorization": f"Bearer {server.token('fleet3')}"}
    )
    assert answer.status_code == 200, answer.text
    image = Image.open(io.BytesIO(answer.content)).convert("L")
    modules = image.width // PNG_SCALE
    image = image.resize((modules, modules), Image.Resampling.NEAREST)
    scale = max(1, 420 // modules)
    return write_y4m(image.resize((modules * scale, modules * scale), Image.Resampling.NEAREST), path)


def test_driver_delivers_by_scanning_the_receipt_code(
    server: Server, browser: Any, playwright: Any, tmp_path: Path
) -> None:
    shift = night_shift(server)
    day, start, end = delivery_window(datetime.now(SHANGHAI))
    body = {
        "site_id": shift["site"]["id"],
        "product_code": "diesel-0",
        "quantity_litres": 3000,
        "delivery_date": day,
        "window_start": start,
        "window_end": end,
    }
    order = server.send("POST", "/orders", "fleet3", body)
    assert order["depot_id"] == shift["depot"]["id"], order
    plan_and_publish(server, day, shift["depot"]["id"])
    assert server.get(f"/orders/{order['id']}", "fleet3")["status"] == "scheduled"

    # The rack loads the trip (its load code, as the driver shows it).
    driver_user = shift["username"]
    route = server.get(f"/driver/route?date={day}", driver_user)
    trip = next(t for r in route["routes"] for t in r["trips"] if any(s["order_id"] == order["id"] for s in t["stops"]))
    stop = next(s for s in trip["stops"] if s["order_id"] == order["id"])
    code = server.get(f"/driver/trips/{trip['id']}/code", driver_user)
    server.send(
        "POST",
        "/rack/redeem",
        "rack1",
        {
            "token": code["token"],
            "depot_id": shift["depot"]["id"],
            "loaded_litres_observed": sum(load["litres"] for load in trip["loads"]),
            "temperature_c": 15.0,
            "vehicle_plate": shift["tanker"]["plate"],
        },
    )

    # The customer follows the order on a phone.
    customer, customer_watch = new_page(browser)
    login(customer, server, "fleet3")
    customer.goto(f"{server.url}/app/customer/orders/{order['id']}")
    customer.wait_for_selector(".chip[data-status=loaded]")
    customer.wait_for_selector("main[data-live=live]")  # following the order's Server-Sent Events
    customer.wait_for_selector(".order-map .map-stop-mine")
    assert "© OpenStreetMap contributors" in customer.inner_text(".order-map")

    video = receipt_video(server, order["id"], tmp_path / "receipt.y4m")
    camera_browser = launch(
        playwright,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    try:
        where = {"latitude": shift["depot"]["lat"] + 0.003, "longitude": shift["depot"]["lon"] + 0.003, "accuracy": 10}
        driver, driver_watch = new_page(camera_browser, permissions=["camera", "geolocation"], geolocation=where)
        login(driver, server, driver_user)
        driver.goto(f"{server.url}/app/driver?date={day}")
        driver.wait_for_selector(f".trip-card[data-trip='{trip['id']}'][data-status=loaded]")
        # The trip is under way: the phone shares its position, and the customer sees the tanker on the map.
        driver.wait_for_selector("#gps-state[data-state=sharing]")
        customer.wait_for_selector(".order-map .map-tanker", timeout=30_000)
        assert shift["tanker"]["plate"] in customer.inner_text(".on-its-way")
        shoot(customer, "25-order-tanker-on-map")
        shoot(driver, "26-driver-trip-loaded")

        # The dispatcher sees the tanker on the road too.
        console, console_watch = new_page(browser)
        console.set_viewport_size(DESKTOP)
        login(console, server, "dispatcher")
        console.goto(f"{server.url}/app/dispatcher?date={day}")
        console.wait_for_selector("#plan [data-plan-status=published]")
        console.wait_for_selector(f".plan-map .map-tanker[data-plate='{shift['tanker']['plate']}']", timeout=30_000)
        console.wait_for_selector("#live-state.chip-ok")
        shoot(console, "30-dispatcher-tanker-on-the-road")

        driver.click(f".driver-stop[data-stop='{stop['id']}'] a")
        driver.wait_for_selector("#arrive")
        driver.click("#arrive")
        driver.wait_for_selector(".page-header [data-stop-status=arrived]")
        customer.wait_for_selector(".chip[data-status=en_route]", timeout=30_000)

        driver.fill("input[name=temperature_c]", "15")
        driver.fill("input[name=meter_start]", "12000")
        driver.fill("input[name=meter_end]", str(12000 + stop["litres"]))
        driver.click("#scan-receipt")
        driver.wait_for_selector("#receipt-state[data-read='1']", timeout=30_000)  # read from the camera
        assert driver.locator("#receipt-scanner").get_attribute("data-decoder") in ("native", "zxing")
        shoot(driver, "27-driver-receipt-read")
        driver.click("#confirm-delivery")
        driver.wait_for_selector("#banner:has-text('Delivered')")
        driver.wait_for_selector(f".driver-stop[data-stop='{stop['id']}'][data-status=delivered]")
        shoot(driver, "28-driver-delivered")
        driver_watch.assert_clean()
    finally:
        camera_browser.close()

    # No reload: the order page turns to "Delivered" by itself (live stream, or its poll); so does the console.
    customer.wait_for_selector(".chip[data-status=delivered]", timeout=30_000)
    console.wait_for_selector(f".orders-table tr[data-order='{order['id']}'][data-status=delivered]", timeout=30_000)
    console_watch.assert_clean()
    customer.wait_for_selector(".timeline-item[data-type=order_delivered]")
    assert customer.locator(".order-map").count() == 0
    shoot(customer, "29-order-delivered")
    customer_watch.assert_clean()
