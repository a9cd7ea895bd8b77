"""The customer app's notification centre in a real browser: the bell's unread count rises live (the user's own
stream, no reload) when an order is confirmed, the centre lists the notifications newest first, reading one or all
makes the count drop; the settings form refuses a bad email next to its field and saves good settings; every
screen passes axe and is shot at phone size in English and Chinese (tests/e2e/screenshots/notify-*)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest

from tests.e2e.browser import PHONE, Server, login, new_page, shoot
from tests.e2e.test_accessibility import AXE, _describe, _violations
from tests.e2e.test_office_app import new_customer, order_body, post, today

pytestmark = pytest.mark.e2e


def axe_clean(page: Any, where: str) -> None:
    if not AXE.is_file():
        pytest.skip("axe-core is not installed (npm ci)")
    found = _violations(page)
    assert not found, f"{where}: {_describe(found)}"


def order(server: Server, customer: dict[str, Any], days: int = 1) -> dict[str, Any]:
    placed = post(
        server, "/orders", customer["username"], order_body(customer["site"]["id"], today() + timedelta(days=days))
    )
    assert placed.status_code == 201, placed.text
    assert placed.json()["status"] == "confirmed"
    return dict(placed.json())


def unread_on_bell(page: Any) -> int:
    return int(page.get_attribute("#bell", "data-unread") or "0")


def test_the_bell_counts_live_the_centre_reads_and_the_settings_refuse_a_bad_email(
    server: Server, browser: Any
) -> None:
    customer = new_customer(server, credit_minor=100_000_000, lat=31.30, lon=121.50)
    page, watch = new_page(browser, allowed_statuses=(422,), bypass_csp=True)
    login(page, server, customer["username"])
    page.wait_for_url("**/app/customer**")
    page.wait_for_selector("#bell[data-unread='0']")
    assert page.locator("#bell .bell-count").is_hidden()
    page.wait_for_selector("#bell[data-live=live]")  # following the user's own stream
    page.evaluate("window.__sameDocument = true")

    # An order is confirmed: the bell counts it at once, without a reload.
    first = order(server, customer)
    page.wait_for_selector("#bell[data-unread='1']", timeout=30_000)
    assert page.inner_text("#bell .bell-count") == "1"
    assert page.get_attribute("#bell", "aria-label") == "Notifications, 1 unread"
    assert page.evaluate("window.__sameDocument === true")

    page.click("#bell")
    page.wait_for_url("**/app/customer/notifications")
    item = page.locator(".notification").first
    item.wait_for()
    assert item.get_attribute("data-read") == "false" and item.get_attribute("data-kind") == "order_confirmed"
    assert first["reference"] in item.inner_text()
    axe_clean(page, "the notification centre")
    shoot(page, "notify-01-centre-en")

    # Read it: the count drops on the bell and on the page.
    item.locator("button[data-read]").click()
    page.wait_for_selector("#bell[data-unread='0']")
    page.wait_for_selector(".notification[data-read=true]")
    assert page.locator("#bell .bell-count").is_hidden()
    assert page.inner_text(".notifications-summary") == "All read."

    # Two more while the centre is open: they come in at the top, live; "mark all read" reads both.
    second, third = order(server, customer, days=1), order(server, customer, days=2)
    page.wait_for_selector("#bell[data-unread='2']", timeout=30_000)
    page.wait_for_selector(".notification[data-read=false] >> nth=1")
    assert page.locator(".notification").count() == 3
    texts = page.locator(".notification").all_inner_texts()
    assert third["reference"] in texts[0] and second["reference"] in texts[1] and first["reference"] in texts[2]
    shoot(page, "notify-02-centre-unread-en")
    page.click("#read-all")
    page.wait_for_selector("#bell[data-unread='0']")
    page.wait_for_selector(".notification[data-read=false]", state="detached")
    assert server.get("/me/notifications?unread=true", customer["username"])["total"] == 0

    # Settings: a bad email is refused next to its field; nothing is saved.
    page.click("a:has-text('Settings')")
    page.wait_for_url("**/app/customer/notifications/settings")
    form = page.locator("form.notification-settings")
    form.wait_for()
    axe_clean(page, "the notification settings")
    page.fill("input[name='channels.email']", "ops-at-example")
    page.click("form.notification-settings button[type=submit]")
    error = page.locator(".field-error[data-error-for='channels.email']")
    error.wait_for()
    assert error.inner_text().strip()
    assert page.get_attribute("input[name='channels.email']", "aria-invalid") == "true"
    assert server.get("/me/notification-settings", customer["username"])["channels"]["email"] is None
    shoot(page, "notify-03-settings-refused-en")

    page.fill("input[name='channels.email']", "ops@example.cn")
    page.uncheck("input[name=events][value=daily_price]")
    page.check("input[name=quiet_on]")
    page.fill("input[name='quiet_hours.start']", "22:00")
    page.fill("input[name='quiet_hours.end']", "07:00")
    page.select_option("select[name=language]", "en")
    page.click("form.notification-settings button[type=submit]")
    page.wait_for_selector(".saved:has-text('Settings saved.')")
    assert page.locator(".field-error:not(:empty)").count() == 0
    saved = server.get("/me/notification-settings", customer["username"])
    assert saved["channels"]["email"] == "ops@example.cn" and saved["language"] == "en"
    assert "daily_price" not in saved["events"] and "order_confirmed" in saved["events"]
    assert (saved["quiet_hours"]["start"], saved["quiet_hours"]["end"]) == ("22:00", "07:00")
    shoot(page, "notify-04-settings-saved-en")

    # The same screens in Chinese: the notifications now come in English (the language chosen for messages).
    page.select_option("#lang", "zh-CN")
    page.wait_for_selector("html[lang='zh-CN']")
    page.wait_for_selector("form.notification-settings legend:has-text('通知方式')")
    assert page.input_value("input[name='channels.email']") == "ops@example.cn"
    axe_clean(page, "the notification settings in Chinese")
    shoot(page, "notify-05-settings-zh-CN")
    fourth = order(server, customer, days=2)
    page.wait_for_selector("#bell[data-unread='1']", timeout=30_000)
    assert page.get_attribute("#bell", "aria-label") == "通知，1 条未读"
    page.click("#bell")
    page.wait_for_url("**/app/customer/notifications")
    newest = page.locator(".notification").first
    newest.wait_for()
    assert fourth["reference"] in newest.inner_text() and newest.get_attribute("data-read") == "false"
    assert page.inner_text(".notifications-summary") == "1 条未读"
    axe_clean(page, "the notification centre in Chinese")
    shoot(page, "notify-06-centre-zh-CN")
    page.set_viewport_size(PHONE)
    watch.assert_clean()


def test_a_customer_sees_only_its_own_notifications_and_cannot_read_anothers(server: Server, browser: Any) -> None:
    """Another account's notification id answers 404 in the app's words; the bell counts the user's own only."""
    mine = new_customer(server, credit_minor=100_000_000, lat=31.30, lon=121.50)
    other = new_customer(server, credit_minor=100_000_000, lat=31.30, lon=121.50)
    order(server, other)
    theirs: list[Any] = []
    deadline = time.monotonic() + 30
    while not theirs and time.monotonic() < deadline:
        theirs = server.get("/me/notifications", other["username"])["items"]
        time.sleep(0.3)
    assert theirs, "the other customer's notification never came"
    refused = post(server, f"/me/notifications/{theirs[0]['id']}/read", mine["username"], None)
    assert refused.status_code == 404 and refused.json()["code"] == "notification_not_found"
    unknown = post(server, f"/me/notifications/{uuid.uuid4()}/read", mine["username"], None)
    assert unknown.status_code == 404
    page, watch = new_page(browser)
    login(page, server, mine["username"])
    page.wait_for_selector("#bell[data-unread='0']")
    page.click("#bell")
    page.wait_for_selector(".empty:has-text('No notifications yet.')")
    watch.assert_clean()
