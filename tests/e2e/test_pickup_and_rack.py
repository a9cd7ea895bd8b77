"""A pickup from booking to loading, in real browsers: the customer books a slot and shows the QR code; the rack
operator's tablet reads it THROUGH THE CAMERA (Chromium's fake camera playing a video of that QR code), sees
"authorised", records the loading and prints the ticket; the booking is then completed, and the same code is
refused. Then the rack loses the network: it checks a code in the browser with its cached keys, queues the
loading, and uploads it when the network returns."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import Server, launch, login, new_page, next_slot_start, shoot
from tests.e2e.fake_camera import qr_video

pytestmark = pytest.mark.e2e
TABLET = {"width": 1280, "height": 800}


def book_in_browser(page: Any, server: Server, plate: str) -> str:
    """Book the next slot at the all-day depot through the form; returns the booking id."""
    depot = server.all_day_depot
    start = next_slot_start()
    page.click("#nav a:has-text('Book pickup')")
    page.wait_for_selector(".slot")
    page.select_option("select[name=depot_id]", depot["id"])
    page.fill("input[name=date]", start.date().isoformat())
    page.dispatch_event("input[name=date]", "change")
    slot = page.locator(".slot").nth(wait_for_slot(page, start))
    assert slot.inner_text().startswith(f"{start:%H:%M}–") and "left" in slot.inner_text()
    shoot(page, "10-pickup-form")
    slot.locator("label").click()
    page.fill("input[name=vehicle_plate]", plate)
    page.fill("input[name=driver_name]", "Zhao Lei 赵雷")
    page.fill("input[name=driver_phone]", "13900001111")
    page.click("form button[type=submit]")
    page.wait_for_url("**/app/customer/pickups/*")
    return page.url.rsplit("/", 1)[1]


def wait_for_slot(page: Any, start: datetime, timeout: float = 15) -> int:
    """The index of the slot starting at `start` once the picker shows that day (not an earlier answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        values = page.eval_on_selector_all("input[name=slot_start]", "inputs => inputs.map(i => i.value)")
        for index, value in enumerate(values):
            if datetime.fromisoformat(value) == start:
                return index
        time.sleep(0.2)
    raise AssertionError(f"no slot at {start} in the picker")


def book_by_api(server: Server, plate: str) -> dict[str, Any]:
    # The demo's fleet1 orders in many browser tests before this one: the admin gives its account room first.
    account = server.get("/me", "fleet1")["user"]["customer_id"]
    balance = server.get(f"/customers/{account}/balance", "admin")
    room = balance["credit_limit_minor"] - balance["available_minor"] + 100_000_000
    server.send("PATCH", f"/customers/{account}", "admin", {"credit_limit_minor": room})
    body = {
        "depot_id": server.all_day_depot["id"],
        "product_code": "diesel-0",
        "quantity_litres": 6000,
        "slot_start": next_slot_start().isoformat(),
        "vehicle_plate": plate,
        "driver_name": "Sun Li",
        "driver_phone": "13900002222",
    }
    headers = {"Authorization": f"Bearer {server.token('fleet1')}", "Idempotency-Key": str(uuid.uuid4())}
    answer = server.http.post("/pickups", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def open_rack(browser: Any, server: Server) -> tuple[Any, Any]:
    page, watch = new_page(browser, permissions=["camera"])
    page.set_viewport_size(TABLET)
    login(page, server, "rack1")
    page.wait_for_url("**/app/rack/depot")
    page.wait_for_selector("select[name=depot_id] option", state="attached")  # the depots come after the page
    # Only rack1's own depots are offered (Pudong and the all-day depot), never Jiading.
    offered = page.eval_on_selector_all("select[name=depot_id] option", "options => options.map(o => o.textContent)")
    assert sorted(offered) == sorted(["Pudong Depot 浦东油库", server.all_day_depot["name"]]), offered
    page.select_option("select[name=depot_id]", server.all_day_depot["id"])
    page.click("form button[type=submit]")
    page.wait_for_selector(".rack-strip")
    return page, watch


def test_pickup_booked_shown_scanned_by_camera_and_loaded(
    server: Server, browser: Any, playwright: Any, tmp_path: Path
) -> None:
    customer, customer_watch = new_page(browser)
    login(customer, server, "fleet1")
    booking_id = book_in_browser(customer, server, "沪A12345")
    customer.wait_for_selector(".chip[data-status=booked]")
    customer.click("text=Show QR code")
    customer.wait_for_selector("#pickup-qr svg path")
    assert customer.locator("#pickup-qr svg").get_attribute("role") == "img"
    shoot(customer, "11-pickup-qr")

    vendor = Path(__file__).resolve().parents[2] / "web" / "static" / "vendor" / "zxing-reader.js"
    assert vendor.is_file(), "the QR decoder is not built: run `npm ci && npm run build`"
    token = server.get(f"/pickups/{booking_id}/code", "fleet1")["token"]
    video = qr_video(token, tmp_path / "pickup-qr.y4m")
    camera_browser = launch(
        playwright,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    try:
        rack, rack_watch = open_rack(camera_browser, server)
        verdict = rack.locator(".verdict")
        verdict.wait_for(timeout=30_000)  # read from the camera: nothing was typed
        assert verdict.get_attribute("data-verdict") == "authorised", verdict.inner_text()
        assert "AUTHORISED" in verdict.inner_text()
        assert rack.locator("main").get_attribute("data-decoder") in ("native", "zxing")
        assert rack.input_value(".loading-form input[name=vehicle_plate]") == "沪A12345"
        shoot(rack, "12-rack-authorised")

        rack.fill("input[name=loaded_litres_observed]", "9950")
        rack.fill("input[name=temperature_c]", "24.5")
        rack.click("text=Record and issue the ticket")
        rack.wait_for_selector("#ticket .ticket-number")
        ticket_number = rack.inner_text("#ticket .ticket-number")
        assert ticket_number.startswith("BL")
        shoot(rack, "13-rack-ticket")
        rack.emulate_media(media="print")
        assert rack.locator(".rack-strip").is_hidden()
        assert rack.locator("#ticket").is_visible()
        rack.screenshot(path=str(Path(__file__).parent / "screenshots" / "14-ticket-print.png"))
        rack.emulate_media(media="screen")

        booking = server.get(f"/pickups/{booking_id}", "fleet1")
        assert booking["status"] == "completed"
        assert booking["ticket_number"] == ticket_number

        # The camera still shows the same code: once spent, it is refused in words.
        rack.click("text=Next truck")
        rack.wait_for_selector(".verdict[data-verdict=refused]", timeout=30_000)
        assert rack.locator(".reasons li[data-reason=already_used]").count() == 1
        shoot(rack, "15-rack-refused")
        rack_watch.assert_clean()
    finally:
        camera_browser.close()

    customer.click("text=Back")
    customer.wait_for_selector(".chip[data-status=completed]")
    assert ticket_number in customer.inner_text("main")
    customer.wait_for_selector(".timeline-item[data-type=pickup_completed]")
    shoot(customer, "16-pickup-completed")
    customer_watch.assert_clean()


def test_rack_checks_offline_and_uploads_when_back_online(server: Server, browser: Any) -> None:
    booking = book_by_api(server, "沪B67890")
    token = server.get(f"/pickups/{booking['id']}/code", "fleet1")["token"]
    rack, watch = open_rack(browser, server)
    rack.wait_for_selector(".rack-strip:has-text('Offline check keys: 1')")

    rack.context.set_offline(True)
    rack.wait_for_selector("#connection.chip-bad")
    rack.fill("#manual-token", token)
    rack.click("text=Check the code")
    verdict = rack.locator(".verdict")
    verdict.wait_for()
    assert verdict.get_attribute("data-verdict") == "authorised", verdict.inner_text()
    assert "offline" in verdict.inner_text()
    rack.fill("input[name=loaded_litres_observed]", "6000")
    rack.fill("input[name=temperature_c]", "15")
    rack.click("text=Record and issue the ticket")
    rack.wait_for_selector(".ticket-provisional")
    assert rack.inner_text("#queue-count") == "Waiting to upload: 1"
    shoot(rack, "17-rack-offline")

    # A tampered code is refused by the signature check alone.
    rack.click("text=Next truck")
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    rack.fill("#manual-token", tampered)
    rack.click("text=Check the code")
    rack.wait_for_selector(".verdict[data-verdict=refused]")
    assert rack.locator(".reasons li").first.get_attribute("data-reason") in ("bad_signature", "malformed")

    rack.context.set_offline(False)
    rack.wait_for_selector("#banner:has-text('1 accepted')")
    assert rack.inner_text("#queue-count") == ""
    assert server.get(f"/pickups/{booking['id']}", "fleet1")["status"] == "completed"
    watch.assert_clean()


def test_an_operator_with_one_depot_goes_straight_to_it_and_one_with_none_is_told(server: Server, browser: Any) -> None:
    depot = server.all_day_depot
    solo, nowhere = f"rack-solo-{uuid.uuid4().hex[:6]}", f"rack-none-{uuid.uuid4().hex[:6]}"
    for username, depot_ids in ((solo, [depot["id"]]), (nowhere, [])):
        server.passwords[username] = f"rack-{uuid.uuid4().hex[:12]}"  # a person's password: 10 characters at least
        body = {"username": username, "password": server.passwords[username], "role": "rack_operator"}
        server.send("POST", "/users", "admin", body | {"depot_ids": depot_ids})

    page, watch = new_page(browser)
    page.set_viewport_size(TABLET)
    login(page, server, solo)
    page.wait_for_selector(".rack-strip")  # no depot to choose: the only one is taken
    assert page.inner_text("#rack-depot") == f"Depot: {depot['name']}"  # and no link to change it
    assert page.locator("select[name=depot_id]").count() == 0
    page.goto(f"{server.url}/app/rack/depot")
    page.wait_for_url("**/app/rack")
    page.wait_for_selector(".rack-strip")
    watch.assert_clean()

    page, watch = new_page(browser)
    login(page, server, nowhere)
    page.wait_for_url("**/app/rack/depot")
    page.wait_for_selector("#no-depots")
    assert "not assigned to any depot" in page.inner_text("#no-depots")
    assert page.locator("select[name=depot_id]").count() == 0
    watch.assert_clean()
