"""Payments: recorded once per idempotency key, written to the ledger, allocated oldest first or by hand, never
beyond the payment's remainder or the invoice's open amount (also when two allocations race), and the credit they
free re-checks held orders in the same unit of work."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta

import pytest

from core.errors import Conflict
from money import credit
from tests.billing_factories import (
    API,
    add_charge,
    balance,
    finance_headers,
    invoices_of,
    local,
    pay,
    run_invoices,
    set_billing,
)
from tests.factories import ok

pytestmark = pytest.mark.integration


async def customer_with_invoices(world, app, amounts: list[int], *, day: date = date(2030, 1, 3)):  # type: ignore[no-untyped-def]
    """A per-delivery customer with one invoice per amount (litres x 1 fen), numbered in that order."""
    customer = await world.new_customer()
    await set_billing(world, app, customer.id, billing_period="per_delivery")
    for hour, amount in enumerate(amounts):
        await add_charge(app, customer.id, at=local(day, 8 + hour), litres=amount, price=1)
    await run_invoices(world, app, period_end=(day + timedelta(days=1)).isoformat(), customer_id=customer.id)
    return customer, await invoices_of(world, app, customer.id)


async def test_a_payment_goes_to_the_oldest_invoices_first(world, app, clock) -> None:
    customer, (first,) = await customer_with_invoices(world, app, [30_000])
    clock.set(clock.now() + timedelta(days=1))  # a later invoice, issued the next day
    await add_charge(app, customer.id, at=local(date(2030, 1, 7), 9), litres=50_000, price=1)
    await run_invoices(world, app, period_end="2030-01-07", customer_id=customer.id)
    later = next(i for i in await invoices_of(world, app, customer.id) if i["id"] != first["id"])
    assert (first["issue_date"], later["issue_date"]) == ("2030-01-07", "2030-01-08")

    payment = await pay(world, app, customer.id, 45_000, reference="bank 2030-001")
    assert payment["allocated_minor"] == 45_000 and payment["unallocated_minor"] == 0
    assert [(a["invoice_id"], a["amount_minor"]) for a in payment["allocations"]] == [
        (first["id"], 30_000),
        (later["id"], 15_000),
    ]
    first, later = await invoices_of(world, app, customer.id)
    assert (first["status"], first["paid_minor"], first["outstanding_minor"]) == ("paid", 30_000, 0)
    assert (later["status"], later["paid_minor"], later["outstanding_minor"]) == ("part_paid", 15_000, 35_000)
    ledger = ok(
        await world.client.get(f"{API}/customers/{customer.id}/ledger", headers=await finance_headers(world, app))
    )
    entry = ledger["items"][-1]
    assert (entry["kind"], entry["amount_minor"], entry["payment_id"]) == ("payment", -45_000, payment["id"])
    assert entry["balance_minor"] == 80_000 - 45_000 and entry["actor"].startswith("finance-")


async def test_oldest_first_on_one_day_goes_by_number(world, app) -> None:
    customer, invoices = await customer_with_invoices(world, app, [1_000, 2_000, 3_000])
    payment = await pay(world, app, customer.id, 2_500)
    assert [(a["invoice_number"], a["amount_minor"]) for a in payment["allocations"]] == [
        (invoices[0]["number"], 1_000),
        (invoices[1]["number"], 1_500),
    ]


async def test_a_retried_payment_is_recorded_once_and_a_reused_key_is_refused(world, app) -> None:
    customer, _ = await customer_with_invoices(world, app, [10_000])
    key = {"Idempotency-Key": f"pay-{uuid.uuid4().hex}"}
    headers = {**await finance_headers(world, app), **key}
    body = {
        "customer_id": customer.id,
        "amount_minor": 4_000,
        "received_on": "2030-01-06",
        "method": "cash",
        "reference": "till 7",
    }
    first = await world.client.post(f"{API}/payments", headers=headers, json=body)
    again = await world.client.post(f"{API}/payments", headers=headers, json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    other = await world.client.post(f"{API}/payments", headers=headers, json={**body, "amount_minor": 5_000})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    listed = ok(await world.client.get(f"{API}/payments", headers=headers, params={"customer_id": customer.id}))
    assert listed["total"] == 1
    assert (await balance(world, app, customer.id))["balance_minor"] == 6_000


async def test_concurrent_retries_with_one_key_record_one_payment(world, app, racer) -> None:
    customer, _ = await customer_with_invoices(world, app, [10_000])
    headers = {**await finance_headers(world, app), "Idempotency-Key": f"burst-{uuid.uuid4().hex}"}
    body = {"customer_id": customer.id, "amount_minor": 1_000, "received_on": "2030-01-06", "method": "card"}
    answers = await asyncio.gather(*(racer.post(f"{API}/payments", headers=headers, json=body) for _ in range(5)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert (await balance(world, app, customer.id))["balance_minor"] == 9_000


async def test_allocating_by_hand_stays_within_the_payment_and_the_invoice(world, app) -> None:
    customer, (small, big) = await customer_with_invoices(world, app, [1_000, 9_000])
    _, (foreign,) = await customer_with_invoices(world, app, [5_000])
    payment = await pay(world, app, customer.id, 6_000, allocate=False)
    assert payment["allocated_minor"] == 0 and payment["allocations"] == []
    headers = await finance_headers(world, app)
    url = f"{API}/payments/{payment['id']}/allocate"

    async def allocate(invoice_id: str, amount: int):  # type: ignore[no-untyped-def]
        return await world.client.post(url, headers=headers, json={"invoice_id": invoice_id, "amount_minor": amount})

    for invoice_id, amount, status, code in [
        (small["id"], 1_001, 409, "exceeds_invoice_outstanding"),
        (big["id"], 6_001, 409, "exceeds_payment_remainder"),
        (foreign["id"], 100, 422, "invoice_of_another_customer"),
        (str(uuid.uuid4()), 100, 404, "invoice_not_found"),
    ]:
        refused = await allocate(invoice_id, amount)
        assert (refused.status_code, refused.json()["code"]) == (status, code), refused.text
    done = ok(await allocate(big["id"], 5_000))
    assert done["allocated_minor"] == 5_000 and done["unallocated_minor"] == 1_000
    done = ok(await allocate(small["id"], 1_000))
    assert done["unallocated_minor"] == 0
    refused = await allocate(big["id"], 1)
    assert refused.json()["code"] == "exceeds_payment_remainder"
    small, big = await invoices_of(world, app, customer.id)
    assert (small["status"], big["status"], big["paid_minor"]) == ("paid", "part_paid", 5_000)
    missing = await world.client.post(
        f"{API}/payments/{uuid.uuid4()}/allocate", headers=headers, json={"invoice_id": big["id"], "amount_minor": 1}
    )
    assert missing.status_code == 404 and missing.json()["code"] == "payment_not_found"
    trail = ok(await world.client.get(f"{API}/audit", headers=world.h("admin"), params={"subject_id": big["id"]}))
    assert [e["action"] for e in trail["items"]] == ["payment_allocated"]
    assert trail["items"][0]["before"]["paid_minor"] == 0 and trail["items"][0]["after"]["paid_minor"] == 5_000


async def test_two_allocations_of_one_payment_at_once_never_over_allocate(world, app, racer) -> None:
    customer, invoices = await customer_with_invoices(world, app, [8_000] * 6)
    headers = await finance_headers(world, app)
    for round_ in range(3):
        payment = await pay(world, app, customer.id, 8_000, allocate=False)
        url = f"{API}/payments/{payment['id']}/allocate"
        targets = invoices[2 * round_ : 2 * round_ + 2]
        answers = await asyncio.gather(
            *(racer.post(url, headers=headers, json={"invoice_id": i["id"], "amount_minor": 8_000}) for i in targets)
        )
        assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
        assert next(a for a in answers if a.status_code == 409).json()["code"] == "exceeds_payment_remainder"
        after = ok(await world.client.get(f"{API}/payments/{payment['id']}", headers=headers))
        assert after["allocated_minor"] == 8_000 and len(after["allocations"]) == 1


async def test_two_payments_racing_for_one_invoice_never_overpay_it(world, app, racer) -> None:
    customer, (invoice,) = await customer_with_invoices(world, app, [7_000])
    headers = await finance_headers(world, app)
    payments = [await pay(world, app, customer.id, 7_000, allocate=False) for _ in range(2)]
    answers = await asyncio.gather(
        *(
            racer.post(
                f"{API}/payments/{p['id']}/allocate",
                headers=headers,
                json={"invoice_id": invoice["id"], "amount_minor": 7_000},
            )
            for p in payments
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    (invoice,) = await invoices_of(world, app, customer.id)
    assert (invoice["paid_minor"], invoice["status"]) == (7_000, "paid")


async def test_a_prepaid_top_up_is_a_prepayment_that_raises_available_credit(world, app) -> None:
    customer = await world.new_customer(credit=1_000_000)
    before = await balance(world, app, customer.id)
    payment = await pay(world, app, customer.id, 250_000, method="prepaid_topup")
    assert payment["allocations"] == []
    after = await balance(world, app, customer.id)
    assert after["prepaid_minor"] == before["prepaid_minor"] + 250_000
    assert after["available_minor"] == before["available_minor"] + 250_000
    ledger = ok(await world.client.get(f"{API}/customers/{customer.id}/ledger", headers=world.h("admin")))
    assert [(e["kind"], e["amount_minor"]) for e in ledger["items"]] == [("prepayment", -250_000)]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"received_on": "2030-01-08"}, 422, "received_in_future"),
        ({"customer_id": str(uuid.uuid4())}, 404, "customer_not_found"),
        ({"amount_minor": 0}, 400, "validation_error"),
        ({"amount_minor": -5}, 400, "validation_error"),
        ({"method": "barter"}, 400, "validation_error"),
        ({"reference": "x" * 121}, 400, "validation_error"),
    ],
)
async def test_bad_payments_are_refused_and_write_nothing(world, app, change, status, code) -> None:
    customer = await world.new_customer()
    body = {"customer_id": customer.id, "amount_minor": 100, "received_on": "2030-01-07", "method": "cash", **change}
    answer = await world.client.post(f"{API}/payments", headers=await finance_headers(world, app), json=body)
    assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
    assert (await balance(world, app, customer.id))["balance_minor"] == 0


async def test_a_customer_sees_its_own_payments_and_no_one_else_s(world, app) -> None:
    a, b = await world.new_customer(), await world.new_customer()
    paid_a = await pay(world, app, a.id, 100, reference="a's money")
    paid_b = await pay(world, app, b.id, 200, reference="b's money")
    mine = ok(await world.client.get(f"{API}/payments", headers=a.h, params={"customer_id": b.id}))
    assert [p["id"] for p in mine["items"]] == [paid_a["id"]]
    hidden = await world.client.get(f"{API}/payments/{paid_b['id']}", headers=a.h)
    assert hidden.status_code == 404 and "b's money" not in hidden.text
    windowed = ok(
        await world.client.get(
            f"{API}/payments", headers=world.h("admin"), params={"customer_id": a.id, "from": "2030-01-08"}
        )
    )
    assert windowed["total"] == 0
    trail = ok(await world.client.get(f"{API}/audit", headers=world.h("admin"), params={"subject_id": paid_a["id"]}))
    assert [(e["action"], e["after"]["amount_minor"]) for e in trail["items"]] == [("payment_recorded", 100)]


async def test_credit_listeners_run_inside_the_payment_s_unit_of_work(world, app) -> None:
    customer = await world.new_customer()
    heard: list[tuple[uuid.UUID, datetime]] = []

    async def probe(session, customer_id, now):  # type: ignore[no-untyped-def]
        assert session.in_transaction()
        heard.append((customer_id, now))

    async def refuse(session, customer_id, now):  # type: ignore[no-untyped-def]
        raise Conflict("a listener refused", code="listener_refused")

    credit.on_credit_freed(probe, name="test.probe")
    try:
        await pay(world, app, customer.id, 1_000)
        assert heard == [(uuid.UUID(customer.id), app.state.clock.now())]
        assert "orders.recheck_held_orders" in credit.listener_names()
        credit.on_credit_freed(refuse, name="test.refuse")
        answer = await world.client.post(
            f"{API}/payments",
            headers=await finance_headers(world, app),
            json={"customer_id": customer.id, "amount_minor": 2_000, "received_on": "2030-01-07", "method": "cash"},
        )
        assert answer.status_code == 409 and answer.json()["code"] == "listener_refused"
    finally:
        credit.remove_listener("test.probe")
        credit.remove_listener("test.refuse")
    # The refused payment left nothing: no payment, no ledger entry.
    assert (await balance(world, app, customer.id))["balance_minor"] == -1_000
    listed = ok(
        await world.client.get(f"{API}/payments", headers=world.h("admin"), params={"customer_id": customer.id})
    )
    assert listed["total"] == 1


async def test_a_payment_confirms_an_order_held_on_credit(world, app) -> None:
    customer = await world.new_customer(credit=5_000_000)
    first = ok(await customer.order(quantity_litres=5000), 201)
    held = ok(await customer.order(quantity_litres=6000), 201)
    assert (first["status"], held["status"]) == ("confirmed", "on_hold")
    await pay(world, app, customer.id, 5_000_000, method="prepaid_topup")
    again = ok(await world.client.get(f"{API}/orders/{held['id']}", headers=customer.h))
    assert again["status"] == "confirmed"
