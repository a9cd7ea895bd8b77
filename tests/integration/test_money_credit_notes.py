"""Credit notes: whole invoices or single lines, never beyond what a line has left, a ledger entry, the invoice's
credited amount and status, gapless CN numbers; and the balance figures that follow from all of it."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import select

from tests.billing_factories import (
    API,
    add_charge,
    balance,
    db_session,
    finance_headers,
    invoices_of,
    local,
    pay,
    run_invoices,
)
from tests.factories import ok
from tests.integration.test_money_invoices import assert_gapless

pytestmark = pytest.mark.integration


async def invoiced_customer(world, app, litres: list[int]):  # type: ignore[no-untyped-def]
    """A customer with one monthly invoice whose lines are `litres` x 8.00 CNY."""
    customer = await world.new_customer()
    for index, amount in enumerate(litres):
        await add_charge(app, customer.id, at=local(date(2029, 12, 2 + index)), litres=amount, price=800)
    await run_invoices(world, app, period_end="2029-12-31", customer_id=customer.id)
    (invoice,) = await invoices_of(world, app, customer.id)
    return customer, invoice


async def credit(world, app, invoice_id: str, body: dict, **headers: str):  # type: ignore[no-untyped-def]
    return await world.client.post(
        f"{API}/invoices/{invoice_id}/credit-notes", headers={**await finance_headers(world, app), **headers}, json=body
    )


async def credit_note_numbers(app) -> list[str]:  # type: ignore[no-untyped-def]
    from money.models import CreditNote

    async with db_session(app) as session:
        return list(await session.scalars(select(CreditNote.number).where(CreditNote.series == "CN-2030")))


async def test_crediting_a_whole_invoice_credits_every_line_once(world, app) -> None:
    customer, invoice = await invoiced_customer(world, app, [1000, 333])
    answer = await credit(world, app, invoice["id"], {"reason": "wrong price list"})
    assert answer.status_code == 201, answer.text
    note = answer.json()
    assert note["number"].startswith("CN-2030-") and note["invoice_number"] == invoice["number"]
    assert (note["total_minor"], note["net_minor"], note["tax_minor"]) == (
        invoice["total_minor"],
        invoice["net_minor"],
        invoice["tax_minor"],
    )
    assert [x["invoice_line_id"] for x in note["lines"]] == [x["id"] for x in invoice["lines"]]
    (after,) = await invoices_of(world, app, customer.id)
    assert (after["status"], after["credited_minor"], after["outstanding_minor"]) == (
        "credited",
        invoice["total_minor"],
        0,
    )
    assert [x["credited_minor"] for x in after["lines"]] == [x["amount_minor"] for x in invoice["lines"]]
    assert [n["id"] for n in after["credit_notes"]] == [note["id"]]
    ledger = ok(await world.client.get(f"{API}/customers/{customer.id}/ledger", headers=world.h("admin")))
    last = ledger["items"][-1]
    assert (last["kind"], last["amount_minor"], last["credit_note_id"], last["invoice_id"]) == (
        "credit_note",
        -invoice["total_minor"],
        note["id"],
        invoice["id"],
    )
    assert (await balance(world, app, customer.id))["balance_minor"] == 0
    again = await credit(world, app, invoice["id"], {"reason": "once more"})
    assert again.status_code == 409 and again.json()["code"] == "invoice_fully_credited"
    trail = ok(await world.client.get(f"{API}/audit", headers=world.h("admin"), params={"subject_id": invoice["id"]}))
    assert [(e["action"], e["before"]["status"], e["after"]["status"]) for e in trail["items"]] == [
        ("credit_note_issued", "issued", "credited")
    ]
    assert_gapless(await credit_note_numbers(app), "CN-2030")


async def test_a_line_is_credited_in_parts_never_beyond_its_amount(world, app) -> None:
    customer, invoice = await invoiced_customer(world, app, [1001, 500])
    line, other = invoice["lines"]
    part = ok(
        await credit(
            world,
            app,
            invoice["id"],
            {"reason": "short delivery", "lines": [{"invoice_line_id": line["id"], "amount_minor": 300_001}]},
        )
    )
    assert part["total_minor"] == 300_001
    assert part["net_minor"] + part["tax_minor"] == 300_001
    (after,) = await invoices_of(world, app, customer.id)
    assert (after["status"], after["credited_minor"]) == ("part_paid", 300_001)
    too_much = await credit(
        world,
        app,
        invoice["id"],
        {"reason": "x", "lines": [{"invoice_line_id": line["id"], "amount_minor": line["amount_minor"]}]},
    )
    assert too_much.status_code == 409 and too_much.json()["code"] == "exceeds_uncredited"
    rest = ok(
        await credit(world, app, invoice["id"], {"reason": "the rest", "lines": [{"invoice_line_id": line["id"]}]})
    )
    assert rest["total_minor"] == line["amount_minor"] - 300_001
    # The parts add up to the line to the fen: net and tax alike.
    assert part["net_minor"] + rest["net_minor"] == line["net_minor"]
    assert part["tax_minor"] + rest["tax_minor"] == line["tax_minor"]
    for lines, code, status in [
        ([{"invoice_line_id": str(uuid.uuid4())}], "invoice_line_not_found", 422),
        ([{"invoice_line_id": other["id"]}, {"invoice_line_id": other["id"]}], "duplicate_line", 422),
        ([{"invoice_line_id": line["id"]}], "exceeds_uncredited", 409),
        ([{"invoice_line_id": other["id"], "amount_minor": 0}], "validation_error", 400),
    ]:
        refused = await credit(world, app, invoice["id"], {"reason": "bad", "lines": lines})
        assert (refused.status_code, refused.json()["code"]) == (status, code), refused.text
    for body, code in [({"lines": []}, "validation_error"), ({"reason": ""}, "validation_error")]:
        refused = await credit(world, app, invoice["id"], body)
        assert (refused.status_code, refused.json()["code"]) == (400, code)
    missing = await credit(world, app, str(uuid.uuid4()), {"reason": "no such invoice"})
    assert (missing.status_code, missing.json()["code"]) == (404, "invoice_not_found")
    (after,) = await invoices_of(world, app, customer.id)
    assert after["credited_minor"] == line["amount_minor"] and after["status"] == "part_paid"
    assert_gapless(await credit_note_numbers(app), "CN-2030")


async def test_a_retried_credit_note_is_issued_once(world, app) -> None:
    _, invoice = await invoiced_customer(world, app, [100, 200])
    body = {"reason": "retry", "lines": [{"invoice_line_id": invoice["lines"][0]["id"], "amount_minor": 1_000}]}
    key = f"cn-{uuid.uuid4().hex}"
    first = await credit(world, app, invoice["id"], body, **{"Idempotency-Key": key})
    again = await credit(world, app, invoice["id"], body, **{"Idempotency-Key": key})
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    (after,) = await invoices_of(world, app, invoice["customer_id"])
    assert after["credited_minor"] == 1_000


async def test_credit_notes_are_shown_to_their_customer_only(world, app) -> None:
    customer, invoice = await invoiced_customer(world, app, [100])
    stranger = await world.new_customer()
    note = ok(await credit(world, app, invoice["id"], {"reason": "goodwill"}))
    assert ok(await world.client.get(f"{API}/credit-notes/{note['id']}", headers=customer.h))["id"] == note["id"]
    hidden = await world.client.get(f"{API}/credit-notes/{note['id']}", headers=stranger.h)
    assert (
        hidden.status_code == 404
        and hidden.json()["code"] == "credit_note_not_found"
        and note["number"] not in hidden.text
    )
    refused = await world.client.post(
        f"{API}/invoices/{invoice['id']}/credit-notes", headers=customer.h, json={"reason": "mine"}
    )
    assert refused.status_code == 403


async def test_balance_figures_add_up_to_the_ledger(world, app) -> None:
    """uninvoiced + unpaid - prepaid = balance = the ledger's sum; available = limit - open orders - balance."""
    customer, invoice = await invoiced_customer(world, app, [1000, 500])  # 12,000.00 CNY on one invoice
    await add_charge(app, customer.id, at=local(date(2030, 1, 3)), litres=100, price=800)  # not invoiced yet
    figures = await balance(world, app, customer.id)
    assert (figures["uninvoiced_minor"], figures["unpaid_invoices_minor"], figures["prepaid_minor"]) == (
        80_000,
        1_200_000,
        0,
    )

    await pay(world, app, customer.id, 1_500_000)  # pays the invoice, 300,000 left over
    figures = await balance(world, app, customer.id)
    assert (figures["unpaid_invoices_minor"], figures["prepaid_minor"]) == (0, 300_000)

    # Crediting a paid line gives the money back as prepaid credit.
    line = invoice["lines"][1]
    ok(await credit(world, app, invoice["id"], {"reason": "spilt", "lines": [{"invoice_line_id": line["id"]}]}))
    figures = await balance(world, app, customer.id)
    assert (figures["uninvoiced_minor"], figures["unpaid_invoices_minor"], figures["prepaid_minor"]) == (
        80_000,
        0,
        300_000 + line["amount_minor"],
    )
    ledger = ok(await world.client.get(f"{API}/customers/{customer.id}/ledger", headers=world.h("admin")))
    ledger_sum = sum(e["amount_minor"] for e in ledger["items"])
    assert figures["balance_minor"] == ledger_sum == ledger["items"][-1]["balance_minor"]
    assert figures["uninvoiced_minor"] + figures["unpaid_invoices_minor"] - figures["prepaid_minor"] == ledger_sum
    assert figures["available_minor"] == figures["credit_limit_minor"] - figures["open_orders_minor"] - ledger_sum
    assert figures["available_minor"] == (
        figures["credit_limit_minor"]
        + figures["prepaid_minor"]
        - figures["open_orders_minor"]
        - figures["uninvoiced_minor"]
        - figures["unpaid_invoices_minor"]
    )
    (after,) = await invoices_of(world, app, customer.id)
    assert after["status"] == "paid"  # paid, and partly credited after that


async def test_the_ledger_is_paged_and_windowed_and_a_customer_reads_its_own(world, app) -> None:
    customer = await world.new_customer()
    stranger = await world.new_customer()
    for d in (2, 3, 4):
        await add_charge(app, customer.id, at=local(date(2029, 12, d)), litres=10 * d, price=1)
    page = ok(await world.client.get(f"{API}/customers/{customer.id}/ledger", headers=customer.h, params={"limit": 2}))
    assert page["total"] == 3 and [e["amount_minor"] for e in page["items"]] == [20, 30]
    assert [e["balance_minor"] for e in page["items"]] == [20, 50]
    assert page["items"][0]["kind"] == "charge" and page["items"][0]["order_id"] and page["items"][0]["actor"] is None
    window = ok(
        await world.client.get(
            f"{API}/customers/{customer.id}/ledger",
            headers=world.h("admin"),
            params={"from": local(date(2029, 12, 3), 0).isoformat(), "to": local(date(2029, 12, 4), 0).isoformat()},
        )
    )
    assert [e["amount_minor"] for e in window["items"]] == [30]
    mine = ok(await world.client.get(f"{API}/me/balance", headers=customer.h))
    assert mine["customer_id"] == customer.id and mine["balance_minor"] == 90
    assert mine["payment_code"].startswith("DD") and len(mine["payment_code"]) == 10
    for path in ("ledger", "balance"):
        hidden = await world.client.get(f"{API}/customers/{customer.id}/{path}", headers=stranger.h)
        assert hidden.status_code == 404 and hidden.json()["code"] == "customer_not_found"
    unknown = await world.client.get(f"{API}/customers/{uuid.uuid4()}/balance", headers=world.h("admin"))
    assert unknown.status_code == 404
    backwards = await world.client.get(
        f"{API}/customers/{customer.id}/ledger",
        headers=world.h("admin"),
        params={"from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"},
    )
    assert backwards.status_code == 422 and backwards.json()["code"] == "invalid_range"


async def test_finance_sees_money_and_nothing_of_dispatch(world, app) -> None:
    customer = await world.new_customer()
    finance = await finance_headers(world, app)
    for path in (
        f"/customers/{customer.id}/balance",
        f"/customers/{customer.id}/ledger",
        "/invoices",
        "/payments",
        "/invoice-runs",
    ):
        assert (await world.client.get(f"{API}{path}", headers=finance)).status_code == 200, path
    for path in ("/tankers", "/drivers", "/plans", "/orders", "/dispatch/live", "/driver/route"):
        answer = await world.client.get(f"{API}{path}", headers=finance)
        assert (answer.status_code, answer.json()["code"]) == (403, "forbidden"), path
    for role in ("dispatcher", "driver", "rack_operator"):
        for path in (f"/customers/{customer.id}/balance", "/invoices", "/payments", "/invoice-runs"):
            assert (await world.client.get(f"{API}{path}", headers=world.h(role))).status_code == 403, (role, path)
    ok(
        await world.client.patch(
            f"{API}/customers/{customer.id}/billing", headers=finance, json={"payment_terms_days": 45}
        )
    )
    trail = ok(
        await world.client.get(
            f"{API}/audit", headers=world.h("admin"), params={"customer_id": customer.id, "subject_type": "customer"}
        )
    )
    assert any(e["action"] == "billing_changed" and e["after"]["payment_terms_days"] == 45 for e in trail["items"])
