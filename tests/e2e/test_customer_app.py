"""The customer app in a real browser: log in, see the sites, get a quote, be refused in plain words, order
(one order however often the button is tapped), and follow the order with its timeline; in English and Chinese."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.browser import Server, login, new_page, shoot

pytestmark = pytest.mark.e2e


def test_customer_quotes_orders_and_sees_the_timeline(server: Server, browser: Any) -> None:
    page, watch = new_page(browser, allowed_statuses=(422,))
    page.goto(f"{server.url}/app/login")
    shoot(page, "01-login")
    login(page, server, "fleet1")
    page.wait_for_selector(".site")
    assert page.locator(".site h2").first.inner_text().startswith("Waigaoqiao yard")
    shoot(page, "02-sites")

    page.locator(".site a", has_text="Order for this site").first.click()
    page.wait_for_selector("input[name=quantity_litres]")
    # A refusal from the API shows in words next to its field.
    page.fill("input[name=quantity_litres]", "90000")
    page.click("text=Get the price")
    error = page.locator('.field-error[data-error-for="quantity_litres"]')
    error.wait_for()
    assert "60000" in error.inner_text()
    assert page.get_attribute("input[name=quantity_litres]", "aria-invalid") == "true"
    shoot(page, "03-order-refused")

    # The price before confirming.
    page.fill("input[name=quantity_litres]", "8000")
    page.click("text=Get the price")
    page.wait_for_selector("#quote .total")
    assert "¥62,800.00" in page.inner_text("#quote .total")  # 8000 L at tomorrow's demo price, 7.85 per litre
    assert error.inner_text() == ""
    shoot(page, "04-quote")

    before = server.get("/orders", "fleet1")["total"]
    page.dblclick("#confirm")  # a double tap
    page.wait_for_url("**/app/customer/orders/*")
    page.wait_for_selector(".timeline-item")
    assert server.get("/orders", "fleet1")["total"] == before + 1
    heading = page.inner_text("h1")
    assert heading.startswith("Order DO-")
    assert page.locator(".timeline-item").first.inner_text().find("Order placed") >= 0
    assert page.locator(".chip").first.inner_text() in ("Confirmed", "Placed", "On hold")
    shoot(page, "05-order")

    page.click("#nav a:has-text('My orders')")
    page.wait_for_selector(".list-item")
    assert heading.removeprefix("Order ") in page.locator(".list-item").first.inner_text()
    shoot(page, "06-orders")
    watch.assert_clean()


def test_language_switch_is_remembered(server: Server, browser: Any) -> None:
    page, watch = new_page(browser)
    login(page, server, "fleet1", lang="zh-CN")
    page.wait_for_selector(".site")
    assert page.inner_text("h1") == "您的配送站点"
    assert page.get_attribute("html", "lang") == "zh-CN"
    page.reload()
    page.wait_for_selector(".site")
    assert page.inner_text("h1") == "您的配送站点"
    shoot(page, "07-sites-zh")
    page.select_option("#lang", "en")
    page.wait_for_function("document.querySelector('h1').textContent === 'Your delivery sites'")
    watch.assert_clean()


def test_pages_need_a_login_and_refuse_the_wrong_role(server: Server, browser: Any) -> None:
    page, watch = new_page(browser)
    page.goto(f"{server.url}/app/customer/orders")
    page.wait_for_url("**/app/login?next=*")
    login(page, server, "rack1")
    page.wait_for_url("**/app/rack**")
    page.goto(f"{server.url}/app/customer")
    page.wait_for_url("**/app/login**")
    watch.assert_clean()
