"""Self-service in real browsers at phone size: the sign-up page a referral QR code leads to (no login, the code
filled in, the first site placed with a pin); a customer adds a site by the address search and a pin on the map and
changes it; the order form offers the serving depot's drivers and the order keeps the one chosen; the account page
with its balance and documents; a share link made, opened as a page and revoked."""

from __future__ import annotations

import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import Server, login, new_page, shoot
from tests.e2e.test_accessibility import AXE, _describe, _violations

pytestmark = pytest.mark.e2e


def tap_map(page: Any, *, x: float, y: float) -> tuple[float, float]:
    """Tap the pin map at a fraction of its size; the latitude and longitude the form then holds."""
    canvas = page.locator(".pin-canvas")
    box = canvas.bounding_box()
    assert box is not None

    def pin() -> tuple[str, str]:
        return page.input_value("input[name=lat]"), page.input_value("input[name=lon]")

    before = pin()
    page.mouse.click(box["x"] + box["width"] * x, box["y"] + box["height"] * y)
    # Polled from here: a wait_for_function string would be an eval the page's CSP refuses. The pin moves in one
    # coordinate or both.
    deadline = time.monotonic() + 5
    while pin() == before and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert pin() != before, "the tap did not move the pin"
    return float(page.input_value("input[name=lat]")), float(page.input_value("input[name=lon]"))


def test_the_referral_link_opens_a_public_sign_up_form_with_the_code(server: Server, browser: Any) -> None:
    answer = server.http.get("/me/referral.svg", headers={"Authorization": f"Bearer {server.token('admin')}"})
    code, link = answer.headers["x-referral-code"], answer.headers["x-referral-link"]
    assert link == f"{server.url}/app/apply?ref={code}"  # `diesel demo`'s own address as PUBLIC_BASE_URL
    page, watch = new_page(browser)
    page.goto(link)  # no login
    page.wait_for_selector("form.apply-form")
    assert "/app/login" not in page.url
    assert page.input_value("input[name=referral_code]") == code
    assert code in page.inner_text("#referred")

    username = f"signup-{uuid.uuid4().hex[:6]}"
    page.fill("input[name=company_name]", "甬港物流有限公司")
    page.fill("input[name=tax_id]", "91330200MA2E2E01")
    page.fill("input[name=contact_name]", "Chen Jing 陈静")
    page.fill("input[name=contact_phone]", "13900003333")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "a-long-signup-password")
    page.fill("input[name=name]", "北仑堆场 Beilun yard")
    page.fill("input[name=address]", "Beilun, Ningbo")
    page.fill("input[name=lat]", "29.9")
    page.fill("input[name=lon]", "121.85")
    page.dispatch_event("input[name=lon]", "change")
    lat, lon = tap_map(page, x=0.7, y=0.3)  # then moved by a tap on the map: north-east of the typed point
    assert lat > 29.9 and lon > 121.85
    page.fill("input[name=tank_capacity_litres]", "40000")
    shoot(page, "40-sign-up-form")
    if AXE.is_file():
        axe_page, _ = new_page(browser, bypass_csp=True)
        axe_page.goto(link)
        axe_page.wait_for_selector("form.apply-form")
        assert not (found := _violations(axe_page)), _describe(found)
        axe_page.close()
    page.click("form button[type=submit]")
    page.wait_for_selector("#applied")
    shoot(page, "41-sign-up-sent")

    admin = server.get("/me", "admin")["user"]["id"]
    pending = server.all("/applications?status=pending", "admin")
    applied = next(a for a in pending if a["username"] == username)
    assert applied["referred_by_id"] == admin and applied["company_name"] == "甬港物流有限公司"
    assert (applied["site"]["lat"], applied["site"]["lon"]) == (lat, lon)
    watch.assert_clean()
    page.context.close()


def test_a_customer_adds_a_site_by_address_search_and_pin_then_changes_it(server: Server, browser: Any) -> None:
    page, watch = new_page(browser)
    login(page, server, "fleet1")
    page.wait_for_selector(".site")
    page.click("text=Add a site")
    page.wait_for_selector(".pin-canvas svg")
    name = f"Harbour yard {uuid.uuid4().hex[:4]}"
    page.fill("input[name=name]", name)
    # The address search (a local stand-in for Nominatim) fills the address and puts the pin there.
    page.fill("input[name=address_search]", "Waigaoqiao")
    page.click("text=Search")
    page.locator(".geocode-result").first.click()
    assert page.input_value("input[name=address]").startswith("外高桥保税区")
    assert (page.input_value("input[name=lat]"), page.input_value("input[name=lon]")) == ("31.3563", "121.5932")
    assert "31.35630" in page.inner_text(".pin-status")
    # The tanker should stop a little further east: a tap on the map moves the pin.
    lat, lon = tap_map(page, x=0.65, y=0.5)
    assert lon > 121.5932 and abs(lat - 31.3563) < 0.01
    page.fill("input[name=tank_capacity_litres]", "20000")
    shoot(page, "42-site-with-pin")
    page.click("text=Add the site")
    page.wait_for_selector(f".site h2:has-text('{name}')")
    assert name in page.inner_text("#banner")
    site = next(s for s in server.all("/sites", "fleet1") if s["name"] == name)
    assert (site["lat"], site["lon"], site["tank_capacity_litres"]) == (lat, lon, 20000)
    assert site["address"].startswith("外高桥保税区")

    page.click(f"a[aria-label='Change {name}']")
    page.wait_for_selector(".pin-marker")
    assert page.input_value("input[name=name]") == name
    page.fill("input[name=tank_capacity_litres]", "25000")
    page.click("text=Save the changes")
    page.wait_for_selector(f".site h2:has-text('{name}')")
    changed = server.get(f"/sites/{site['id']}", "fleet1")
    assert (changed["tank_capacity_litres"], changed["lat"], changed["lon"]) == (25000, lat, lon)
    watch.assert_clean()
    page.context.close()


def test_the_order_form_offers_the_serving_depots_drivers_by_name(server: Server, browser: Any) -> None:
    site = server.all("/sites", "fleet1")[0]
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    quote = server.send(
        "POST",
        "/quotes",
        "fleet1",
        {"site_id": site["id"], "product_code": "diesel-0", "quantity_litres": 5000, "delivery_date": tomorrow},
    )
    name = f"Zhou Ping 周平 {uuid.uuid4().hex[:4]}"
    driver = server.send(
        "POST",
        "/drivers",
        "dispatcher",
        {
            "name": name,
            "phone": "13700001111",
            "hazmat_licence_expires": (date.today() + timedelta(days=365)).isoformat(),
            "shift_start": "06:00:00",
            "shift_end": "18:00:00",
            "home_depot_id": quote["depot"]["id"],
        },
    )
    page, watch = new_page(browser)
    login(page, server, "fleet1")
    page.goto(f"{server.url}/app/customer/order?site={site['id']}")
    page.wait_for_selector("input[name=quantity_litres]")
    page.fill("input[name=quantity_litres]", "5000")
    page.click("text=Get the price")
    choice = page.locator("select[name=preferred_driver_id]")
    choice.wait_for()
    offered = page.eval_on_selector_all("select[name=preferred_driver_id] option", "o => o.map(x => x.textContent)")
    assert offered[0] == "No preference" and name in offered
    assert "13700001111" not in page.content()  # names only
    choice.select_option(label=name)
    assert page.locator("#quote").is_visible()  # choosing a driver keeps the price on screen
    shoot(page, "43-order-with-driver")
    page.click("#confirm")
    page.wait_for_url("**/app/customer/orders/*")
    order = server.get(f"/orders/{page.url.rsplit('/', 1)[1]}", "fleet1")
    assert order["preferred_driver_id"] == driver["id"]

    # The order page shares its tracking: a link made, opened as a page without a login, then revoked.
    page.click("#share")
    url = page.locator("#share-url").input_value()
    assert url.startswith(f"{server.url}/api/v1/share/")
    assert "null" not in page.inner_text(".share")
    shoot(page, "44-order-shared")
    stranger, stranger_watch = new_page(browser, allowed_statuses=(410,))
    stranger.goto(url)  # a browser is sent to the link's page
    stranger.wait_for_selector(f"h1:has-text('{order['reference']}')")
    assert "/share/" in stranger.url and "/api/" not in stranger.url
    assert stranger.locator(".chip").first.get_attribute("data-status") == order["status"]
    shoot(stranger, "45-share-page")
    page.click(".share-links .btn-danger-outline")
    page.wait_for_selector(".share-links [data-status=revoked]")
    gone = stranger.goto(url)
    assert gone is not None and gone.status == 410
    assert stranger.locator(".link-ended[data-code=share_link_revoked]").is_visible()
    watch.assert_clean()
    stranger_watch.assert_clean()
    page.context.close()  # nothing of this test keeps polling the server while the next ones run
    stranger.context.close()


def test_the_account_page_shows_balance_tier_and_documents(server: Server, browser: Any) -> None:
    page, watch = new_page(browser)
    login(page, server, "fleet1")
    page.click("#nav a:has-text('Account')")
    page.wait_for_selector("#available")
    balance = server.get("/me/balance", "fleet1")
    assert balance["payment_code"] in page.inner_text(".account-balance")
    assert "Tier" in page.inner_text(".account-balance")
    month = date.today().strftime("%Y-%m")
    with page.expect_download() as download:
        page.click(f"[data-download='statement-{month}.pdf']")
    saved = download.value
    assert saved.suggested_filename == f"statement-{month}.pdf"
    assert Path(saved.path()).read_bytes()[:5] == b"%PDF-"
    shoot(page, "46-account")
    watch.assert_clean()
    page.context.close()
