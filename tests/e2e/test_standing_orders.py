"""Regular orders in a real browser: a customer makes a standing order on the standing orders page, the periodic task
runs (orders.tasks.standing_orders, against the demo's database) and the order it placed shows on the standing
order's page (the link of a refusal's notification) with a refusal in words next to it; "Same again" on that order
places a new one for the day chosen. Screenshots at phone size in English and Chinese; no console errors."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import SHANGHAI, Server, login, new_page, shoot

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def run_standing_orders_task(server: Server) -> dict[str, Any]:
    """The periodic task once, as the demo's worker runs it, on the demo's data folder (its SQLite database)."""
    assert server.log is not None
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DIESEL_DATA_DIR"] = str(server.log.parent.resolve())
    env["ORDER_LEAD_TIME_MINUTES"] = "30"  # as the server runs (tests/e2e/conftest.py)
    code = "from orders.tasks import standing_orders; print(standing_orders())"
    answer = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert answer.returncode == 0, answer.stderr[-3000:]
    return {"output": answer.stdout.strip().splitlines()[-1]}


def test_a_standing_order_places_its_order_and_the_same_again_places_another(server: Server, browser: Any) -> None:
    sites = server.all("/sites", "fleet1")
    yard = next(s for s in sites if s["name"].startswith("Waigaoqiao"))  # receives every day, 06:00-22:00
    zhangjiang = next(s for s in sites if s["name"].startswith("Zhangjiang"))  # receives until 18:00
    tomorrow = (datetime.now(SHANGHAI).date() + timedelta(days=1)).isoformat()
    later = (datetime.now(SHANGHAI).date() + timedelta(days=3)).isoformat()
    # A schedule the site cannot take (its window is after the site's hours): each occurrence is refused.
    refused = server.send(
        "POST",
        "/standing-orders",
        "fleet1",
        {
            "site_id": zhangjiang["id"],
            "product_code": "diesel-0",
            "quantity_litres": 4000,
            "weekdays": [1, 2, 3, 4, 5, 6, 7],
            "window_start": "19:00",
            "window_end": "21:00",
            "starts_on": tomorrow,
        },
    )

    # The customer makes a standing order on the page: every day from tomorrow, 13:00-16:00.
    page, watch = new_page(browser)
    login(page, server, "fleet1")
    page.click("#nav a:has-text('Standing orders')")
    page.wait_for_selector("#standing-form")
    form = page.locator("#standing-form")
    form.locator("select[name=site_id]").select_option(yard["id"])
    form.locator("select[name=product_code]").select_option("diesel-0")
    form.locator("input[name=quantity_litres]").fill("5000")
    for box in form.locator("input[name=weekdays]").all():
        box.check()
    form.locator("select[name=window_start]").select_option("13:00")
    form.locator("select[name=window_end]").select_option("16:00")
    form.locator("input[name=starts_on]").fill(tomorrow)
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".list-item.standing >> nth=1")
    made = next(
        s
        for s in server.all("/standing-orders", "fleet1")
        if s["site_id"] == yard["id"] and s["window_start"] == "13:00"
    )
    assert (made["weekdays"], made["quantity_litres"], made["starts_on"]) == ([1, 2, 3, 4, 5, 6, 7], 5000, tomorrow)
    card = page.locator(f'.list-item.standing[data-standing="{made["id"]}"]')
    assert "Next delivery" in card.inner_text()

    # The task places tomorrow's order (once: a second run places nothing more) and refuses the other one's.
    run_standing_orders_task(server)
    run_standing_orders_task(server)
    shown = server.get(f"/standing-orders/{made['id']}", "fleet1")
    runs = {r["delivery_date"]: r for r in shown["runs"]}
    assert runs[tomorrow]["order_id"] and runs[tomorrow]["code"] is None, shown
    placed = server.get(f"/orders/{runs[tomorrow]['order_id']}", "fleet1")
    assert (placed["delivery_date"], placed["window_start"], placed["quantity_litres"]) == (tomorrow, "13:00", 5000)
    orders = [o for o in server.all("/orders", "fleet1") if o["site_id"] == yard["id"] and o["window_start"] == "13:00"]
    assert sorted(o["delivery_date"] for o in orders) == sorted(d for d, r in runs.items() if r["order_id"])

    # The list shows the order placed and the refusal in words.
    page.reload()
    card = page.locator(f'.list-item.standing[data-standing="{made["id"]}"]')
    card.locator(f'.run[data-date="{tomorrow}"][data-outcome=placed]').wait_for()
    refusal = page.locator(f'.list-item.standing[data-standing="{refused["id"]}"] .run[data-outcome=refused]').first
    refusal.wait_for()
    assert refusal.get_attribute("data-code") == "outside_receiving_hours"
    assert "Not ordered" in refusal.inner_text() and page.locator(".run-reason").first.inner_text().strip()
    shoot(page, "63-standing-orders")

    # The notification's link opens that standing order; from its run, the order placed.
    page.goto(f"{server.url}/app/customer/standing-orders/{made['id']}")
    page.wait_for_selector(f'#standing-detail[data-standing="{made["id"]}"]')
    page.locator(f'.run[data-date="{tomorrow}"] a').click()
    page.wait_for_url(f"**/app/customer/orders/{placed['id']}")
    page.wait_for_selector(".timeline-item")

    # The same again, for another day: a new order like it.
    page.fill("#same-again input[name=delivery_date]", later)
    page.click("#same-again button[type=submit]")
    page.wait_for_url(lambda url: "/orders/" in url and placed["id"] not in url)
    page.wait_for_selector(".timeline-item")
    again_id = page.url.rstrip("/").split("/")[-1]
    again = server.get(f"/orders/{again_id}", "fleet1")
    assert (again["delivery_date"], again["site_id"], again["window_start"], again["quantity_litres"]) == (
        later,
        yard["id"],
        "13:00",
        5000,
    )
    assert again["reference"] != placed["reference"]
    shoot(page, "64-same-again")

    # A stop on its page: no more orders from it.
    page.goto(f"{server.url}/app/customer/standing-orders/{made['id']}")
    page.click("#stop-standing")
    page.click("#stop-standing-yes")
    page.wait_for_selector(".chip[data-status=cancelled]")
    assert server.get(f"/standing-orders/{made['id']}", "fleet1")["status"] == "cancelled"
    watch.assert_clean()
    page.context.close()

    # In Chinese, at phone size: the standing orders (with the refusal) and the same again on an order.
    page, watch = new_page(browser)
    login(page, server, "fleet1", lang="zh-CN")
    page.goto(f"{server.url}/app/customer/standing-orders")
    page.wait_for_selector(".run[data-outcome=refused]")
    assert "定期订单" in page.inner_text("h1")
    assert "未下单" in page.locator(".run[data-outcome=refused]").first.inner_text()
    shoot(page, "63-standing-orders-zh")
    page.goto(f"{server.url}/app/customer/orders/{again_id}")
    page.wait_for_selector("#same-again")
    assert "再来一单" in page.inner_text("#same-again")
    shoot(page, "64-same-again-zh")
    watch.assert_clean()
    page.context.close()
