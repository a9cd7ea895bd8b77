"""Self-service: a customer edits its sites (audited, and new orders follow at once), searches an address through
the configured geocoder (a local fake Nominatim), picks a preferred driver among the serving depot's (by name only,
licence valid on the day); the referral
QR code leads to the public sign-up page at PUBLIC_BASE_URL; share links and passes open pages in a browser."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest

from tests.factories import EVERY_DAY, new_fleet, ok
from tests.fake_geocoder import fake_nominatim

pytestmark = pytest.mark.integration
API = "/api/v1"
HARBIN = (45.75, 126.65)  # far from every other test's depots: the depot here serves the site next to it


def site_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "新堆场 New yard",
        "address": "99 Gangcheng Road, Pudong, Shanghai",
        "lat": 31.3563,
        "lon": 121.5932,
        "tank_capacity_litres": 25_000,
        "receiving_hours": [{"days": [1, 2, 3, 4, 5], "open": "07:00", "close": "18:00"}],
    }
    body.update(overrides)
    return body


# --- sites ----------------------------------------------------------------------------------------------------


async def test_a_customer_edits_its_site_and_the_change_is_audited(world) -> None:
    customer = await world.new_customer()
    site = customer.site
    changed = ok(await world.client.put(f"{API}/sites/{site['id']}", headers=customer.h, json=site_body()))
    assert changed["id"] == site["id"] and changed["customer_id"] == customer.id
    assert (changed["name"], changed["lat"], changed["lon"]) == ("新堆场 New yard", 31.3563, 121.5932)
    assert changed["tank_capacity_litres"] == 25_000 and changed["timezone"] == site["timezone"]
    assert ok(await world.client.get(f"{API}/sites/{site['id']}", headers=customer.h)) == changed

    trail = ok(
        await world.client.get(
            f"{API}/audit", params={"subject_type": "site", "subject_id": site["id"]}, headers=world.h("admin")
        )
    )["items"]
    assert len(trail) == 1 and trail[0]["action"] == "site_changed" and trail[0]["customer_id"] == customer.id
    assert trail[0]["before"]["name"] == site["name"] and trail[0]["after"]["name"] == "新堆场 New yard"
    assert trail[0]["before"]["lat"] == site["lat"] and trail[0]["after"]["lat"] == 31.3563
    assert "address" in trail[0]["after"] and "timezone" not in trail[0]["after"]  # only what changed

    # The same again changes nothing and records nothing.
    ok(await world.client.put(f"{API}/sites/{site['id']}", headers=customer.h, json=site_body()))
    again = ok(await world.client.get(f"{API}/audit", params={"subject_id": site["id"]}, headers=world.h("admin")))
    assert again["total"] == 1


async def test_new_orders_follow_an_edited_site_at_once(world) -> None:
    customer = await world.new_customer(tank=30_000)
    ok(await customer.order(quantity_litres=20_000), 201)  # fits the tank as it was (and warms the site cache)
    small = site_body(
        tank_capacity_litres=10_000, receiving_hours=[{"days": EVERY_DAY, "open": "06:00", "close": "22:00"}]
    )
    ok(await world.client.put(f"{API}/sites/{customer.site['id']}", headers=customer.h, json=small))
    refused = await customer.order(quantity_litres=20_000)
    assert (refused.status_code, refused.json()["code"]) == (422, "exceeds_tank_capacity")


async def test_another_customers_site_cannot_be_edited_and_bad_sites_are_refused(world) -> None:
    alice, bob = await world.new_customer(), await world.new_customer()
    path = f"{API}/sites/{alice.site['id']}"
    refused = await world.client.put(path, headers=bob.h, json=site_body(name="taken over"))
    assert (refused.status_code, refused.json()["code"]) == (404, "site_not_found")
    assert alice.site["name"] not in refused.text
    assert ok(await world.client.get(path, headers=alice.h))["name"] == alice.site["name"]
    for overrides, code in [
        ({"lat": 91}, "validation_error"),
        ({"receiving_hours": [{"days": [8], "open": "07:00", "close": "18:00"}]}, "validation_error"),
        ({"receiving_hours": [{"days": [1], "open": "18:00", "close": "07:00"}]}, "invalid_hours"),
        ({"timezone": "Mars/Olympus"}, "invalid_timezone"),
    ]:
        answer = await world.client.put(path, headers=alice.h, json=site_body(**overrides))
        assert answer.status_code in (400, 422) and answer.json()["code"] == code, (overrides, answer.text)
    assert (await world.client.put(path, headers=world.h("driver"), json=site_body())).status_code == 403
    staff = ok(await world.client.put(path, headers=world.h("dispatcher"), json=site_body(name="fixed by dispatch")))
    assert staff["customer_id"] == alice.id


# --- the address search ---------------------------------------------------------------------------------------


async def test_the_address_search_asks_the_configured_nominatim(world, app, monkeypatch) -> None:
    from core.settings import geocoder_settings

    customer = await world.new_customer()
    status = ok(await world.client.get(f"{API}/geocode/status", headers=customer.h))
    assert status == {"enabled": False, "provider": "none"}
    off = await world.client.get(f"{API}/geocode", params={"q": "Waigaoqiao"}, headers=customer.h)
    assert (off.status_code, off.json()["code"]) == (409, "geocoder_not_configured")

    with fake_nominatim() as nominatim:
        configured = geocoder_settings("nominatim", nominatim.url, 5)
        monkeypatch.setattr(app.state, "settings", replace(app.state.settings, geocoder=configured))
        assert ok(await world.client.get(f"{API}/geocode/status", headers=customer.h))["enabled"] is True
        found = ok(
            await world.client.get(
                f"{API}/geocode", params={"q": "Waigaoqiao port", "lang": "zh-CN"}, headers=customer.h
            )
        )
        assert found[0] == {
            "address": "外高桥保税区, 浦东新区, 上海市, 中国 (Waigaoqiao, Pudong, Shanghai)",
            "lat": 31.3563,
            "lon": 121.5932,
        }
        assert len(found) == 2
        assert nominatim.requests[-1]["q"] == ["Waigaoqiao port"]
        assert nominatim.requests[-1]["accept-language"] == ["zh-CN"]
        assert nominatim.user_agents[-1].startswith("diesel-direct")
        assert ok(await world.client.get(f"{API}/geocode", params={"q": "nowhere at all"}, headers=customer.h)) == []
        for bad in ({"q": "x"}, {"q": "Waigaoqiao", "lang": "zh;drop"}):
            assert (await world.client.get(f"{API}/geocode", params=bad, headers=customer.h)).status_code == 400
        assert (await world.client.get(f"{API}/geocode", params={"q": "Waigaoqiao"})).status_code == 401
        driver = await world.client.get(f"{API}/geocode", params={"q": "Waigaoqiao"}, headers=world.h("driver"))
        assert driver.status_code == 403

    with fake_nominatim(broken=True) as nominatim:
        configured = geocoder_settings("nominatim", nominatim.url, 5)
        monkeypatch.setattr(app.state, "settings", replace(app.state.settings, geocoder=configured))
        down = await world.client.get(f"{API}/geocode", params={"q": "Waigaoqiao"}, headers=customer.h)
        assert (down.status_code, down.json()["code"]) == (503, "geocoder_unavailable")


def test_the_geocoder_setting_is_checked_at_start() -> None:
    from core.settings import geocoder_settings

    assert not geocoder_settings("none", None, 5).enabled
    assert (
        geocoder_settings("Nominatim", "https://geo.example.cn/nominatim/", 5).url == "https://geo.example.cn/nominatim"
    )
    for kind, url in [("google", "https://x.example"), ("nominatim", None), ("nominatim", "ftp://x.example")]:
        with pytest.raises(ValueError, match="GEOCODER"):
            geocoder_settings(kind, url, 5)


# --- the preferred driver -------------------------------------------------------------------------------------


async def test_customers_pick_a_preferred_driver_among_the_serving_depots_by_name_only(world) -> None:
    depot = await world.new_depot(lat=HARBIN[0], lon=HARBIN[1])
    elsewhere = await world.new_depot(lat=HARBIN[0] + 5, lon=HARBIN[1])
    ours, theirs = await new_fleet(world, depot, tankers=2), await new_fleet(world, elsewhere, tankers=1)
    expired = await new_fleet(world, depot, tankers=1, expired_licence=True)  # may not drive a tanker now
    customer = await world.new_customer(lat=HARBIN[0] + 0.01, lon=HARBIN[1] + 0.01)
    quote = ok(
        await world.client.post(
            f"{API}/quotes",
            headers=customer.h,
            json={k: v for k, v in customer.order_body().items() if k not in ("window_start", "window_end")},
        )
    )
    assert quote["depot"]["id"] == depot["id"]

    listed = ok(await world.client.get(f"{API}/depots/{depot['id']}/drivers", headers=customer.h))
    assert sorted(d["id"] for d in listed) == sorted(t["driver"]["id"] for t in ours)
    assert all(set(d) == {"id", "name"} for d in listed)
    for tanker in ours:  # no phone, licence or shift of anyone
        assert tanker["driver"]["phone"] not in str(listed)

    chosen = ours[1]["driver"]["id"]
    order = ok(await customer.order(preferred_driver_id=chosen), 201)
    assert order["preferred_driver_id"] == chosen
    for wrong in (theirs[0]["driver"]["id"], expired[0]["driver"]["id"], str(uuid.uuid4())):
        refused = await customer.order(preferred_driver_id=wrong)
        assert (refused.status_code, refused.json()["code"], refused.json()["field"]) == (
            422,
            "invalid_preferred_driver",
            "preferred_driver_id",
        )
    staff_list = await world.client.get(f"{API}/drivers", headers=customer.h)
    assert staff_list.status_code == 403  # the staff list (phones, licences) stays staff-only
    unknown = await world.client.get(f"{API}/depots/{uuid.uuid4()}/drivers", headers=customer.h)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "depot_not_found")


# --- the referral link ----------------------------------------------------------------------------------------


async def test_the_referral_qr_code_leads_to_the_public_sign_up_page_at_the_public_address(
    world, app, monkeypatch
) -> None:
    import segno

    spoofed = {**world.h("admin"), "Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    monkeypatch.setattr(app.state, "settings", replace(app.state.settings, public_base_url=None))
    relative = await world.client.get(f"{API}/me/referral.svg", headers=spoofed)
    code = relative.headers["x-referral-code"]
    assert relative.headers["x-referral-link"] == f"/app/apply?ref={code}"

    monkeypatch.setattr(app.state, "settings", replace(app.state.settings, public_base_url="https://dd.example.cn"))
    answer = await world.client.get(f"{API}/me/referral.svg", headers=spoofed)
    link = f"https://dd.example.cn/app/apply?ref={code}"
    assert answer.headers["x-referral-link"] == link
    # The QR code is exactly the one of that link (segno draws the same code for the same text).
    assert answer.text == segno.make(link, error="q").svg_inline(scale=4, border=4)
    assert "evil.example" not in answer.text

    page = await world.client.get(f"/app/apply?ref={code}")  # no login
    assert page.status_code == 200 and 'data-app="apply"' in page.text


# --- share links and passes as pages ------------------------------------------------------------------------


async def test_a_share_link_opened_in_a_browser_goes_to_its_page(world) -> None:
    customer = await world.new_customer()
    order = ok(await customer.order(), 201)
    link = ok(await world.client.post(f"{API}/orders/{order['id']}/share", headers=customer.h, json={}), 201)
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    answer = await world.client.get(link["url"], headers=browser, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/share/{link['token']}"
    page = await world.client.get(f"/share/{link['token']}", headers=browser)
    assert page.status_code == 200 and 'data-app="share"' in page.text
    assert page.headers["cache-control"] == "no-store" and "content-security-policy" in page.headers
    assert order["reference"] not in page.text  # the page's script reads the API
    shown = ok(await world.client.get(link["url"]))  # an API client still gets JSON
    assert shown["reference"] == order["reference"] and shown["tanker"] is None

    revoked = await world.client.delete(f"{API}/orders/{order['id']}/share/{link['id']}", headers=customer.h)
    assert revoked.status_code == 204
    gone = await world.client.get(f"/share/{link['token']}", headers=browser)
    assert gone.status_code == 410 and 'data-code="share_link_revoked"' in gone.text
    assert (await world.client.get("/share/not-a-token", headers=browser)).status_code == 404
