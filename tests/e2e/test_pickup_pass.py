"""The truck driver's pickup pass, in real browsers at phone size: the customer sends the pass from its pickup page
and copies the link; the driver opens it on another phone with no login, sees the pickup QR code, the slot and the
depot, checks in by scanning the gate's QR code THROUGH THE CAMERA (Chromium's fake camera playing a video of the
depot's gate code) and sees the queue position and bay; the customer's pickup page shows the check-in live, then
the loading ticket; the pass then says it has done its job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import PHONE, Server, launch, login, new_page, shoot
from tests.e2e.fake_camera import qr_video
from tests.e2e.test_accessibility import AXE, _describe, _violations
from tests.e2e.test_pickup_and_rack import book_by_api

pytestmark = pytest.mark.e2e


def test_the_driver_opens_the_pass_checks_in_at_the_gate_and_the_customer_sees_it_live(
    server: Server, browser: Any, playwright: Any, tmp_path: Path
) -> None:
    booking = book_by_api(server, "沪E24680")
    customer, customer_watch = new_page(browser)
    login(customer, server, "fleet1")
    customer.goto(f"{server.url}/app/customer/pickups/{booking['id']}")
    customer.wait_for_selector("#gate[data-checked-in='0']")
    customer.wait_for_selector("main[data-live=live]")  # following the booking live
    customer.fill("input[name=phone]", "139 0000 2222")
    customer.click("text=Send the pass")
    link = customer.locator("#pass-url")
    link.wait_for()
    url = link.input_value()
    assert url.startswith(f"{server.url}/pass/"), url
    assert "13900002222" in customer.inner_text(".pass-link")
    shoot(customer, "30-pickup-pass-sent")

    gate = server.get(f"/depots/{server.all_day_depot['id']}/gate-code", "admin")["token"]
    video = qr_video(gate, tmp_path / "gate-code.y4m")
    phone_browser = launch(
        playwright,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    try:
        # The driver's own phone: another browser, no login, nothing in its storage.
        context = phone_browser.new_context(viewport=PHONE, locale="zh-CN", permissions=["camera"])
        driver = context.new_page()
        driver.set_default_timeout(20_000)
        errors: list[str] = []
        driver.on("pageerror", lambda error: errors.append(str(error)))
        driver.goto(url)
        driver.wait_for_selector("#pickup-qr svg path")
        assert driver.evaluate("sessionStorage.getItem('dd.token')") is None
        shown = driver.inner_text("main")
        assert booking["reference"] in shown and "沪E24680" in shown and server.all_day_depot["name"] in shown
        for secret in ("Sun Li", "13900002222", "Hutong", booking["id"]):  # the account's and the booking's own
            assert secret not in driver.content(), secret
        assert driver.locator(".pass-map .map-depot").count() == 1
        shoot(driver, "31-pass-before-check-in")

        driver.click("#scan-gate")
        checked = driver.locator("#gate[data-checked-in='1']")
        checked.wait_for(timeout=30_000)  # read from the camera: nothing was typed
        assert driver.locator("main").get_attribute("data-decoder") in ("native", "zxing")
        assert checked.get_attribute("data-position") == "1" and checked.get_attribute("data-bay") == "1"
        assert "1 号装车位" in driver.inner_text("#bay")
        shoot(driver, "32-pass-checked-in")
        if AXE.is_file():
            axe_context = phone_browser.new_context(viewport=PHONE, bypass_csp=True)
            axe_page = axe_context.new_page()
            axe_page.goto(url)
            axe_page.wait_for_selector("#gate[data-checked-in='1']")
            assert not (found := _violations(axe_page)), _describe(found)
            axe_context.close()

        # The customer sees the check-in without reloading (the live stream), then the loading and its ticket.
        customer.wait_for_selector("#gate[data-checked-in='1'][data-bay='1']", timeout=15_000)
        customer.wait_for_selector(".timeline-item[data-type=pickup_checked_in]")
        shoot(customer, "33-customer-sees-check-in")
        code = server.get(f"/pickups/{booking['id']}/code", "fleet1")["token"]
        body = {
            "token": code,
            "depot_id": server.all_day_depot["id"],
            "loaded_litres_observed": 6000,
            "temperature_c": 15.0,
            "vehicle_plate": "沪E24680",
        }
        ticket = server.send("POST", "/rack/redeem", "rack1", body)
        customer.wait_for_selector(".chip[data-status=completed]", timeout=15_000)
        customer.wait_for_selector(".timeline-item[data-type=pickup_completed]")
        assert ticket["ticket_number"] in customer.inner_text("main")
        shoot(customer, "34-customer-sees-ticket")

        # The pass has done its job: it says so, in the driver's language.
        driver.wait_for_selector(".link-ended[data-code=pass_used]", timeout=15_000)
        assert "已装车完成" in driver.inner_text("main")
        reopened = driver.goto(url)
        assert reopened is not None and reopened.status == 410
        assert driver.locator(".link-ended[data-code=pass_used]").is_visible()
        shoot(driver, "35-pass-used")
        assert not errors, errors
    finally:
        phone_browser.close()
    customer_watch.assert_clean()
    customer.context.close()  # its live stream and poll stop before the next tests
