"""A customer account's people in a real browser: the account's admin adds an orderer (with an approval limit) and an
approver on the people page; the orderer's big order waits for approval, and the approver approves it there."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.browser import Server, login, new_page, shoot

pytestmark = pytest.mark.e2e


def add_person(page: Any, username: str, password: str, role: str, limit: str = "") -> None:
    page.fill("form input[name=username]", username)
    page.fill("form input[name=password]", password)
    page.select_option("form select[name=customer_role]", role)
    if limit:
        page.fill("form input[name=approval_limit_minor]", limit)
    page.click("form button[type=submit]")
    page.wait_for_selector(f'.list-item[data-username="{username}"]')


def test_a_customer_adds_an_orderer_whose_big_order_waits_and_the_approver_approves_it(
    server: Server, browser: Any
) -> None:
    suffix = uuid.uuid4().hex[:6]
    orderer, approver, password = f"orderer-{suffix}", f"approver-{suffix}", "a-long-password-1"
    server.passwords.update({orderer: password, approver: password})

    # The account's admin adds an orderer who may order up to ¥1,000 alone, and an approver.
    page, watch = new_page(browser)
    login(page, server, "fleet1")
    page.click("#nav a:has-text('People')")
    page.wait_for_selector("form input[name=username]")
    add_person(page, orderer, password, "orderer", "1000")
    add_person(page, approver, password, "approver")
    row = page.inner_text(f'.list-item[data-username="{orderer}"]')
    assert "Orderer" in row and "¥1,000.00" in row
    shoot(page, "60-people")
    watch.assert_clean()
    page.context.close()

    # The orderer's order of 8,000 L is far above its limit: it waits, and no credit is taken.
    page, watch = new_page(browser, allowed_statuses=(403,))
    login(page, server, orderer)
    page.wait_for_selector(".site")
    page.locator(".site a", has_text="Order for this site").first.click()
    page.wait_for_selector("input[name=quantity_litres]")
    page.fill("input[name=quantity_litres]", "8000")
    page.click("text=Get the price")
    page.wait_for_selector("#quote .total")
    page.click("#confirm")
    page.wait_for_url("**/app/customer/orders/*")
    page.wait_for_selector(".timeline-item")
    order_id = page.url.rstrip("/").split("/")[-1]
    assert page.locator(".chip").first.inner_text() == "Awaiting approval"
    assert server.get(f"/orders/{order_id}", "fleet1")["status"] == "awaiting_approval"
    shoot(page, "61-order-awaiting-approval")
    watch.assert_clean()
    page.context.close()

    # The approver sees it waiting on the people page and approves it: confirmed.
    page, watch = new_page(browser, allowed_statuses=(403,))  # the account's users are its admins' to see
    login(page, server, approver)
    page.click("#nav a:has-text('People')")
    waiting = page.locator(f'.list-item[data-order="{order_id}"]')
    waiting.wait_for()
    shoot(page, "62-approvals")
    waiting.locator("button", has_text="Approve").click()
    waiting.wait_for(state="detached")
    assert page.locator("#people-title").count() == 0  # an approver does not manage the account's people
    order = server.get(f"/orders/{order_id}", "fleet1")
    assert order["status"] in ("confirmed", "on_hold")
    events = [e["type"] for e in server.get(f"/orders/{order_id}/events", "fleet1")]
    assert events[:3] == ["order_placed", "order_awaiting_approval", "order_approved"]
    watch.assert_clean()
    page.context.close()
