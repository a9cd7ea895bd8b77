"""The audit trail: what is recorded is listed with its actor, before and after, filtered and paged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.audit import record_audit
from core.auth import Principal, Role
from core.db import create_engine, session_factory, unit_of_work
from tests.conftest import T0
from tests.factories import PASSWORD, ok

pytestmark = pytest.mark.integration


async def test_recorded_changes_are_listed_newest_first_and_filtered(client, app, world) -> None:
    subject = uuid.uuid4()
    admin = Principal(id=uuid.uuid4(), username="auditor", role=Role.ADMIN)
    engine = create_engine(app.state.settings.db.url, null_pool=True)  # on this test's event loop
    async with unit_of_work(session_factory(engine)) as session:
        record_audit(
            session,
            actor=admin,
            subject_type="probe",
            subject_id=subject,
            action="limit_changed",
            at=T0,
            before={"limit": 1},
            after={"limit": 2},
        )
        record_audit(
            session,
            actor=None,
            subject_type="probe",
            subject_id=subject,
            action="limit_changed",
            at=T0 + timedelta(minutes=1),
            before={"limit": 2},
            after={"limit": 3},
        )
    answer = await client.get(
        "/api/v1/audit", params={"subject_type": "probe", "subject_id": str(subject)}, headers=world.h("admin")
    )
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["total"] == 2
    assert [e["after"] for e in page["items"]] == [{"limit": 3}, {"limit": 2}]
    assert page["items"][1]["actor_id"] == str(admin.id) and page["items"][0]["actor_role"] == "system"
    since = (T0 + timedelta(seconds=30)).isoformat()
    later = await client.get(
        "/api/v1/audit", params={"subject_id": str(subject), "from": since}, headers=world.h("admin")
    )
    assert [e["before"] for e in later.json()["items"]] == [{"limit": 2}]
    backwards = await client.get(
        "/api/v1/audit", params={"from": since, "to": T0.isoformat()}, headers=world.h("admin")
    )
    assert backwards.status_code == 422 and backwards.json()["code"] == "invalid_range"


# --- what the API records, and the filters on it -------------------------------------------------------------

API = "/api/v1"
MONDAY, WEDNESDAY = "2030-01-07", "2030-01-09"


async def user_id(world, role: str) -> str:  # type: ignore[no-untyped-def]
    return str(ok(await world.client.get(f"{API}/me", headers=world.h(role)))["user"]["id"])


async def trail(world, **params: object) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    page = ok(await world.client.get(f"{API}/audit", params=params, headers=world.h("admin")))
    assert page["total"] == len(page["items"])  # every test here asks for fewer than a page
    return list(page["items"])


def window(at: datetime, seconds: float = 1) -> dict[str, str]:
    return {"from": (at - timedelta(seconds=seconds)).isoformat(), "to": (at + timedelta(seconds=seconds)).isoformat()}


async def test_each_price_change_is_audited_with_the_price_in_force_before(world, clock) -> None:
    # Far from every site (never anyone's serving depot, though without prices for a while).
    depot = await world.new_depot(lat=44.0, lon=87.6, priced=False)
    admin, dispatcher = await user_id(world, "admin"), await user_id(world, "dispatcher")

    def item(day: str, price: int) -> list[dict[str, Any]]:
        return [
            {"depot_id": depot["id"], "product_code": "diesel-0", "valid_from": day, "price_per_litre_minor": price}
        ]

    ok(await world.client.put(f"{API}/prices", headers=world.h("admin"), json=item(MONDAY, 800)))
    clock.set(T0 + timedelta(hours=1))
    ok(await world.client.put(f"{API}/prices", headers=world.h("dispatcher"), json=item(WEDNESDAY, 850)))
    ok(await world.client.put(f"{API}/prices", headers=world.h("admin"), json=item(WEDNESDAY, 850)))  # no change
    refused = await world.client.put(f"{API}/prices", headers=world.h("admin"), json=item(WEDNESDAY, 0))
    assert refused.status_code == 400  # a refused list records nothing either

    entries = await trail(world, subject_type="price", subject_id=depot["id"])
    assert [(e["action"], e["actor_id"]) for e in entries] == [("price_set", dispatcher), ("price_set", admin)]
    wednesday, monday = entries
    assert monday["before"] is None
    assert (monday["after"]["valid_from"], monday["after"]["price_per_litre_minor"]) == (MONDAY, 800)
    # Before Wednesday's price, Monday's was in force on Wednesday.
    assert (wednesday["before"]["valid_from"], wednesday["before"]["price_per_litre_minor"]) == (MONDAY, 800)
    assert (wednesday["after"]["valid_from"], wednesday["after"]["price_per_litre_minor"]) == (WEDNESDAY, 850)
    by_admin = await trail(world, subject_type="price", subject_id=depot["id"], actor_id=admin)
    assert [e["id"] for e in by_admin] == [monday["id"]]
    later = await trail(world, subject_id=depot["id"], **{"from": (T0 + timedelta(minutes=30)).isoformat()})
    assert [e["id"] for e in later] == [wednesday["id"]]
    earlier = await trail(world, subject_id=depot["id"], to=(T0 + timedelta(minutes=30)).isoformat())
    assert [e["id"] for e in earlier] == [monday["id"]]


async def test_contract_price_changes_are_audited_with_the_whole_list_before_and_after(world, clock) -> None:
    customer = await world.new_customer()
    url = f"{API}/customers/{customer.id}/contract-prices"
    first = {"product_code": "diesel-0", "valid_from": MONDAY, "discount_per_litre_minor": 15}
    second = {"product_code": "diesel-m10", "valid_from": WEDNESDAY, "price_per_litre_minor": 700}
    ok(await world.client.put(url, headers=world.h("admin"), json=[first]))
    clock.set(T0 + timedelta(hours=2))
    ok(await world.client.put(url, headers=world.h("admin"), json=[first, second]))
    ok(await world.client.put(url, headers=world.h("admin"), json=[second, first]))  # the same list: no change
    assert (await world.client.put(url, headers=customer.h, json=[])).status_code == 403

    entries = await trail(world, subject_type="contract_prices", subject_id=customer.id)
    assert [e["action"] for e in entries] == ["contract_prices_replaced"] * 2
    added, opened = entries
    assert opened["before"] == {"items": []} and opened["customer_id"] == customer.id
    assert [i["discount_per_litre_minor"] for i in opened["after"]["items"]] == [15]
    assert added["before"] == opened["after"]
    assert sorted(i["product_code"] for i in added["after"]["items"]) == ["diesel-0", "diesel-m10"]
    admin = await user_id(world, "admin")
    assert len(await trail(world, subject_type="contract_prices", subject_id=customer.id, actor_id=admin)) == 2
    at_two = await trail(world, subject_type="contract_prices", **window(T0 + timedelta(hours=2)))
    assert [e["id"] for e in at_two] == [added["id"]]


async def test_tier_table_changes_are_audited(world, clock) -> None:
    at = T0 + timedelta(hours=3, minutes=17, seconds=3)  # a moment no other test records anything at
    clock.set(at)
    defaults = ok(await world.client.get(f"{API}/settings/tiers", headers=world.h("admin")))
    new = [{"from_tonnes": 0, "discount_bps": 50}, {"from_tonnes": 40, "discount_bps": 600}]
    try:
        ok(await world.client.put(f"{API}/settings/tiers", headers=world.h("admin"), json=new))
        ok(await world.client.put(f"{API}/settings/tiers", headers=world.h("admin"), json=new))  # no change
    finally:
        clock.set(at + timedelta(minutes=1))
        restore = [{"from_tonnes": b["from_tonnes"], "discount_bps": b["discount_bps"]} for b in defaults]
        ok(await world.client.put(f"{API}/settings/tiers", headers=world.h("admin"), json=restore))
    admin = await user_id(world, "admin")
    [entry] = await trail(world, subject_type="tier_table", actor_id=admin, **window(at))
    assert entry["action"] == "tier_table_replaced" and entry["subject_id"] is None
    assert entry["before"] == {"bands": [[b["from_tonnes"], b["discount_bps"]] for b in defaults]}
    assert entry["after"] == {"bands": [[0, 50], [40, 600]]}
    [restored] = await trail(world, subject_type="tier_table", **window(at + timedelta(minutes=1)))
    assert restored["before"] == entry["after"]


async def test_user_role_and_rack_depot_changes_are_audited(world) -> None:
    admin = await user_id(world, "admin")
    depot = await world.new_depot(lat=44.1, lon=87.7)
    operator = await world.new_rack_operator(depot["id"])  # POST /users, then PUT /users/{id}/depots
    started = datetime.now(UTC)
    url = f"{API}/users/{operator.id}"
    ok(await world.client.put(url, headers=world.h("admin"), json={"display_name": "王师傅", "phone": "13900000000"}))
    ok(await world.client.put(url, headers=world.h("admin"), json={"display_name": "王师傅"}))  # no change
    new_password = {"current_password": PASSWORD, "new_password": "another-password-2"}
    assert (await world.client.post(f"{API}/me/password", headers=operator.h, json=new_password)).status_code == 204
    ok(await world.client.put(url, headers=world.h("admin"), json={"role": "dispatcher"}))
    ended = datetime.now(UTC)

    entries = await trail(world, subject_type="user", subject_id=operator.id)
    by_action = {e["action"]: e for e in entries}
    assert sorted(by_action) == [
        "password_changed",
        "rack_depots_changed",
        "role_changed",
        "user_changed",
        "user_created",
    ]
    assert len(entries) == 5
    created = by_action["user_created"]
    assert created["before"] is None and created["actor_id"] == admin
    assert created["after"]["username"] == operator.username and created["after"]["role"] == "rack_operator"
    assert "password" not in repr(created["after"]) and "argon" not in repr(entries)
    depots = by_action["rack_depots_changed"]
    assert (depots["before"], depots["after"]) == ({"depot_ids": []}, {"depot_ids": [depot["id"]]})
    changed = by_action["user_changed"]
    assert changed["before"] == {"display_name": None, "phone": None}
    assert changed["after"] == {"display_name": "王师傅", "phone": "13900000000"}
    assert (by_action["role_changed"]["before"], by_action["role_changed"]["after"]) == (
        {"role": "rack_operator"},
        {"role": "dispatcher"},
    )
    # The user changed its own password: it is the actor, and nothing of the password is kept.
    password = by_action["password_changed"]
    assert password["actor_id"] == operator.id and password["before"] is None and password["after"] is None
    mine = await trail(world, subject_type="user", actor_id=operator.id)
    assert [e["id"] for e in mine] == [password["id"]]
    # The changes made through PUT /users/{id} and /me/password carry the time they happened.
    meanwhile = await trail(
        world,
        subject_id=operator.id,
        **{"from": (started - timedelta(seconds=1)).isoformat(), "to": (ended + timedelta(seconds=1)).isoformat()},
    )
    assert sorted(e["action"] for e in meanwhile) == ["password_changed", "role_changed", "user_changed"]


async def test_the_audit_trail_is_for_admins_only(world) -> None:
    for role in ("dispatcher", "rack_operator", "driver"):
        assert (await world.client.get(f"{API}/audit", headers=world.h(role))).status_code == 403
