"""What the back office needs of the API beyond what the other apps use: customers found by a part of their name,
tax id or contact (finance reads them too, and changes nothing), users filtered by role, account, activity and
name with rack operators' depots, and an administrator's password reset that ends every login of the user."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.factories import PASSWORD, bearer, ok

pytestmark = pytest.mark.integration

API = "/api/v1"
RESET_PASSWORD = "reset-by-admin-7"


async def new_user(world: Any, role: str, **extra: Any) -> tuple[str, str]:
    username = f"{role[:4]}-{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": PASSWORD, "role": role, **extra}
    user = ok(await world.client.post(f"{API}/users", headers=world.h("admin"), json=body), 201)
    return user["id"], username


async def search(world: Any, headers: dict[str, str], text: str) -> dict[str, Any]:
    return dict(ok(await world.client.get(f"{API}/customers", headers=headers, params={"q": text, "limit": 500})))


async def test_customers_are_found_by_part_of_name_tax_id_or_contact_in_any_case(world) -> None:
    marker = uuid.uuid4().hex[:8]
    wanted = ok(
        await world.client.post(
            f"{API}/customers",
            headers=world.h("admin"),
            json={
                "name": f"Qingpu Quarry {marker} 青浦采石场",
                "credit_limit_minor": 0,
                "tax_id": f"9131{marker.upper()}",
                "contact_name": f"Zhou {marker}",
                "contact_phone": f"139{int(marker, 16) % 10**8:08d}",
            },
        )
    )
    other = ok(
        await world.client.post(
            f"{API}/customers",
            headers=world.h("admin"),
            json={"name": f"Other {uuid.uuid4().hex[:8]}", "credit_limit_minor": 0},
        )
    )
    admin = world.h("admin")
    for text in (f"QUARRY {marker}", "青浦采石", wanted["tax_id"].lower(), f"zhou {marker}", wanted["contact_phone"]):
        found = await search(world, admin, text)
        assert [c["id"] for c in found["items"]] == [wanted["id"]], text
        assert found["total"] == 1
    everyone = ok(await world.client.get(f"{API}/customers", headers=admin, params={"limit": 500}))
    assert {wanted["id"], other["id"]} <= {c["id"] for c in everyone["items"]}
    # What a person types is text: LIKE's wildcards match only themselves.
    # (other tests share this database and may name a customer with a literal % or _: those alone may match)
    for text in ("%", "_", f"Quarry_{marker}"):
        found = await search(world, admin, text)
        assert wanted["id"] not in {c["id"] for c in found["items"]}, text
        for c in found["items"]:
            fields = (c["name"], c.get("tax_id") or "", c.get("contact_name") or "", c.get("contact_phone") or "")
            assert any(text.lower() in field.lower() for field in fields), (text, c)
    too_long = await world.client.get(f"{API}/customers", headers=admin, params={"q": "x" * 101})
    assert too_long.status_code == 400


async def test_finance_reads_customer_accounts_and_changes_none(world) -> None:
    customer = await world.new_customer()
    _, username = await new_user(world, "finance")
    finance = bearer(await world.login(username))
    listed = ok(await world.client.get(f"{API}/customers", headers=finance, params={"limit": 500}))
    assert customer.id in {c["id"] for c in listed["items"]}
    account = ok(await world.client.get(f"{API}/customers/{customer.id}", headers=finance))
    assert account["id"] == customer.id and "credit_limit_minor" in account
    change = await world.client.patch(f"{API}/customers/{customer.id}", headers=finance, json={"credit_limit_minor": 1})
    assert change.status_code == 403 and change.json()["code"] == "forbidden"
    # A customer still sees no other account.
    other = await world.new_customer()
    assert (await world.client.get(f"{API}/customers/{other.id}", headers=customer.h)).status_code == 404
    assert (await world.client.get(f"{API}/customers", headers=customer.h)).status_code == 403


async def test_users_are_filtered_by_role_account_activity_and_name_with_operators_depots(world) -> None:
    marker = uuid.uuid4().hex[:6]
    depot = world.depots["main"]["id"]
    operator_id, operator = await new_user(world, "rack_operator", depot_ids=[depot], display_name=f"Rack {marker}")
    driver_id, _ = await new_user(world, "driver", display_name=f"Driver {marker}")
    customer = await world.new_customer()
    admin = world.h("admin")

    def listed(**params: Any) -> Any:
        return world.client.get(f"{API}/users", headers=admin, params={"limit": 500, **params})

    named = ok(await listed(q=marker.upper()))
    assert {u["id"] for u in named["items"]} == {operator_id, driver_id} and named["total"] == 2
    operators = ok(await listed(role="rack_operator", q=marker))["items"]
    assert [(u["id"], u["depot_ids"]) for u in operators] == [(operator_id, [depot])]
    drivers = ok(await listed(role="driver", q=marker))["items"]
    assert [(u["id"], u["depot_ids"]) for u in drivers] == [(driver_id, None)]
    assert [u["username"] for u in ok(await listed(q=operator))["items"]] == [operator]

    of_account = ok(await listed(customer_id=customer.id))["items"]
    assert [u["username"] for u in of_account] == [customer.username]
    ok(await world.client.put(f"{API}/users/{driver_id}", headers=admin, json={"is_active": False}))
    assert [u["id"] for u in ok(await listed(q=marker, active="false"))["items"]] == [driver_id]
    assert [u["id"] for u in ok(await listed(q=marker, active="true"))["items"]] == [operator_id]
    assert ok(await listed(q="%"))["total"] == 0
    assert (await listed(role="nobody")).status_code == 400


async def test_an_admin_resets_a_password_and_every_login_of_the_user_ends(world) -> None:
    user_id, username = await new_user(world, "dispatcher")
    first, second = bearer(await world.login(username)), bearer(await world.login(username))
    ok(await world.client.get(f"{API}/me", headers=first))
    url = f"{API}/users/{user_id}"

    short = await world.client.put(url, headers=world.h("admin"), json={"password": "short-9ch"})
    assert short.status_code == 400 and short.json()["errors"][0]["key"] == "password"
    not_admin = await world.client.put(url, headers=first, json={"password": RESET_PASSWORD})
    assert not_admin.status_code == 403
    ok(await world.client.get(f"{API}/me", headers=second))  # refused resets end nothing

    ok(await world.client.put(url, headers=world.h("admin"), json={"password": RESET_PASSWORD}))
    for token in (first, second):
        gone = await world.client.get(f"{API}/me", headers=token)
        assert gone.status_code == 401 and gone.json()["code"] == "session_ended"
    old = await world.client.post(f"{API}/auth/token", json={"username": username, "password": PASSWORD})
    assert old.status_code == 401
    ok(await world.client.get(f"{API}/me", headers=bearer(await world.login(username, RESET_PASSWORD))))

    trail = ok(await world.client.get(f"{API}/audit", headers=world.h("admin"), params={"subject_id": user_id}))
    resets = [e for e in trail["items"] if e["action"] == "password_reset"]
    assert len(resets) == 1 and resets[0]["before"] is None and resets[0]["after"] is None
    assert RESET_PASSWORD not in str(trail)


async def test_staff_list_one_accounts_pickups_and_a_customer_only_ever_its_own(world) -> None:
    from tests.integration.test_pickups_api import booking

    depot = await world.new_depot(bays=4)
    first, second = await world.new_customer(), await world.new_customer()
    mine = ok(await world.client.post(f"{API}/pickups", headers=first.h, json=booking(depot["id"])), 201)
    theirs = ok(await world.client.post(f"{API}/pickups", headers=second.h, json=booking(depot["id"])), 201)
    staff = ok(await world.client.get(f"{API}/pickups", headers=world.h("admin"), params={"customer_id": first.id}))
    assert [p["id"] for p in staff["items"]] == [mine["id"]] and staff["total"] == 1
    # A customer naming another account still sees its own bookings only.
    own = ok(await world.client.get(f"{API}/pickups", headers=first.h, params={"customer_id": second.id}))
    assert [p["id"] for p in own["items"]] == [mine["id"]]
    assert theirs["id"] not in {p["id"] for p in own["items"]}


async def test_an_application_is_read_alone_before_and_after_its_decision(world) -> None:
    from tests.integration.test_accounts_api import application

    applied = ok(await world.client.post(f"{API}/applications", json=application(f"ap-{uuid.uuid4().hex[:6]}")), 201)
    url = f"{API}/applications/{applied['id']}"
    pending = ok(await world.client.get(url, headers=world.h("admin")))
    assert pending["status"] == "pending" and pending["company_name"] == applied["company_name"]
    assert "password" not in pending and pending["site"]["name"]
    assert (await world.client.get(url, headers=world.h("dispatcher"))).status_code == 403
    ok(await world.client.post(f"{url}/reject", headers=world.h("admin"), json={"reason": "no tax record"}))
    rejected = ok(await world.client.get(url, headers=world.h("admin")))
    assert rejected["status"] == "rejected" and rejected["reason"] == "no tax record"
    unknown = await world.client.get(f"{API}/applications/{uuid.uuid4()}", headers=world.h("admin"))
    assert unknown.status_code == 404 and unknown.json()["code"] == "application_not_found"


async def test_one_user_is_read_with_its_depots_by_an_admin_only(world) -> None:
    depot = world.depots["main"]["id"]
    operator_id, operator = await new_user(world, "rack_operator", depot_ids=[depot])
    read = ok(await world.client.get(f"{API}/users/{operator_id}", headers=world.h("admin")))
    assert (read["username"], read["role"], read["depot_ids"]) == (operator, "rack_operator", [depot])
    driver_id, _ = await new_user(world, "driver")
    assert ok(await world.client.get(f"{API}/users/{driver_id}", headers=world.h("admin")))["depot_ids"] is None
    own = bearer(await world.login(operator))
    assert (await world.client.get(f"{API}/users/{operator_id}", headers=own)).status_code == 403
    missing = await world.client.get(f"{API}/users/{uuid.uuid4()}", headers=world.h("admin"))
    assert missing.status_code == 404 and missing.json()["code"] == "user_not_found"
