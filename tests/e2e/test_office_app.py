"""The back office in a real browser: an admin lands in it and reaches the other apps; publishes prices valid from
today and a customer's order five days out is priced; an application is approved and the new customer orders;
finance runs invoices (the progress bar to the end), credits a line, records a payment (one, however often the
button is pressed) that releases a held order, allocates one by hand and saves a statement; the insight pages draw
the analytics contract's answers; every page passes axe in English and Chinese without console errors, with
screenshots at 1440 px and 768 px (tests/e2e/screenshots/office-*)."""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import DESKTOP, SCREENSHOTS, SHANGHAI, Server, login, new_page
from tests.e2e.test_accessibility import AXE, _describe, _violations

pytestmark = pytest.mark.e2e
TABLET = {"width": 768, "height": 1024}
EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]


def today() -> date:
    return datetime.now(SHANGHAI).date()


def shoot_office(page: Any, name: str) -> None:
    """Screenshots at desktop (1440 px) and tablet (768 px) width, after checking nothing overflows sideways."""
    SCREENSHOTS.mkdir(exist_ok=True)
    original = page.viewport_size
    for label, size in (("desktop", DESKTOP), ("tablet", TABLET)):
        page.set_viewport_size(size)
        page.wait_for_timeout(250)  # charts follow their box's width
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name}: the page is {overflow} px wider than a {size['width']} px screen"
        page.screenshot(path=str(SCREENSHOTS / f"office-{name}-{label}.png"), full_page=True)
    page.set_viewport_size(original)


def office(
    browser: Any,
    server: Server,
    username: str = "admin",
    *,
    lang: str = "en",
    refused: tuple[int, ...] = (),
    **context: Any,
) -> tuple[Any, Any]:
    """A desktop page logged in to the office; `refused`: statuses of refusals the test provokes on purpose."""
    page, watch = new_page(browser, allowed_statuses=refused, **context)
    page.set_viewport_size(DESKTOP)
    login(page, server, username, lang=lang)
    page.wait_for_url("**/app/office**")
    return page, watch


def log_in_here(page: Any, server: Server, username: str) -> None:
    """Log in on the login page already shown (it keeps its `next`)."""
    page.wait_for_selector("input[name=username]")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", server.password(username))
    page.click("form button[type=submit]")
    page.wait_for_url(lambda url: "/app/login" not in url)


def ready(page: Any) -> None:
    page.wait_for_selector("main:not([aria-busy]) h1")
    page.wait_for_selector("main [aria-busy]", state="detached")


def new_staff(server: Server, role: str) -> str:
    username = f"{role[:4]}-{uuid.uuid4().hex[:6]}"
    password = f"pw-{uuid.uuid4().hex}"
    server.send("POST", "/users", "admin", {"username": username, "password": password, "role": role})
    server.passwords[username] = password
    return username


def new_customer(server: Server, *, credit_minor: int, lat: float, lon: float) -> dict[str, Any]:
    """An account with one user and one site (open round the clock) at (lat, lon), made through the API."""
    suffix = uuid.uuid4().hex[:6]
    account = server.send(
        "POST", "/customers", "admin", {"name": f"办公室测试 Office Test {suffix}", "credit_limit_minor": credit_minor}
    )
    username = f"office-{suffix}"
    server.passwords[username] = f"pw-{uuid.uuid4().hex}"
    body = {
        "username": username,
        "password": server.passwords[username],
        "role": "customer",
        "customer_id": account["id"],
    }
    server.send("POST", "/users", "admin", body)
    site = server.send(
        "POST",
        "/sites",
        username,
        {
            "name": f"Yard {suffix}",
            "address": "8 Test Road",
            "lat": lat,
            "lon": lon,
            "tank_capacity_litres": 40_000,
            "receiving_hours": [{"days": EVERY_DAY, "open": "00:00", "close": "24:00"}],
        },
    )
    return {**account, "username": username, "site": site}


def order_body(site_id: str, day: date, litres: int = 5000) -> dict[str, Any]:
    return {
        "site_id": site_id,
        "product_code": "diesel-0",
        "quantity_litres": litres,
        "delivery_date": day.isoformat(),
        "window_start": "09:00",
        "window_end": "12:00",
    }


def post(server: Server, path: str, username: str, body: Any) -> Any:
    headers = {"Authorization": f"Bearer {server.token(username)}", "Idempotency-Key": str(uuid.uuid4())}
    return server.http.post(path, json=body, headers=headers)


def pick_customer(page: Any, scope: str, name: str) -> None:
    """Find a customer by name in a picker: typing narrows the choice to it."""
    page.fill(f"{scope} input[type=search]", name)
    page.wait_for_selector(f"{scope} select[name=customer_id] option:text-is('{name}')", state="attached")
    page.select_option(f"{scope} select[name=customer_id]", label=name)


def prices_hold_until_replaced(server: Server) -> bool:
    """Whether this server keeps a price from its first day on (the pricing work), or only for that one day."""
    return any("valid_from" in p for p in server.get("/prices", "admin"))


# ------------------------------------------------------------------ landing


def test_an_admin_lands_in_the_office_and_reaches_the_other_apps(server: Server, browser: Any) -> None:
    page, watch = office(browser, server)
    assert page.url.endswith("/app/office")
    page.wait_for_selector("[data-figure='office.waiting_applications']")
    page.click("#nav a:has-text('Dispatch')")
    page.wait_for_url("**/app/dispatcher")
    page.wait_for_selector("main:not([aria-busy]) h1")
    # A link to another app the admin may use survives the login page.
    other, other_watch = new_page(browser)
    other.goto(f"{server.url}/app/rack")
    other.wait_for_url("**/app/login?next=*")
    log_in_here(other, server, "admin")
    other.wait_for_url("**/app/rack**")
    # Finance may use the office only: a link elsewhere lands it in the office.
    finance = new_staff(server, "finance")
    third, third_watch = new_page(browser)
    third.goto(f"{server.url}/app/login?next=/app/dispatcher")
    log_in_here(third, server, finance)
    third.wait_for_url("**/app/office")
    for w in (watch, other_watch, third_watch):
        w.assert_clean()


# ------------------------------------------------------------------ prices


def test_admin_publishes_prices_valid_from_today_and_an_order_five_days_out_is_priced(
    server: Server, browser: Any
) -> None:
    # A depot far from the others, without any price yet: whatever prices it, it is this publication.
    depot = server.send(
        "POST",
        "/depots",
        "admin",
        {
            "code": f"e2e-hz-{uuid.uuid4().hex[:4]}",
            "name": "Hangzhou Depot 杭州油库",
            "lat": 30.27,
            "lon": 120.15,
            "timezone": "Asia/Shanghai",
            "opening_hours": [{"days": EVERY_DAY, "open": "00:00", "close": "24:00"}],
            "loading_bays": 2,
            "products": ["diesel-0", "diesel-m10"],
        },
    )
    customer = new_customer(server, credit_minor=100_000_000, lat=30.28, lon=120.16)
    five_days_out = today() + timedelta(days=5)
    quote = {k: v for k, v in order_body(customer["site"]["id"], five_days_out).items() if not k.startswith("window")}
    refused = post(server, "/quotes", customer["username"], quote)
    assert refused.status_code == 422 and refused.json()["code"] == "not_on_sale", refused.text

    page, watch = office(browser, server)
    page.click("#nav a:has-text('Prices')")
    ready(page)
    assert page.input_value("input[name=valid_from]") == today().isoformat()
    cell = f"input[name='price:{depot['id']}:diesel-0']"
    other = f"input[name='price:{depot['id']}:diesel-m10']"
    # A price that is not an amount is refused next to its cell, in words.
    page.fill(other, "8.1.2")
    page.click("#publish")
    error = page.locator(f".field-error[data-error-for='price:{depot['id']}:diesel-m10']")
    error.wait_for()
    assert "two decimals" in error.inner_text()
    assert page.get_attribute(other, "aria-invalid") == "true"
    page.fill(other, "7.92")
    page.fill(cell, "7.66")
    assert "/ t" in page.inner_text(f"td[data-product='diesel-0']:has({cell}) .per-tonne")
    shoot_office(page, "01-prices-edited")
    page.click("#publish")
    page.wait_for_selector("#banner.banner-ok:has-text('published')")
    page.wait_for_selector(f"{cell}[value='7.66']")
    assert page.get_attribute(f"td:has({cell}) .chip", "data-change") == "new"
    shoot_office(page, "02-prices-published")
    in_force = {(p["depot_id"], p["product_code"]): p for p in server.get("/prices", "admin")}
    assert in_force[(depot["id"], "diesel-0")]["price_per_litre_minor"] == 766
    watch.assert_clean()

    assert prices_hold_until_replaced(server)
    order = post(server, "/orders", customer["username"], order_body(customer["site"]["id"], five_days_out))
    assert order.status_code == 201, order.text
    assert order.json()["price"]["price_per_litre_minor"] == 766
    assert order.json()["price"]["amount_minor"] == 5000 * 766


# ------------------------------------------------------------------ applications


def test_an_application_is_approved_in_the_office_and_the_new_customer_orders(server: Server, browser: Any) -> None:
    suffix = uuid.uuid4().hex[:6]
    company = f"闵行物流 Minhang Haulage {suffix}"
    password = f"pw-{uuid.uuid4().hex}"
    applied = server.http.post(
        "/applications",
        json={
            "company_name": company,
            "tax_id": f"913101{suffix.upper()}X",
            "contact_name": "Zhou Min 周敏",
            "contact_phone": "13911112222",
            "username": f"minhang-{suffix}",
            "password": password,
            "site": {
                "name": "Minhang yard 闵行堆场",
                "address": "88 Jianchuan Road, Shanghai",
                "lat": 31.32,
                "lon": 121.56,
                "tank_capacity_litres": 30_000,
                "receiving_hours": [{"days": EVERY_DAY, "open": "06:00", "close": "22:00"}],
            },
        },
    )
    assert applied.status_code == 201, applied.text

    page, watch = office(browser, server)
    page.click("[data-figure='office.waiting_applications']")
    ready(page)
    page.click(f"a:has-text('{company}')")
    page.wait_for_selector("#approve")
    shoot_office(page, "03-application")
    # A credit limit that is not an amount: refused next to the field, and nothing is opened.
    page.fill("#approve input[name=credit_limit_minor]", "20,000.555")
    page.click("#approve button[type=submit]")
    error = page.locator("#approve .field-error[data-error-for=credit_limit_minor]")
    error.wait_for()
    assert error.inner_text().strip()
    assert server.get(f"/applications/{applied.json()['id']}", "admin")["status"] == "pending"
    page.fill("#approve input[name=credit_limit_minor]", "200000")
    page.click("#approve button[type=submit]")
    page.wait_for_url("**/app/office/customers/*")
    page.wait_for_selector(f"h1:has-text('{company}')")
    page.wait_for_selector("#banner.banner-ok")
    page.wait_for_selector("[data-figure=available] .figure-value:has-text('200,000.00')")
    shoot_office(page, "04-new-customer")

    # The new customer logs in and orders.
    server.passwords[f"minhang-{suffix}"] = password
    username = f"minhang-{suffix}"
    site = server.all("/sites", username)[0]
    order = post(server, "/orders", username, order_body(site["id"], today() + timedelta(days=1)))
    assert order.status_code == 201, order.text
    assert order.json()["status"] == "confirmed"

    page.click("a:has-text('Orders and pickups')")
    page.wait_for_selector(f"td:has-text('{order.json()['reference']}')")
    watch.assert_clean()


# ------------------------------------------------------------------ finance


def held_order(server: Server) -> tuple[dict[str, Any], dict[str, Any]]:
    """A customer whose order waits on credit: ¥10,000 of credit, an order of about ¥39,000."""
    customer = new_customer(server, credit_minor=1_000_000, lat=31.31, lon=121.52)
    order = post(
        server, "/orders", customer["username"], order_body(customer["site"]["id"], today() + timedelta(days=1))
    )
    assert order.status_code == 201, order.text
    assert order.json()["status"] == "on_hold" and order.json()["hold_reason"] == "credit_limit"
    return customer, order.json()


def record_payment(page: Any, customer: dict[str, Any], amount: str, reference: str) -> None:
    page.click("#nav a:has-text('Finance')")
    ready(page)
    page.click(".tabs a:has-text('Payments')")
    page.wait_for_selector("#record-payment")
    pick_customer(page, "#record-payment", customer["name"])
    page.fill("#record-payment input[name=amount_minor]", amount)
    page.fill("#record-payment input[name=reference]", reference)
    page.dblclick("#record-payment button[type=submit]")  # a double click records one payment
    page.wait_for_url("**/app/office/finance/payments/*")
    page.wait_for_selector("#banner.banner-ok")


def test_finance_runs_invoices_to_the_end_of_the_progress_bar_and_records_one_payment(
    server: Server, browser: Any
) -> None:
    finance = new_staff(server, "finance")
    customer, held = held_order(server)
    page, watch = office(browser, server, finance, refused=(422, 403))
    assert page.url.endswith("/app/office")  # finance lands in the office too
    page.click("#nav a:has-text('Finance')")
    page.wait_for_selector("#invoice-run")
    assert page.input_value("#invoice-run input[name=period_end]") == (today() - timedelta(days=1)).isoformat()
    # Today's period is not over: the refusal is shown next to the day.
    page.fill("#invoice-run input[name=period_end]", today().isoformat())
    page.click("#invoice-run button[type=submit]")
    page.locator("#invoice-run .field-error[data-error-for=period_end]").wait_for()
    assert page.get_attribute("#invoice-run input[name=period_end]", "aria-invalid") == "true"

    page.fill("#invoice-run input[name=period_end]", (today() - timedelta(days=1)).isoformat())
    page.click("#invoice-run button[type=submit]")
    page.wait_for_selector(".run-progress progress")
    page.wait_for_selector(".run-progress[data-status=succeeded]", timeout=60_000)
    bar = page.locator(".run-progress progress")
    assert bar.get_attribute("value") == bar.get_attribute("max")
    page.wait_for_selector("#banner.banner-ok:has-text('Invoice run finished')")
    page.wait_for_selector(".paged .chip[data-status=succeeded]")
    shoot_office(page, "05-invoice-run")

    reference = f"E2E-{uuid.uuid4().hex[:6]}"
    record_payment(page, customer, "40000", reference)
    assert "40,000.00" in page.inner_text("h1")
    payments = server.get(f"/payments?customer_id={customer['id']}", finance)
    assert payments["total"] == 1 and payments["items"][0]["reference"] == reference
    assert payments["items"][0]["amount_minor"] == 4_000_000
    shoot_office(page, "06-payment")
    balance = server.get(f"/customers/{customer['id']}/balance", finance)
    assert balance["prepaid_minor"] == 4_000_000
    # The payment released the held order, which now takes its amount from ¥10,000 of credit + ¥40,000 prepaid.
    assert server.get(f"/orders/{held['id']}", "admin")["status"] == "confirmed"
    available = 1_000_000 + 4_000_000 - held["price"]["amount_minor"]
    assert balance["available_minor"] == available
    shown = f"{available // 100:,}.{available % 100:02d}"

    # The customer's page draws its charts with the bundled library under the pages' strict policy.
    page.click(f"a.customer-link:has-text('{customer['name']}')")
    page.wait_for_selector("#balance-chart .chart-plot canvas")
    page.wait_for_selector(f"[data-figure=available] .figure-value:has-text('{shown}')")
    # Finance sees nothing of dispatch: the volume from the orders, the sites and the users say so.
    page.wait_for_selector("#volume-chart [data-unavailable='403']")
    assert page.locator("main [data-unavailable='403']").count() == 3
    shoot_office(page, "06-customer-after-payment")
    watch.assert_clean()


def test_a_payment_recorded_in_the_office_releases_a_held_order(server: Server, browser: Any) -> None:
    finance = new_staff(server, "finance")
    customer, order = held_order(server)
    page, watch = office(browser, server, finance)
    record_payment(page, customer, "40000", f"E2E-{uuid.uuid4().hex[:6]}")
    deadline = time.monotonic() + 10
    status = "on_hold"
    while time.monotonic() < deadline and status == "on_hold":
        status = server.get(f"/orders/{order['id']}", "admin")["status"]
        time.sleep(0.3)
    assert status == "confirmed"
    watch.assert_clean()


# ------------------------------------------------------------------ every page: axe, both languages, screenshots

PAGES = [
    ("07-overview", ""),
    ("08-price-history", "prices/history"),
    ("09-tiers", "prices/tiers"),
    ("10-applications", "applications"),
    ("11-customers", "customers"),
    ("12-customer", "customers/{customer}"),
    ("13-customer-money", "customers/{customer}?tab=money"),
    ("14-customer-ledger", "customers/{customer}?tab=ledger"),
    ("15-invoices", "finance/invoices"),
    ("16-payments", "finance/payments"),
    ("17-bank", "finance/bank"),
    ("18-statements", "finance/statements?customer={customer}"),
    ("19-users", "users"),
    ("20-rack-operator", "users/{rack1}"),
    ("21-audit", "audit"),
    ("22-insight", "insight"),
    ("23-sales", "insight/sales"),
]


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_office_pages_are_accessible_in_both_languages(server: Server, browser: Any, lang: str) -> None:
    if not AXE.is_file():
        pytest.skip("axe-core is not installed (npm ci)")
    fleet1 = server.get("/me", "fleet1")["customer"]["id"]
    rack1 = server.get("/me", "rack1")["user"]["id"]
    page, watch = office(browser, server, lang=lang, bypass_csp=True)
    for name, path in PAGES:
        page.goto(f"{server.url}/app/office/{path.format(customer=fleet1, rack1=rack1)}")
        ready(page)
        if name == "12-customer":  # the admin sees the volume drawn by the bundled chart library
            page.wait_for_selector("#volume-chart .chart-plot canvas")
        page.wait_for_timeout(300)
        found = _violations(page)
        assert not found, f"{path} ({lang}): {_describe(found)}"
        if lang == "en" or name in ("12-customer", "07-overview"):
            shoot_office(page, f"{name}-{lang}")
    # The bank statement import with its matching shown for review.
    page.goto(f"{server.url}/app/office/finance/bank")
    ready(page)
    csv = f"date,amount,reference,payer_name\n{today().isoformat()},1234.56,NO-SUCH-CODE,Unknown Trading Co\n"
    page.set_input_files(
        "#bank-import input[name=file]", {"name": "statement.csv", "mimeType": "text/csv", "buffer": csv.encode()}
    )
    page.click("#bank-import button[type=submit]")
    page.wait_for_selector("#import-result")
    page.wait_for_selector(".paged [data-assign]")
    page.locator(".paged [data-assign]").first.click()
    page.wait_for_selector(".assign-panel")
    assert not (found := _violations(page)), _describe(found)
    shoot_office(page, f"24-bank-import-{lang}")
    watch.assert_clean()


# ------------------------------------------------------------------ insight: the real analytics API


def in_served_db(work: Any) -> Any:
    """Run `work` (a coroutine) on a loop of its own in a thread: Playwright's loop runs in this one."""
    import asyncio
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result(timeout=60)


def history_of(server: Server, customer: dict[str, Any], depot: dict[str, Any] | None = None) -> Any:
    """The customer's past written straight into the served database (tests/insight_factories.History): orders,
    charges, deliveries and timeline events on days the API cannot choose."""
    from types import SimpleNamespace

    import api.models  # noqa: F401  every table on the metadata
    from tests.insight_factories import Account, History

    assert server.log is not None
    url = f"sqlite+aiosqlite:///{server.log.parent / 'diesel.db'}"
    app = SimpleNamespace(state=SimpleNamespace(settings=SimpleNamespace(db=SimpleNamespace(url=url))))
    return History(app, Account(id=customer["id"], site=customer["site"]), depot or server.all_day_depot)


async def failed_order(history: Any, placed: datetime, failed: datetime) -> None:
    """An order placed at `placed` whose delivery failed at `failed`, with the timeline event the radar reads."""
    from core.events import record_event
    from tests.money_factories import money_session

    (order,) = await history.orders(placed, status="failed")
    async with money_session(history.app) as session:
        record_event(
            session,
            subject_type="order",
            subject_id=order.id,
            customer_id=history.customer_id,
            type="order_failed",
            at=failed,
            from_status="delivering",
            to_status="failed",
            reason="site_closed",
        )


def new_manager(server: Server) -> tuple[str, str]:
    """A dispatcher who is also an account manager: (username, user id)."""
    username = new_staff(server, "dispatcher")
    user_id = server.get("/me", username)["user"]["id"]
    server.send("PUT", f"/users/{user_id}", "admin", {"manager": True})
    return username, user_id


def axe_clean(page: Any, where: str) -> None:
    if AXE.is_file():
        found = _violations(page)
        assert not found, f"{where}: {_describe(found)}"


def printed_code(server: Server, browser: Any, customer: dict[str, Any]) -> bytes:
    """The site's visit code as an admin prints it from the customer's page in the office (an SVG file)."""
    page, watch = office(browser, server)
    page.goto(f"{server.url}/app/office/customers/{customer['id']}")
    ready(page)
    row = page.locator(f"tr:has(td:text-is('{customer['site']['name']}'))")
    with page.expect_download() as saved:
        row.locator("button:has-text('Print (SVG)')").click()
    assert saved.value.suggested_filename.endswith(".svg")
    svg = Path(saved.value.path()).read_bytes()
    assert b"<svg" in svg[:200]
    watch.assert_clean()
    page.context.close()
    return svg


def code_video(browser: Any, svg: bytes, path: Path) -> Path:
    """A video of the printed code for the fake camera: the SVG drawn by the browser, as on paper."""
    import base64
    import io

    from PIL import Image

    from tests.e2e.fake_camera import write_y4m

    paper = browser.new_page(viewport={"width": 600, "height": 600})
    try:
        data = base64.b64encode(svg).decode()
        paper.set_content(f'<img id="code" style="width:420px;height:420px" src="data:image/svg+xml;base64,{data}">')
        paper.wait_for_function("document.getElementById('code').complete")
        png = paper.locator("#code").screenshot()
    finally:
        paper.close()
    return write_y4m(Image.open(io.BytesIO(png)).convert("L"), path)


def test_a_manager_sees_a_customer_go_quiet_after_a_failed_delivery_visits_it_and_wins_it_back(
    server: Server, browser: Any, playwright: Any, tmp_path: Path
) -> None:
    """An account manager's radar shows its customer quiet since a failed delivery; the manager visits the site,
    proving it by scanning the code printed there through the camera, and sees the customer won back once it
    orders again: all from the insight API, nothing made up by the page."""
    from datetime import UTC

    from tests.e2e.browser import launch

    if not (Path(__file__).resolve().parents[2] / "web" / "static" / "vendor" / "zxing-reader.js").is_file():
        pytest.fail("the QR decoder is not built: run `npm ci && npm run build`")
    manager, manager_id = new_manager(server)
    customer = new_customer(server, credit_minor=100_000_000, lat=31.30, lon=121.51)
    server.send("PUT", f"/customers/{customer['id']}/manager", "admin", {"user_id": manager_id})
    history = history_of(server, customer)
    now = datetime.now(UTC)
    # Ordered 60 days ago, then 45 days ago; that delivery failed the next day and nothing was ordered since: with
    # fewer than three orders a customer is quiet after 30 days (DORMANT_FLOOR_DAYS), since 15 days ago.
    in_served_db(history.orders(now - timedelta(days=60)))
    in_served_db(failed_order(history, now - timedelta(days=45), now - timedelta(days=44)))
    quiet = server.get("/analytics/customers?dormant=true", manager)["items"]
    assert [(c["customer_id"], c["dormant"]["reasons"]) for c in quiet] == [(customer["id"], ["failed_delivery"])]
    video = code_video(browser, printed_code(server, browser, customer), tmp_path / "visit-code.y4m")

    camera_browser = launch(
        playwright,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    try:
        page, watch = new_page(camera_browser, permissions=["camera"], bypass_csp=True)
        page.set_viewport_size(DESKTOP)
        login(page, server, manager)
        page.goto(f"{server.url}/app/office/insight")
        ready(page)
        # The radar: this customer, quiet for 15 days, a failed delivery the likely reason.
        row = page.locator(f".paged tr.quiet-customer:has(a:text-is('{customer['name']}'))")
        row.wait_for()
        assert row.locator("li[data-reason=failed_delivery]").inner_text() == "A failed delivery"
        since = server.get("/analytics/customers?dormant=true", manager)["items"][0]["dormant"]["since"]
        assert datetime.fromisoformat(since).astimezone(SHANGHAI).strftime("%-d") in row.inner_text()
        page.wait_for_selector("[data-figure=quiet] .figure-value:text-is('1')")
        page.wait_for_selector("[data-figure=won_back] .figure-value:text-is('0')")
        page.wait_for_selector(".insight-overview .chart-plot canvas")
        axe_clean(page, "the manager's insight")
        shoot_office(page, "31-manager-radar")

        # The visit: the camera reads the code printed at the site; nothing is typed.
        page.click("#record-visit")
        page.wait_for_url("**/app/office/insight/visits/new")
        result = page.locator(".visit-result")
        result.wait_for(timeout=30_000)
        assert page.input_value("textarea[name=token]") == ""
        assert page.locator("main").get_attribute("data-decoder") in ("native", "zxing")
        assert result.get_attribute("data-again") == "false"
        assert customer["site"]["name"] == result.locator(".visit-site").inner_text()
        assert customer["name"] in result.inner_text()
        result.locator(".quiet-visit [data-outcome=pending]").wait_for()
        visits = server.get("/visits", manager)["items"]
        assert [(v["site_id"], v["outcome"]) for v in visits] == [(customer["site"]["id"], "pending")]
        assert visits[0]["dormant_since"] is not None
        axe_clean(page, "the visit")
        shoot_office(page, "32-visit-recorded")

        # The customer orders again: the visit won it back; it leaves the radar.
        order = post(
            server, "/orders", customer["username"], order_body(customer["site"]["id"], today() + timedelta(days=1))
        )
        assert order.status_code == 201, order.text
        page.click(".visit-result a:has-text('Visits')")
        page.wait_for_url("**/app/office/insight/visits")
        visit_row = page.locator(f".paged tr.visit:has(a:text-is('{customer['name']}'))")
        visit_row.locator("[data-outcome=won_back]").wait_for()
        assert "Won back" in visit_row.inner_text()
        axe_clean(page, "the visits")
        shoot_office(page, "33-visit-won-back")
        page.click(".tabs a:has-text('Customers')")
        ready(page)
        page.wait_for_selector("[data-figure=won_back] .figure-value:text-is('1')")
        page.wait_for_selector("[data-figure=quiet] .figure-value:text-is('0')")
        assert page.locator(".paged tr.quiet-customer").count() == 0
        board = server.get(f"/analytics/managers/{manager_id}/dashboard", manager)["reactivation"]
        assert (board["dormant_visited"], board["won_back"], board["rate"]) == (1, 1, 1.0)
        shoot_office(page, "34-manager-won-back")
        watch.assert_clean()
    finally:
        camera_browser.close()


def test_insight_pages_draw_what_the_analytics_api_answers(server: Server, browser: Any) -> None:
    """Customers of three bands with deliveries on time and late, written into the served database; the office
    draws the API's own answers (no stand-in data) with the bundled charts under the pages' policy."""
    from datetime import UTC

    now = datetime.now(UTC)
    made = []
    for tonnes, lat in ((12, 31.21), (33, 31.22), (240, 31.23)):
        customer = new_customer(server, credit_minor=100_000_000, lat=lat, lon=121.40)
        history = history_of(server, customer)
        in_served_db(history.charges((now - timedelta(days=3), tonnes * 500), (now - timedelta(days=10), tonnes * 500)))
        made.append((customer, history))
    _, history = made[2]
    due = now - timedelta(days=2)
    in_served_db(
        history.delivered(now - timedelta(days=4), window_end=due, arrived=due - timedelta(minutes=30), delivered=due)
    )
    late = now - timedelta(days=1)
    in_served_db(
        history.delivered(
            now - timedelta(days=3),
            window_end=late,
            arrived=late + timedelta(minutes=40),
            delivered=late + timedelta(minutes=70),
        )
    )

    page, watch = office(browser, server)
    page.goto(f"{server.url}/app/office/insight")
    ready(page)
    page.wait_for_selector(".insight-overview .chart-plot canvas")
    assert page.locator(".insight-overview figure").count() == 2
    big = made[2][0]
    top = server.get("/analytics/customers?limit=10", "admin")["items"]
    assert big["id"] in [c["customer_id"] for c in top]
    assert page.locator(f".top-ten tr:has(a:text-is('{big['name']}')) td.num").inner_text() == "240"
    assert page.locator(".top-ten tbody tr").count() == len(top)
    shoot_office(page, "25-insight")

    page.click(".tabs a:has-text('Sales')")
    page.wait_for_selector(".report .chart-plot canvas")
    sales = server.get(
        f"/analytics/sales?group_by=product&period=week&from={today() - timedelta(days=90)}&to={today()}", "admin"
    )
    labels = {r["label"] for r in sales["rows"]}
    assert labels  # a legend names each product when there are several
    assert page.locator(".report .chart-legend li").count() == (len(labels) if len(labels) > 1 else 0)
    assert page.locator(".report table:not(.chart-figures) tbody tr").count() == len(sales["rows"])
    shoot_office(page, "26-sales")

    page.click(".tabs a:has-text('Deliveries')")
    answer = server.get(f"/analytics/deliveries?from={today() - timedelta(days=90)}&to={today()}", "admin")["summary"]
    assert answer["deliveries"] >= 2 and answer["lateness"]["30-60m"] >= 1
    share = f"{answer['on_time_share'] * 100:.1f}".rstrip("0").rstrip(".")
    page.wait_for_selector(f"[data-figure=on_time] .figure-value:has-text('{share}')")
    page.wait_for_selector(f"[data-figure=deliveries] .figure-value:text-is('{answer['deliveries']:,}')")
    page.wait_for_selector(".report .chart-plot canvas")
    shoot_office(page, "27-deliveries")
    watch.assert_clean()


# ------------------------------------------------------------------ invoices, credit notes, allocation, statements


def charge_days_ago(server: Server, customer_id: str, *, days: int, litres: int) -> dict[str, Any]:
    """A delivery charged `days` ago, written by money's own ledger into the served database: what the order's
    life records on delivery, on a day the API cannot choose (a run invoices only periods that are over)."""
    import asyncio
    import concurrent.futures
    from types import SimpleNamespace

    import api.models  # noqa: F401  every table on the metadata (a charge's account refers to the customer's)
    from tests.billing_factories import add_charge, local

    assert server.log is not None
    url = f"sqlite+aiosqlite:///{server.log.parent / 'diesel.db'}"
    app = SimpleNamespace(state=SimpleNamespace(settings=SimpleNamespace(db=SimpleNamespace(url=url))))
    work = add_charge(app, customer_id, at=local(today() - timedelta(days=days)), litres=litres, price=790)
    # Playwright's own loop runs in this thread: the write gets a thread and a loop of its own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result(timeout=30)


def test_finance_invoices_a_charge_credits_a_line_allocates_a_payment_and_saves_the_statement(
    server: Server, browser: Any
) -> None:
    finance = new_staff(server, "finance")
    customer = new_customer(server, credit_minor=10_000_000, lat=31.33, lon=121.54)
    server.send("PATCH", f"/customers/{customer['id']}/billing", finance, {"billing_period": "per_delivery"})
    charge_days_ago(server, customer["id"], days=2, litres=3000)  # ¥23,700.00
    page, watch = office(browser, server, finance, refused=(409, 403))
    page.click("#nav a:has-text('Finance')")
    page.wait_for_selector("#invoice-run")
    pick_customer(page, "#invoice-run", customer["name"])
    page.click("#invoice-run button[type=submit]")
    page.wait_for_selector(".run-progress[data-status=succeeded]", timeout=60_000)
    page.wait_for_selector("#banner.banner-ok:has-text('1 invoices issued')")

    page.click(".tabs a:has-text('Invoices')")
    ready(page)
    page.select_option(".paged select[name=status]", "issued")
    invoice_link = page.locator(f".paged tr:has-text('{customer['name']}') a").first
    number = invoice_link.inner_text()
    invoice_link.click()
    page.wait_for_selector("#credit-note")
    assert "23,700.00" in page.inner_text("main .details")
    shoot_office(page, "28-invoice")
    # More than the line has left is refused in words; nothing is issued.
    page.fill("#credit-note textarea[name=reason]", "Short delivery: 100 L")
    page.check("#scope-lines")
    page.check("#credit-note input[name=line]")
    page.fill("#credit-note input.input-money", "99999")
    page.click("#credit-note button[type=submit]")
    page.wait_for_selector("#credit-note .form-error:not([hidden]), #credit-note .field-error:not(:empty)")
    assert server.get(f"/invoices?customer_id={customer['id']}", finance)["items"][0]["credited_minor"] == 0
    page.fill("#credit-note input.input-money", "790.00")
    page.click("#credit-note button[type=submit]")
    page.wait_for_selector("#banner.banner-ok:has-text('CN-')")
    page.wait_for_selector("main li:has-text('CN-')")

    # A payment kept aside, then allocated to the invoice by hand.
    page.click(".tabs a:has-text('Payments')")
    pick_customer(page, "#record-payment", customer["name"])
    page.fill("#record-payment input[name=amount_minor]", "10000")
    page.uncheck("#allocate")
    page.click("#record-payment button[type=submit]")
    page.wait_for_selector("#allocate-payment")
    assert number in page.inner_text("#allocate-payment select[name=invoice_id]")
    page.fill("#allocate-payment input[name=amount_minor]", "10000")
    page.click("#allocate-payment button[type=submit]")
    page.wait_for_selector(f".allocations a:has-text('{number}')")
    invoice = server.get(f"/invoices?customer_id={customer['id']}", finance)["items"][0]
    assert (invoice["status"], invoice["paid_minor"], invoice["credited_minor"]) == ("part_paid", 1_000_000, 79_000)
    shoot_office(page, "29-payment-allocated")

    # The month's statement, shown and saved as a PDF.
    page.goto(f"{server.url}/app/office/customers/{customer['id']}?tab=money")
    ready(page)
    month = (today() - timedelta(days=2)).strftime("%Y-%m")
    page.fill("#statement-month", month)
    page.click("#show-statement")
    page.wait_for_selector(".statement .details")
    with page.expect_download() as saved:
        page.click(".card:has(#statement-month) button:has-text('PDF')")
    download = saved.value
    assert download.suggested_filename.endswith(f"{month}.pdf")
    assert Path(download.path()).read_bytes().startswith(b"%PDF-")
    shoot_office(page, "30-customer-money")
    watch.assert_clean()


def test_a_customer_list_exported_to_csv_keeps_a_strangers_formula_as_text(server: Server, browser: Any) -> None:
    """Names come from online applications: one that starts like a formula stays text in the spreadsheet."""
    marker = uuid.uuid4().hex[:6]
    name = f'=HYPERLINK("http://evil.example/{marker}","click")'
    server.send("POST", "/customers", "admin", {"name": name, "credit_limit_minor": 0})
    page, watch = office(browser, server)
    page.goto(f"{server.url}/app/office/customers?q={marker}")
    ready(page)
    page.wait_for_selector(f"a.customer-link:has-text('{marker}')")
    with page.expect_download() as saved:
        page.click("button:has-text('Export CSV')")
    text = Path(saved.value.path()).read_text(encoding="utf-8-sig")
    rows = text.splitlines()
    assert rows[0].startswith("Company,") and len(rows) == 2
    assert rows[1].startswith("\"'=HYPERLINK(")
    watch.assert_clean()
