"""A customer account's own people through HTTP: the account admin adds users with a role (orderer, approver,
finance, viewer), each role may do what it is for and is refused the rest (403 `customer_role_forbidden`), an
orderer's order above its limit waits in `awaiting_approval` without taking credit until an approver approves
(or rejects) it, approvers hear of it, and two approvers at once make exactly one decision."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from tests.factories import PASSWORD, Customer, bearer, ok

pytestmark = pytest.mark.integration
API = "/api/v1"


@dataclass
class Person:
    id: str
    username: str
    token: str
    customer: Customer

    @property
    def h(self) -> dict[str, str]:
        return bearer(self.token)

    async def order(self, *, via: Any = None, key: str | None = None, **overrides: Any) -> Any:
        headers = dict(self.h)
        if key:
            headers["Idempotency-Key"] = key
        client = via or self.customer.world.client
        return await client.post(f"{API}/orders", headers=headers, json=self.customer.order_body(**overrides))


async def add_person(customer: Customer, role: str, *, limit: int | None = None, login: bool = True) -> Person:
    username = f"{role[:4]}-{uuid.uuid4().hex[:8]}"
    body: dict[str, Any] = {"username": username, "password": PASSWORD, "customer_role": role}
    if limit is not None:
        body["approval_limit_minor"] = limit
    client = customer.world.client
    made = ok(await client.post(f"{API}/me/users", headers=customer.h, json=body), 201)
    assert (made["customer_role"], made["approval_limit_minor"], made["is_active"]) == (role, limit, True)
    token = await customer.world.login(username) if login else ""
    return Person(id=made["id"], username=username, token=token, customer=customer)


async def amount_of_default_order(customer: Customer) -> int:
    body = {k: v for k, v in customer.order_body().items() if k not in ("window_start", "window_end")}
    return int(
        ok(await customer.world.client.post(f"{API}/quotes", headers=customer.h, json=body))["price"]["amount_minor"]
    )


async def open_amount(customer: Customer) -> int:
    return int(
        ok(await customer.world.client.get(f"{API}/customers/{customer.id}", headers=customer.h))["open_amount_minor"]
    )


def problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code, response.text


# --- the account's people ---------------------------------------------------------------------------------------


async def test_an_existing_customer_user_is_its_accounts_admin(world) -> None:
    customer = await world.new_customer()
    people = ok(await world.client.get(f"{API}/me/users", headers=customer.h))
    assert [(p["username"], p["customer_role"]) for p in people["items"]] == [(customer.username, "account_admin")]
    assert ok(await customer.order(), 201)["status"] == "confirmed"


async def test_only_the_account_admin_manages_people_and_only_its_own(world) -> None:
    customer, other = await world.new_customer(), await world.new_customer()
    orderer = await add_person(customer, "orderer", limit=1000)
    body = {"username": f"x-{uuid.uuid4().hex[:8]}", "password": PASSWORD, "customer_role": "viewer"}
    problem(await world.client.post(f"{API}/me/users", headers=orderer.h, json=body), 403, "customer_role_forbidden")
    problem(await world.client.get(f"{API}/me/users", headers=orderer.h), 403, "customer_role_forbidden")
    problem(await world.client.get(f"{API}/me/users/{orderer.id}", headers=other.h), 404, "user_not_found")
    problem(
        await world.client.put(f"{API}/me/users/{orderer.id}", headers=other.h, json={"is_active": False}),
        404,
        "user_not_found",
    )
    # Staff have no account: /me/users is a customer's.
    assert (await world.client.get(f"{API}/me/users", headers=world.h("admin"))).status_code == 403
    # A limit means something for orderers and approvers only; roles are the contract's.
    bad = {**body, "customer_role": "finance", "approval_limit_minor": 5}
    problem(await world.client.post(f"{API}/me/users", headers=customer.h, json=bad), 422, "approval_limit_not_allowed")
    response = await world.client.post(f"{API}/me/users", headers=customer.h, json={**body, "customer_role": "boss"})
    assert response.status_code in (400, 422) and response.json()["code"] != "internal_error"
    taken = {**body, "username": orderer.username}
    assert (await world.client.post(f"{API}/me/users", headers=customer.h, json=taken)).status_code == 409
    listed = ok(await world.client.get(f"{API}/me/users", headers=customer.h))
    assert sorted(p["customer_role"] for p in listed["items"]) == ["account_admin", "orderer"]


async def test_a_new_role_ends_the_persons_logins_and_the_last_admin_stays(world) -> None:
    customer = await world.new_customer()
    viewer = await add_person(customer, "viewer")
    assert ok(await world.client.get(f"{API}/orders", headers=viewer.h))["total"] == 0
    changed = ok(
        await world.client.put(
            f"{API}/me/users/{viewer.id}",
            headers=customer.h,
            json={"customer_role": "orderer", "approval_limit_minor": 100},
        )
    )
    assert (changed["customer_role"], changed["approval_limit_minor"]) == ("orderer", 100)
    assert (await world.client.get(f"{API}/orders", headers=viewer.h)).status_code == 401  # its old token
    as_orderer = bearer(await world.login(viewer.username))
    assert (await world.client.post(f"{API}/orders", headers=as_orderer, json=customer.order_body())).status_code == 201
    # A limit can be lifted (null); the last active admin can be neither demoted nor disabled.
    lifted = ok(
        await world.client.put(f"{API}/me/users/{viewer.id}", headers=customer.h, json={"approval_limit_minor": None})
    )
    assert lifted["approval_limit_minor"] is None
    me = ok(await world.client.get(f"{API}/me", headers=customer.h))["user"]["id"]
    for change in ({"customer_role": "viewer"}, {"is_active": False}):
        response = await world.client.put(f"{API}/me/users/{me}", headers=customer.h, json=change)
        problem(response, 409, "last_account_admin")
    second = await add_person(customer, "account_admin")
    ok(await world.client.put(f"{API}/me/users/{me}", headers=second.h, json={"customer_role": "finance"}))
    assert (await world.client.get(f"{API}/me/users", headers=customer.h)).status_code == 401


async def test_each_role_does_what_it_is_for_and_nothing_else(world) -> None:
    customer = await world.new_customer()
    placed = ok(await customer.order(), 201)
    orderer = await add_person(customer, "orderer")
    approver = await add_person(customer, "approver")
    finance = await add_person(customer, "finance")
    viewer = await add_person(customer, "viewer")
    c = world.client
    site = customer.site["id"]
    quote = {k: v for k, v in customer.order_body().items() if k not in ("window_start", "window_end")}
    new_site = {
        "name": "Another yard",
        "address": "2 Harbour Road",
        "lat": 31.36,
        "lon": 121.6,
        "tank_capacity_litres": 20000,
        "receiving_hours": [{"days": [1, 2, 3, 4, 5, 6, 7], "open": "06:00", "close": "22:00"}],
    }
    webhook = {"url": "https://example.com/hook", "events": ["order_confirmed"]}

    async def status(person: Any, method: str, path: str, body: Any = None) -> int:
        response = await c.request(method, f"{API}{path}", headers=person.h, json=body)
        if response.status_code == 403:
            assert response.json()["code"] in ("customer_role_forbidden", "forbidden"), response.text
        return int(response.status_code)

    # Orderers and approvers order, quote, read orders and sites, see the balance they order on.
    for person in (orderer, approver):
        assert await status(person, "POST", "/quotes", quote) == 200
        assert ok(await person.order(), 201)["status"] == "confirmed"
        assert await status(person, "GET", "/orders") == 200
        assert await status(person, "GET", f"/orders/{placed['id']}") == 200
        assert await status(person, "GET", f"/sites/{site}") == 200
        assert await status(person, "GET", "/me/balance") == 200
        for method, path, body in (
            ("GET", "/invoices", None),
            ("GET", f"/customers/{customer.id}/ledger", None),
            ("POST", "/sites", new_site),
            ("POST", "/webhooks", webhook),
            ("GET", "/me/users", None),
        ):
            assert await status(person, method, path, body) == 403, (person.username, method, path)
    # Finance: the money only.
    for path in ("/me/balance", "/invoices", f"/customers/{customer.id}/ledger", "/payments", "/prices"):
        assert await status(finance, "GET", path) == 200, path
    for method, path, body in (
        ("GET", "/orders", None),
        ("GET", f"/orders/{placed['id']}", None),
        ("GET", "/sites", None),
        ("GET", "/pickups", None),
        ("POST", "/orders", customer.order_body()),
        ("POST", "/quotes", quote),
        ("POST", f"/orders/{placed['id']}/cancel", {"reason": "x"}),
    ):
        assert await status(finance, method, path, body) == 403, (method, path)
    # Viewers read, and write nothing.
    for path in ("/orders", f"/orders/{placed['id']}", f"/orders/{placed['id']}/events", "/sites", "/me/balance"):
        assert await status(viewer, "GET", path) == 200, path
    for method, path, body in (
        ("POST", "/orders", customer.order_body()),
        ("POST", "/quotes", quote),
        ("POST", f"/orders/{placed['id']}/cancel", {"reason": "x"}),
        ("POST", f"/orders/{placed['id']}/share", {}),
        ("POST", "/sites", new_site),
        ("POST", f"/orders/{placed['id']}/approve", {}),
        ("GET", "/webhooks", None),
    ):
        assert await status(viewer, method, path, body) == 403, (method, path)
    # Everyone keeps its own settings and password.
    for person in (orderer, approver, finance, viewer):
        assert await status(person, "GET", "/me") == 200
        assert await status(person, "GET", "/me/notifications") == 200
    assert ok(await c.get(f"{API}/orders/{placed['id']}", headers=customer.h))["status"] == "confirmed"


# --- orders awaiting approval ----------------------------------------------------------------------------------


async def test_an_order_above_the_orderers_limit_waits_without_credit_until_approved(world) -> None:
    customer = await world.new_customer()
    amount = await amount_of_default_order(customer)
    orderer = await add_person(customer, "orderer", limit=amount - 1)
    approver = await add_person(customer, "approver")
    small = ok(await orderer.order(quantity_litres=4000), 201)
    assert small["status"] == "confirmed"  # within the limit: as ever
    before = await open_amount(customer)
    waiting = ok(await orderer.order(key="big-1"), 201)
    assert waiting["status"] == "awaiting_approval" and waiting["price"]["amount_minor"] == amount
    assert await open_amount(customer) == before  # no credit taken
    assert ok(await orderer.order(key="big-1"), 200)["id"] == waiting["id"]  # a retry: the same order
    # The orderer cannot approve; an approver can, once.
    problem(
        await world.client.post(f"{API}/orders/{waiting['id']}/approve", headers=orderer.h, json={}),
        403,
        "customer_role_forbidden",
    )
    approved = ok(await world.client.post(f"{API}/orders/{waiting['id']}/approve", headers=approver.h, json={}))
    assert approved["status"] == "confirmed"
    assert await open_amount(customer) == before + amount
    again = await world.client.post(f"{API}/orders/{waiting['id']}/approve", headers=approver.h, json={})
    problem(again, 409, "order_not_awaiting_approval")
    events = ok(await world.client.get(f"{API}/orders/{waiting['id']}/events", headers=customer.h))
    assert [e["type"] for e in events] == [
        "order_placed",
        "order_awaiting_approval",
        "order_approved",
        "order_confirmed",
    ]
    assert events[2]["actor_id"] == approver.id
    assert events[1]["reason"].startswith("approval_limit")


async def test_a_rejected_order_is_cancelled_and_an_approver_decides_only_up_to_its_limit(world) -> None:
    customer, other = await world.new_customer(), await world.new_customer()
    amount = await amount_of_default_order(customer)
    orderer = await add_person(customer, "orderer", limit=0)
    low = await add_person(customer, "approver", limit=amount - 1)
    stranger = await add_person(other, "approver")
    waiting = ok(await orderer.order(), 201)
    assert waiting["status"] == "awaiting_approval"
    url = f"{API}/orders/{waiting['id']}"
    problem(await world.client.post(f"{url}/approve", headers=low.h, json={}), 403, "above_your_approval_limit")
    problem(await world.client.post(f"{url}/approve", headers=stranger.h, json={}), 404, "order_not_found")
    problem(await world.client.post(f"{url}/reject", headers=stranger.h, json={}), 404, "order_not_found")
    rejected = ok(await world.client.post(f"{url}/reject", headers=customer.h, json={"reason": "too much this week"}))
    assert (rejected["status"], rejected["cancel_reason"]) == ("cancelled", "too much this week")
    assert await open_amount(customer) == 0
    problem(await world.client.post(f"{url}/approve", headers=customer.h, json={}), 409, "order_not_awaiting_approval")
    # An orderer may withdraw its own waiting order.
    second = ok(await orderer.order(), 201)
    cancelled = ok(
        await world.client.post(f"{API}/orders/{second['id']}/cancel", headers=orderer.h, json={"reason": "x"})
    )
    assert cancelled["status"] == "cancelled" and await open_amount(customer) == 0


async def test_an_approved_order_that_does_not_fit_the_credit_is_held(world) -> None:
    amount = None
    probe = await world.new_customer()
    amount = await amount_of_default_order(probe)
    customer = await world.new_customer(credit=amount - 1)
    orderer = await add_person(customer, "orderer", limit=0)
    waiting = ok(await orderer.order(), 201)
    held = ok(await world.client.post(f"{API}/orders/{waiting['id']}/approve", headers=customer.h, json={}))
    assert (held["status"], held["hold_reason"]) == ("on_hold", "credit_limit")


async def test_the_approvers_hear_of_an_order_awaiting_approval(world, settings) -> None:
    from notify.config import NotifySettings
    from notify.tasks import outbox_pass

    customer = await world.new_customer()
    orderer = await add_person(customer, "orderer", limit=0)
    approver = await add_person(customer, "approver")
    finance = await add_person(customer, "finance")
    # An approver who chose few events before approvals existed still hears of them.
    ok(
        await world.client.put(
            f"{API}/me/notification-settings",
            headers=approver.h,
            json={"channels": {"web": True}, "events": ["order_delivered"]},
        )
    )
    waiting = ok(await orderer.order(), 201)

    async def kinds(person: Person) -> list[str]:
        items = ok(await world.client.get(f"{API}/me/notifications", headers=person.h))["items"]
        return [n["kind"] for n in items]

    for _ in range(20):
        await outbox_pass(settings=NotifySettings(), app_settings=settings, enqueue=lambda *_: None)
        if "approval_requested" in await kinds(approver):
            break
    assert await kinds(approver) == ["approval_requested"]
    assert "approval_requested" in await kinds(customer)  # type: ignore[arg-type]
    assert "approval_requested" not in await kinds(orderer)
    assert await kinds(finance) == []
    items = ok(await world.client.get(f"{API}/me/notifications", headers=approver.h))["items"]
    assert waiting["reference"] in items[0]["title"] and items[0]["link"].endswith(f"/orders/{waiting['id']}")


async def test_two_approvers_at_once_make_exactly_one_decision(world, racer) -> None:
    customer = await world.new_customer()
    orderer = await add_person(customer, "orderer", limit=0)
    first, second = await add_person(customer, "approver"), await add_person(customer, "approver")
    amount = await amount_of_default_order(customer)
    for decisions in (("approve", "approve"), ("approve", "reject")):
        waiting = ok(await orderer.order(), 201)
        url = f"/api/v1/orders/{waiting['id']}"
        responses = await asyncio.gather(
            racer.post(f"{url}/{decisions[0]}", headers=first.h, json={}),
            racer.post(f"{url}/{decisions[1]}", headers=second.h, json={}),
        )
        codes = sorted(r.status_code for r in responses)
        assert codes == [200, 409], [r.text for r in responses]
        loser = next(r for r in responses if r.status_code == 409)
        assert loser.json()["code"] == "order_not_awaiting_approval"
        events = ok(await world.client.get(f"{API}/orders/{waiting['id']}/events", headers=customer.h))
        decided = [e["type"] for e in events if e["type"] in ("order_approved", "order_rejected")]
        assert len(decided) == 1
    confirmed = ok(await world.client.get(f"{API}/orders?status=confirmed", headers=customer.h))["total"]
    assert await open_amount(customer) == confirmed * amount


# --- adding a person is safe to retry ----------------------------------------------------------------------------


def person_body(role: str = "orderer", **overrides: Any) -> dict[str, Any]:
    body = {"username": f"p-{uuid.uuid4().hex[:8]}", "password": PASSWORD, "customer_role": role}
    return {**body, **overrides}


async def people_of(customer: Customer) -> list[dict[str, Any]]:
    return list(ok(await customer.world.client.get(f"{API}/me/users", headers=customer.h))["items"])


async def test_adding_a_person_again_with_its_key_answers_the_first_answer(world) -> None:
    customer = await world.new_customer()
    body = person_body(phone="139 0000 1111", display_name="会计 Li")
    headers = {**customer.h, "Idempotency-Key": f"add-{uuid.uuid4()}"}
    first = await world.client.post(f"{API}/me/users", headers=headers, json=body)
    again = await world.client.post(f"{API}/me/users", headers=headers, json=body)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json() == first.json() and first.json()["phone"] == "13900001111"
    assert len(await people_of(customer)) == 2
    # The key is the request's: another body with it is refused, and the person made first logs in.
    other = await world.client.post(f"{API}/me/users", headers=headers, json={**body, "customer_role": "viewer"})
    problem(other, 409, "idempotency_key_reused")
    assert await world.login(body["username"])
    # Keys are the account's: another account's admin with the same key makes its own person.
    stranger = await world.new_customer()
    theirs = await world.client.post(
        f"{API}/me/users", headers={**stranger.h, "Idempotency-Key": headers["Idempotency-Key"]}, json=person_body()
    )
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]


async def test_adding_the_same_person_without_a_key_is_409_person_exists(world) -> None:
    customer, other = await world.new_customer(), await world.new_customer()
    body = person_body(phone="13900002222")
    made = ok(await world.client.post(f"{API}/me/users", headers=customer.h, json=body), 201)
    for same, field in (
        (body, "username"),
        ({**body, "username": body["username"].upper()}, "username"),  # logins compare usernames in any case
        ({**person_body(), "phone": "139-0000-2222"}, "phone"),  # the same phone, typed otherwise
    ):
        response = await world.client.post(f"{API}/me/users", headers=customer.h, json=same)
        problem(response, 409, "person_exists")
        assert (response.json()["field"], response.json()["user_id"]) == (field, made["id"])
    # Another account's username is not this account's person: taken, and nothing of the other account is told.
    taken = await world.client.post(
        f"{API}/me/users", headers=other.h, json={**person_body(), "username": body["username"]}
    )
    problem(taken, 409, "username_taken")
    assert made["id"] not in taken.text
    # A disabled person's phone may be given to someone new; a bad phone is refused by its field.
    ok(await world.client.put(f"{API}/me/users/{made['id']}", headers=customer.h, json={"is_active": False}))
    ok(
        await world.client.post(f"{API}/me/users", headers=customer.h, json={**person_body(), "phone": "13900002222"}),
        201,
    )
    bad = await world.client.post(f"{API}/me/users", headers=customer.h, json={**person_body(), "phone": "call me"})
    problem(bad, 422, "invalid_phone")
    assert len(await people_of(customer)) == 3


async def test_two_identical_adds_at_once_make_one_person(world, racer) -> None:
    customer = await world.new_customer()
    for keyed in (False, True):
        body = person_body()
        headers = {**customer.h, "Idempotency-Key": f"race-{uuid.uuid4()}"} if keyed else customer.h
        responses = await asyncio.gather(*(racer.post(f"{API}/me/users", headers=headers, json=body) for _ in range(2)))
        codes = sorted(r.status_code for r in responses)
        if keyed:  # both answer the one person
            assert codes == [200, 201], [r.text for r in responses]
            assert responses[0].json() == responses[1].json()
        else:
            assert codes == [201, 409], [r.text for r in responses]
            loser = next(r for r in responses if r.status_code == 409)
            winner = next(r for r in responses if r.status_code == 201)
            assert (loser.json()["code"], loser.json()["user_id"]) == ("person_exists", winner.json()["id"])
        assert [p["username"] for p in await people_of(customer)].count(body["username"]) == 1


async def test_me_tells_the_app_what_the_role_may_do_as_the_server_decides(world) -> None:
    """The customer app hides what `GET /me` says the role may not do: each flag is the server's own answer."""
    customer = await world.new_customer()
    me = ok(await world.client.get(f"{API}/me", headers=customer.h))
    assert me["customer_role"] == "account_admin" and all(me["may"].values())
    expected = {
        "viewer": {"orders", "pickups", "sites", "standing", "balance", "money"},
        "finance": {"balance", "money"},
        "orderer": {
            "orders",
            "order",
            "cancel_order",
            "share",
            "pickups",
            "pickup",
            "pickup_pass",
            "sites",
            "standing",
            "standing_edit",
            "balance",
        },
    }
    expected["approver"] = expected["orderer"] | {"approve"}
    for role, allowed in expected.items():
        someone = await add_person(customer, role)
        may = ok(await world.client.get(f"{API}/me", headers=someone.h))["may"]
        assert {name for name, yes in may.items() if yes} == allowed, role
        # The flags and the server's refusals agree.
        answers = {
            "orders": await world.client.get(f"{API}/orders", headers=someone.h),
            "money": await world.client.get(f"{API}/invoices", headers=someone.h),
            "people": await world.client.get(f"{API}/me/users", headers=someone.h),
            "order": await someone.order(),
        }
        for name, answer in answers.items():
            assert (answer.status_code == 403) == (not may[name]), (role, name, answer.text)
    staff = ok(await world.client.get(f"{API}/me", headers=world.h("admin")))
    assert staff["may"] is None and staff["customer_role"] is None


async def test_every_capability_the_app_is_told_is_a_route_the_app_serves(app) -> None:
    """`may` is each route's own answer: a capability naming a route renamed or gone would tell the app anything."""
    from api.people import CAPABILITIES
    from tests.integration.test_authorization import api_operations

    served = set(api_operations(app))
    unknown = {name: route for name, route in CAPABILITIES.items() if route not in served}
    assert not unknown, f"capabilities whose route the app does not serve: {unknown}"
