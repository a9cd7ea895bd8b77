"""Accessibility basics checked by axe-core (npm, test only) on the main screens: labels, names, contrast,
landmarks, ARIA use; and the keyboard: the skip link and a form used without a mouse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import Server, login, new_page

pytestmark = pytest.mark.e2e
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
CUSTOMER_PAGES = [
    "/app/customer",
    "/app/customer/order",
    "/app/customer/orders",
    "/app/customer/pickup",
    "/app/customer/notifications",
    "/app/customer/notifications/settings",
]


def _violations(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => JSON.stringify(await axe.run(document, {resultTypes: ['violations']}).then(r => r.violations))"
    )
    return [v for v in json.loads(result) if v["impact"] in ("serious", "critical")]


def _describe(violations: list[dict[str, Any]]) -> str:
    return "; ".join(f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}" for v in violations)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_customer_screens_have_no_serious_accessibility_violations(server: Server, browser: Any, lang: str) -> None:
    if not AXE.is_file():
        pytest.skip("axe-core is not installed (npm ci)")
    # axe is injected as a script: this context alone lets it past the pages' Content-Security-Policy.
    page, watch = new_page(browser, bypass_csp=True)
    login(page, server, "fleet1", lang=lang)
    for path in CUSTOMER_PAGES:
        page.goto(f"{server.url}{path}")
        page.wait_for_selector("main:not([aria-busy]) h1")
        # No "networkidle": the bell's live stream stays open; it is connected once it says so.
        page.wait_for_selector("#bell[data-live]")
        page.wait_for_timeout(500)
        found = _violations(page)
        assert not found, f"{path} ({lang}): {_describe(found)}"
    watch.assert_clean()


def test_rack_screen_has_no_serious_accessibility_violations(server: Server, browser: Any) -> None:
    if not AXE.is_file():
        pytest.skip("axe-core is not installed (npm ci)")
    page, watch = new_page(browser, bypass_csp=True)
    login(page, server, "rack1")
    page.wait_for_selector("select[name=depot_id]")
    assert not (found := _violations(page)), _describe(found)
    page.click("form button[type=submit]")
    page.wait_for_selector(".rack-strip")
    page.wait_for_load_state("networkidle")
    assert not (found := _violations(page)), _describe(found)
    watch.assert_clean()


def test_the_keyboard_alone_gets_a_price(server: Server, browser: Any) -> None:
    page, watch = new_page(browser)
    login(page, server, "fleet1")
    page.wait_for_selector(".site")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    page.goto(f"{server.url}/app/customer/order")
    page.wait_for_selector("input[name=quantity_litres]")
    page.focus("input[name=quantity_litres]")
    page.keyboard.press("Control+A")
    page.keyboard.type("7000")
    page.keyboard.press("Enter")  # submits the form: the quote
    page.wait_for_selector("#confirm:focus")  # focus moves to the confirmation
    watch.assert_clean()
