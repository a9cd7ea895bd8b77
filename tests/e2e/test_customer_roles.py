"""What the customer app offers follows the user's role in its account (GET /me `may`, from the server's own rule): a
viewer reads orders but is offered no order, cancel, share or "same again"; finance lands on the money (balance,
invoices, statements) and is offered nothing of ordering; an orderer has no People page, an approver has the
approvals queue. No page calls what the role would be refused: a 403 would show as a console error."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.e2e.browser import SHANGHAI, Server, login, new_page, shoot

pytestmark = pytest.mark.e2e
PASSWORD = "a-long-password-1"


def person(server: Server, role: str) -> str:
    username = f"{role}-{uuid.uuid4().hex[:6]}"
    server.send("POST", "/me/users", "fleet1", {"username": username, "password": PASSWORD, "customer_role": role})
    server.passwords[username] = PASSWORD
    return username


def nav(page: Any) -> list[str]:
    page.wait_for_selector("#nav a")
    return [text.strip() for text in page.locator("#nav a").all_inner_texts()]


def confirmed_order(server: Server) -> dict[str, Any]:
    site = server.all("/sites", "fleet1")[0]
    day = (datetime.now(SHANGHAI).date() + timedelta(days=2)).isoformat()
    body = {
        "site_id": site["id"],
        "product_code": "diesel-0",
        "quantity_litres": 6000,
        "delivery_date": day,
        "window_start": "09:00",
        "window_end": "12:00",
    }
    order: dict[str, Any] = server.send("POST", "/orders", "fleet1", body)
    return order


def test_a_viewer_reads_but_is_offered_no_ordering(server: Server, browser: Any) -> None:
    viewer = person(server, "viewer")
    order = confirmed_order(server)
    assert order["status"] == "confirmed"
    page, watch = new_page(browser)  # no refusal allowed: the app never calls what a viewer may not
    login(page, server, viewer)
    assert nav(page) == ["Sites", "My orders", "My pickups", "Account", "Standing orders"]
    page.wait_for_selector(".site")
    assert page.locator("main a:has-text('Order'), main a:has-text('Book pickup')").count() == 0
    assert page.locator(".site a:has-text('Change'), main a[href$='/sites/new']").count() == 0

    # An order of the account: its details and timeline, and no cancel, share or "same again".
    page.goto(f"{server.url}/app/customer/orders/{order['id']}")
    page.wait_for_selector(".chip[data-status=confirmed]")
    page.wait_for_selector(".timeline-item")
    assert page.locator("text=Cancel this order").count() == 0
    assert page.locator("#share, #same-again").count() == 0
    shoot(page, "70-viewer-order")

    # The money it may read: balance, invoices, statements.
    page.click("#nav a:has-text('Account')")
    page.wait_for_selector("#statements")
    assert page.locator("#available").count() == 1 and page.locator("#invoices-title").count() == 1
    watch.assert_clean()
    page.context.close()


def test_finance_sees_the_money_and_nothing_of_ordering(server: Server, browser: Any) -> None:
    finance = person(server, "finance")
    page, watch = new_page(browser)
    login(page, server, finance)
    assert nav(page) == ["Account"]
    # Its home is the account: the balance, the invoices and the statements to download.
    page.wait_for_selector("#statements")
    assert page.locator("#available").count() == 1 and page.locator("#invoices-title").count() == 1
    assert page.locator("#statements [data-download]").count() >= 1
    assert page.locator("main a:has-text('Order'), main a:has-text('Book pickup'), .site").count() == 0
    shoot(page, "71-finance-home")
    watch.assert_clean()
    page.context.close()


def test_people_is_the_admins_and_the_approvals_queue_the_approvers(server: Server, browser: Any) -> None:
    orderer, approver = person(server, "orderer"), person(server, "approver")
    page, watch = new_page(browser)
    login(page, server, orderer)
    assert "People" not in nav(page) and "Order delivery" in nav(page)
    watch.assert_clean()
    page.context.close()

    page, watch = new_page(browser)
    login(page, server, approver)
    assert "People" in nav(page)
    page.click("#nav a:has-text('People')")
    page.wait_for_selector("#approvals-title")
    assert page.locator("#people-title, form input[name=username]").count() == 0  # the admins' to manage
    watch.assert_clean()
    page.context.close()
