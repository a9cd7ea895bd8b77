"""Bank statement import: receipts matched to customers by invoice number, payment code, known payer account or
tax id become payments; the rest wait for finance; a file imported twice creates nothing twice; a bad file is
refused whole with its line number."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from tests.billing_factories import (
    API,
    add_charge,
    balance,
    finance_headers,
    invoices_of,
    local,
    run_invoices,
    set_billing,
)
from tests.factories import ok

pytestmark = pytest.mark.integration


async def upload(world, app, text: str, *, encoding: str = "utf-8"):  # type: ignore[no-untyped-def]
    return await world.client.post(
        f"{API}/payments/import",
        headers=await finance_headers(world, app),
        files={"file": ("statement.csv", text.encode(encoding), "text/csv")},
    )


async def payments_of(world, customer_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    page = ok(await world.client.get(f"{API}/payments", headers=world.h("admin"), params={"customer_id": customer_id}))
    return page["items"]  # type: ignore[no-any-return]


async def customer_with_tax_id(world) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    tax_id = f"91310000{uuid.uuid4().hex[:10].upper()}"
    body = {"name": f"税号客户 {tax_id}", "credit_limit_minor": 1_000_000, "tax_id": tax_id}
    account = ok(await world.client.post(f"{API}/customers", headers=world.h("admin"), json=body))
    return account["id"], tax_id


async def test_receipts_are_matched_paid_and_the_rest_queued(world, app) -> None:
    owes = await world.new_customer()
    await set_billing(world, app, owes.id, billing_period="per_delivery")
    await add_charge(app, owes.id, at=local(date(2030, 1, 2)), litres=100, price=1000)  # 1,000.00 CNY
    await add_charge(app, owes.id, at=local(date(2030, 1, 3)), litres=100, price=1000)
    await run_invoices(world, app, period_end="2030-01-06", customer_id=owes.id)
    older, newer = await invoices_of(world, app, owes.id)
    by_code = await world.new_customer()
    code = ok(await world.client.get(f"{API}/me/balance", headers=by_code.h))["payment_code"]
    by_tax_id, tax_id = await customer_with_tax_id(world)
    stranger_account = f"6217{uuid.uuid4().int % 10**12:012d}"

    statement = (
        "交易日期,贷方金额,借方金额,币种,摘要,对方户名,对方账号,纳税人识别号\n"
        f"2030-01-05,600.00,,人民币,货款 {newer['number']},沪通物流,,\n"  # the named invoice, not the oldest
        f"2030-01-05,88.00,,CNY,{code.lower()} 一月,某公司,,\n"
        f"2030-01-06,77.00,,CNY,转账,税号公司,,{tax_id}\n"
        f"2030-01-06,55.00,,CNY,货款,无名公司,{stranger_account},\n"
        "2030-01-06,,12.00,CNY,手续费,,,\n"
        f"2030-01-06,5000.00,,CNY,{older['number']},,,\n"  # more than the invoice has open: not by this rule
    )
    answer = await upload(world, app, statement)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    matched = {x["line_number"]: x for x in result["matched"]}
    assert {n: (x["customer_id"], x["match_rule"]) for n, x in matched.items()} == {
        2: (owes.id, "invoice_number"),
        3: (by_code.id, "payment_code"),
        4: (by_tax_id, "payer_tax_id"),
    }
    assert [x["line_number"] for x in result["unmatched"]] == [5, 7]
    assert result["skipped"] == [{"line_number": 6, "reason": "not_a_receipt"}]
    assert all(x["status"] == "matched" and x["payment_id"] for x in result["matched"])

    (paid,) = await payments_of(world, owes.id)
    assert (paid["amount_minor"], paid["method"], paid["received_on"]) == (60_000, "bank_transfer", "2030-01-05")
    assert [(a["invoice_id"], a["amount_minor"]) for a in paid["allocations"]] == [(newer["id"], 60_000)]
    assert [p["amount_minor"] for p in await payments_of(world, by_code.id)] == [8_800]
    assert (await balance(world, app, by_tax_id))["prepaid_minor"] == 7_700

    # Finance assigns the unknown payer's line; that payer's next transfer is then recognised by its account.
    queued = ok(await world.client.get(f"{API}/payments/unmatched", headers=world.h("admin"), params={"limit": 500}))
    line = next(x for x in queued["items"] if x["payer_account"] == stranger_account)
    payer = await world.new_customer()
    assigned = ok(
        await world.client.post(
            f"{API}/payments/unmatched/{line['id']}/assign",
            headers=await finance_headers(world, app),
            json={"customer_id": payer.id},
        )
    )
    assert (assigned["status"], assigned["customer_id"], assigned["match_rule"]) == ("assigned", payer.id, "assigned")
    again = await world.client.post(
        f"{API}/payments/unmatched/{line['id']}/assign",
        headers=await finance_headers(world, app),
        json={"customer_id": payer.id},
    )
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    follow_up = ok(await upload(world, app, f"date,amount,payer_account\n2030-01-07,66,{stranger_account}\n"))
    assert [(x["customer_id"], x["match_rule"]) for x in follow_up["matched"]] == [(payer.id, "payer_account")]
    assert sorted(p["amount_minor"] for p in await payments_of(world, payer.id)) == [5_500, 6_600]
    trail = ok(await world.client.get(f"{API}/audit", headers=world.h("admin"), params={"subject_id": line["id"]}))
    assert [e["action"] for e in trail["items"]] == ["bank_line_assigned"]


async def test_the_same_file_imported_twice_creates_nothing_twice(world, app) -> None:
    customer = await world.new_customer()
    code = ok(await world.client.get(f"{API}/me/balance", headers=customer.h))["payment_code"]
    statement = f"date,amount,reference\n2030-01-05,10,{code}\n2030-01-05,10,{code}\n2030-01-06,7,nobody\n"
    first = ok(await upload(world, app, statement))
    assert (len(first["matched"]), len(first["unmatched"])) == (2, 1)  # two equal transfers are two payments
    second = ok(await upload(world, app, statement))
    assert second["matched"] == [] and second["unmatched"] == []
    assert [x["reason"] for x in second["skipped"]] == ["already_imported"] * 3
    assert len(await payments_of(world, customer.id)) == 2
    assert (await balance(world, app, customer.id))["balance_minor"] == -2_000


async def test_a_bad_file_is_refused_whole_with_its_line(world, app) -> None:
    customer = await world.new_customer()
    code = ok(await world.client.get(f"{API}/me/balance", headers=customer.h))["payment_code"]
    answer = await upload(world, app, f"date,amount,reference\n2030-01-05,10,{code}\n2030-01-05,ten,{code}\n")
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["code"] == "invalid_csv" and problem["errors"] == [
        {"line": "3", "message": "amount 'ten' is not a number"}
    ]
    assert "line 3" in problem["detail"]
    assert await payments_of(world, customer.id) == []  # the good line before it was not kept either
    for text, code_ in [("", "invalid_csv"), ("date,amount\n", "empty_statement")]:
        refused = await upload(world, app, text)
        assert (refused.status_code, refused.json()["code"]) == (422, code_)
    gbk = await upload(world, app, "日期,金额\n2030-01-05,1\n", encoding="gb18030")
    assert gbk.status_code == 200, gbk.text
    wrong = await world.client.post(
        f"{API}/payments/import", headers=await finance_headers(world, app), json={"file": "x"}
    )
    assert 400 <= wrong.status_code < 500, wrong.text
    empty = await world.client.post(f"{API}/payments/import", headers=await finance_headers(world, app), files={})
    assert 400 <= empty.status_code < 500, empty.text


async def test_a_line_can_be_ignored_then_assigned_and_lists_by_status(world, app) -> None:
    answer = ok(await upload(world, app, f"date,amount,reference\n2030-01-04,3.21,{uuid.uuid4().hex}\n"))
    (line,) = answer["unmatched"]
    headers = await finance_headers(world, app)
    ignored = ok(
        await world.client.post(
            f"{API}/payments/unmatched/{line['id']}/ignore", headers=headers, json={"reason": "our own transfer"}
        )
    )
    assert ignored["status"] == "ignored"
    listed = ok(
        await world.client.get(f"{API}/payments/unmatched", headers=headers, params={"status": "ignored", "limit": 500})
    )
    assert line["id"] in [x["id"] for x in listed["items"]]
    waiting = ok(await world.client.get(f"{API}/payments/unmatched", headers=headers, params={"limit": 500}))
    assert line["id"] not in [x["id"] for x in waiting["items"]]
    customer = await world.new_customer()
    assigned = ok(
        await world.client.post(
            f"{API}/payments/unmatched/{line['id']}/assign",
            headers=headers,
            json={"customer_id": customer.id, "allocate": False},
        )
    )
    assert assigned["status"] == "assigned" and (await balance(world, app, customer.id))["prepaid_minor"] == 321
    for path, body, status, code in [
        (f"{line['id']}/ignore", {}, 409, "invalid_transition"),
        (f"{uuid.uuid4()}/ignore", {}, 404, "bank_line_not_found"),
        (f"{uuid.uuid4()}/assign", {"customer_id": customer.id}, 404, "bank_line_not_found"),
    ]:
        refused = await world.client.post(f"{API}/payments/unmatched/{path}", headers=headers, json=body)
        assert (refused.status_code, refused.json()["code"]) == (status, code), refused.text
    bad = await world.client.get(f"{API}/payments/unmatched", headers=headers, params={"status": "lost"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_status"


async def test_customers_and_dispatchers_cannot_import_or_see_the_queue(world, app) -> None:
    customer = await world.new_customer()
    for headers in (customer.h, world.h("dispatcher")):
        answer = await world.client.post(
            f"{API}/payments/import",
            headers=headers,
            files={"file": ("s.csv", b"date,amount\n2030-01-05,1\n", "text/csv")},
        )
        assert answer.status_code == 403
        assert (await world.client.get(f"{API}/payments/unmatched", headers=headers)).status_code == 403
