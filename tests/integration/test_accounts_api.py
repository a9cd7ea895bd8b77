"""Opening an account without a visit, referrals, sites, catalogue management, login and /me."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.factories import EVERY_DAY, PASSWORD, bearer, ok

pytestmark = pytest.mark.integration


def application(username: str, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "company_name": "宁波港联运输有限公司",
        "tax_id": "91330200MA2XXXXX1",
        "contact_name": "陈静",
        "contact_phone": "13900000000",
        "username": username,
        "password": "a-long-password",
        "site": {
            "name": "北仑堆场 Beilun yard",
            "address": "Beilun, Ningbo",
            "lat": 29.9,
            "lon": 121.85,
            "tank_capacity_litres": 40_000,
            "receiving_hours": [{"days": EVERY_DAY, "open": "07:00", "close": "19:00"}],
        },
    }
    body.update(overrides)
    return body


async def test_apply_online_then_admin_approves_and_the_company_can_log_in(world) -> None:
    username = f"ningbo-{uuid.uuid4().hex[:6]}"
    applied = ok(await world.client.post("/api/v1/applications", json=application(username)), 201)
    assert applied["status"] == "pending"
    pending = ok(await world.client.get("/api/v1/applications?status=pending", headers=world.h("admin")))
    assert applied["id"] in {a["id"] for a in pending["items"]}
    approved = ok(
        await world.client.post(
            f"/api/v1/applications/{applied['id']}/approve",
            headers=world.h("admin"),
            json={"credit_limit_minor": 30_000_000},
        )
    )
    assert approved["status"] == "approved" and approved["customer_id"]
    token = await world.login(username, "a-long-password")
    me = ok(await world.client.get("/api/v1/me", headers=bearer(token)))
    assert me["role"] == "customer" and me["customer"]["name"] == "宁波港联运输有限公司"
    sites = ok(await world.client.get("/api/v1/sites", headers=bearer(token)))["items"]
    assert [s["name"] for s in sites] == ["北仑堆场 Beilun yard"]
    account = ok(await world.client.get(f"/api/v1/customers/{approved['customer_id']}", headers=bearer(token)))
    assert account["credit_limit_minor"] == 30_000_000 and account["open_amount_minor"] == 0
    again = await world.client.post(
        f"/api/v1/applications/{applied['id']}/approve", headers=world.h("admin"), json={"credit_limit_minor": 1}
    )
    assert again.status_code == 409 and again.json()["code"] == "application_decided"


async def test_rejected_application_opens_nothing(world) -> None:
    username = f"rej-{uuid.uuid4().hex[:6]}"
    applied = ok(await world.client.post("/api/v1/applications", json=application(username)), 201)
    rejected = ok(
        await world.client.post(
            f"/api/v1/applications/{applied['id']}/reject", headers=world.h("admin"), json={"reason": "no tax record"}
        )
    )
    assert rejected["status"] == "rejected" and rejected["reason"] == "no tax record"
    response = await world.client.post("/api/v1/auth/token", json={"username": username, "password": "a-long-password"})
    assert response.status_code == 401


async def test_application_refusals(world) -> None:
    bad_hours = application(f"x-{uuid.uuid4().hex[:6]}")
    bad_hours["site"]["receiving_hours"] = [{"days": [1], "open": "19:00", "close": "07:00"}]  # type: ignore[index]
    response = await world.client.post("/api/v1/applications", json=bad_hours)
    assert response.status_code == 422 and response.json()["code"] == "invalid_hours"
    response = await world.client.post(
        "/api/v1/applications", json=application(f"y-{uuid.uuid4().hex[:6]}", referral_code="NOPE")
    )
    assert response.status_code == 422 and response.json()["code"] == "unknown_referral_code"


async def test_referral_link_records_who_brought_the_customer(world) -> None:
    response = await world.client.get("/api/v1/me/referral.svg", headers=world.h("admin"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    assert response.text.lstrip().startswith("<svg")
    code = response.headers["x-referral-code"]
    me = ok(await world.client.get("/api/v1/me", headers=world.h("admin")))
    assert me["user"]["referral_code"] == code
    applied = ok(
        await world.client.post(
            "/api/v1/applications", json=application(f"ref-{uuid.uuid4().hex[:6]}", referral_code=code.lower())
        ),
        201,
    )
    assert applied["referred_by_id"] == me["user"]["id"]
    customer = await world.new_customer()
    assert (await world.client.get("/api/v1/me/referral.svg", headers=customer.h)).status_code == 403


async def test_site_validation(world) -> None:
    customer = await world.new_customer()
    base = {
        "name": "Quay 7",
        "address": "Port road",
        "lat": 31.2,
        "lon": 121.5,
        "tank_capacity_litres": 10_000,
        "receiving_hours": [{"days": EVERY_DAY, "open": "08:00", "close": "17:00"}],
    }
    cases = [
        ({"lat": 91}, 400, "validation_error"),
        ({"lon": -181}, 400, "validation_error"),
        ({"receiving_hours": []}, 422, "invalid_hours"),
        ({"receiving_hours": [{"days": [8], "open": "08:00", "close": "17:00"}]}, 400, "validation_error"),
        ({"receiving_hours": [{"days": [1], "open": "25:00", "close": "26:00"}]}, 400, "validation_error"),
        (
            {
                "receiving_hours": [
                    {"days": [1], "open": "08:00", "close": "12:00"},
                    {"days": [1], "open": "11:00", "close": "17:00"},
                ]
            },
            422,
            "invalid_hours",
        ),
        ({"timezone": "Mars/Olympus"}, 422, "invalid_timezone"),
        ({"tank_capacity_litres": 0}, 400, "validation_error"),
    ]
    for overrides, status, code in cases:
        response = await world.client.post("/api/v1/sites", headers=customer.h, json={**base, **overrides})
        assert (response.status_code, response.json()["code"]) == (status, code), overrides
    assert ok(await world.client.get("/api/v1/sites", headers=customer.h))["total"] == 1  # only the factory's


async def test_catalogue_is_readable_and_managed_by_admin(world) -> None:
    customer = await world.new_customer()
    products = ok(await world.client.get("/api/v1/products", headers=customer.h))
    assert {"diesel-0", "diesel-m10", "diesel-m20", "diesel-m35"} <= {p["code"] for p in products}
    assert next(p for p in products if p["code"] == "diesel-0")["density_kg_m3"] == 835.0
    depots = ok(await world.client.get("/api/v1/depots", headers=customer.h))
    main = next(d for d in depots if d["id"] == world.depots["main"]["id"])
    assert main["loading_bays"] == 4 and main["timezone"] == "Asia/Shanghai"
    prices = ok(await world.client.get(f"/api/v1/prices?date=2030-01-08&depot_id={main['id']}", headers=customer.h))
    assert {p["product_code"] for p in prices} == set(main["products"])
    response = await world.client.put(
        "/api/v1/prices",
        headers=world.h("dispatcher"),
        json=[{"depot_id": main["id"], "product_code": "diesel-0", "date": "2030-01-08", "price_per_litre_minor": 799}],
    )
    assert ok(response)[0]["price_per_litre_minor"] == 799
    ok(
        await world.client.put(
            "/api/v1/prices",
            headers=world.h("admin"),
            json=[
                {"depot_id": main["id"], "product_code": "diesel-0", "date": "2030-01-08", "price_per_litre_minor": 780}
            ],
        )
    )
    response = await world.client.post(
        "/api/v1/products",
        headers=world.h("admin"),
        json={"code": "diesel-0", "name": "dup", "density_kg_m3": 835.0},
    )
    assert response.status_code == 409 and response.json()["code"] == "product_exists"
    assert (await world.client.post("/api/v1/products", headers=world.h("dispatcher"), json={})).status_code == 403


async def test_login_me_and_wrong_password(world) -> None:
    customer = await world.new_customer()
    body = ok(await world.client.post("/api/v1/auth/token", json={"username": customer.username, "password": PASSWORD}))
    assert body["token_type"] == "bearer" and body["role"] == "customer" and body["expires_in"] > 0
    response = await world.client.post("/api/v1/auth/token", json={"username": customer.username, "password": "nope"})
    assert response.status_code == 401 and response.json()["code"] == "invalid_credentials"
    response = await world.client.post("/api/v1/auth/token", json={"username": "nobody-here", "password": "nope"})
    assert response.status_code == 401 and response.json()["code"] == "invalid_credentials"
    assert (await world.client.get("/api/v1/me")).status_code == 401


async def test_two_staff_users_of_one_name_at_once_make_one_user_and_a_clear_refusal(world, racer) -> None:
    """Both pass the username check before either inserts: the users table's unique index decides, and the loser
    hears 409 `username_taken` (it was a 500)."""
    username = f"racer-{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": "Staff-pass-1234", "role": "dispatcher"}
    responses = await asyncio.gather(
        *(racer.post("/api/v1/users", headers=world.h("admin"), json=body) for _ in range(2))
    )
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    assert next(r for r in responses if r.status_code == 409).json()["code"] == "username_taken"
    users = ok(await world.client.get(f"/api/v1/users?q={username}", headers=world.h("admin")))
    assert [u["username"] for u in users["items"]].count(username) == 1
