"""Monthly statements on a small world whose figures are computed by hand, in JSON, CSV, XLSX and PDF, and the
XLSX lists of invoices and payments read back with openpyxl."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import openpyxl
import pypdf
import pytest

from tests import money_factories as mf
from tests.factories import ok

pytestmark = pytest.mark.integration
API = "/api/v1"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def d(litres: int, *, discount: int = 0) -> mf.Delivery:
    return mf.Delivery(net_litres=litres, unit_price_minor=800, discount_minor=discount)


async def hand_computed_world(app: Any, customer_id: uuid.UUID) -> dict[str, Any]:
    """Shanghai is UTC+8: January 2030 runs from 2029-12-31T16:00Z to 2030-01-31T16:00Z.

    Before January (the opening balance, 1,180,000 fen):
      old    invoice 2029-09-30: 125 L = 100,000, never paid                      -> 90+ (123 days)
      paid   invoice 2029-10-15: 300 L = 240,000, paid 2029-11-01 (charge and payment cancel out)
      late   invoice 2029-11-15: 250 L = 200,000, paid only on 2030-02-05        -> 61-90 (77 days)
      dec    invoice 2029-12-31: 1,000 L = 800,000, 500,000 paid in January     -> 31-60 (31 days), 300,000
      a charge at 2029-12-31T15:59:59Z (23:59:59 local, still December), 100 L = 80,000, not invoiced
    January (movements, +1,600,000):
      2030-01-05 charge 2,000 L - 10,000 discount          +1,590,000  (invoice jan of 2030-01-20)
      2030-01-10 payment, allocated to dec the same day      -500,000
      2030-01-25 credit note on jan                           -90,000
      2030-01-30 payment, allocated to jan only on 2030-02-03 -200,000  -> jan still 1,500,000 unpaid: 0-30
      2030-01-31T15:30Z (23:30 local) charge 1,000 L         +800,000   not invoiced
    After January: 2030-01-31T16:30Z (00:30 on 1 Feb local) charge 500 L +400,000; 2030-02-05 payment of late.
    Closing 2,780,000; ageing 0-30 1,500,000 | 31-60 300,000 | 61-90 200,000 | 90+ 100,000 = 2,100,000.
    """
    async with mf.money_session(app) as s:
        old = await mf.invoice(
            s,
            customer_id,
            [(d(125), utc(2029, 9, 20, 2))],
            issue_date=date(2029, 9, 30),
            number=f"INV-OLD-{uuid.uuid4().hex[:6]}",
        )
        paid = await mf.invoice(s, customer_id, [(d(300), utc(2029, 10, 10, 2))], issue_date=date(2029, 10, 15))
        await mf.pay(
            s, customer_id, 240_000, at=utc(2029, 11, 1, 2), allocate=[(paid.invoice, 240_000, utc(2029, 11, 1, 2))]
        )
        late = await mf.invoice(s, customer_id, [(d(250), utc(2029, 11, 10, 2))], issue_date=date(2029, 11, 15))
        dec = await mf.invoice(s, customer_id, [(d(1000), utc(2029, 12, 10, 2))], issue_date=date(2029, 12, 31))
        await mf.charge(s, customer_id, d(100), at=utc(2029, 12, 31, 15, 59, 59))
        jan = await mf.invoice(
            s, customer_id, [(d(2000, discount=10_000), utc(2030, 1, 5, 3))], issue_date=date(2030, 1, 20)
        )
        await mf.pay(
            s,
            customer_id,
            500_000,
            at=utc(2030, 1, 10, 2),
            allocate=[(dec.invoice, 500_000, utc(2030, 1, 10, 2))],
            reference='=HYPERLINK("http://evil")',
        )
        await mf.credit(s, jan, [(jan.lines[0], 90_000)], issue_date=date(2030, 1, 25), at=utc(2030, 1, 25, 2))
        await mf.pay(
            s, customer_id, 200_000, at=utc(2030, 1, 30, 2), allocate=[(jan.invoice, 200_000, utc(2030, 2, 3, 2))]
        )
        await mf.charge(s, customer_id, d(1000), at=utc(2030, 1, 31, 15, 30))
        await mf.charge(s, customer_id, d(500), at=utc(2030, 1, 31, 16, 30))
        await mf.pay(
            s, customer_id, 200_000, at=utc(2030, 2, 5, 2), allocate=[(late.invoice, 200_000, utc(2030, 2, 5, 2))]
        )
    return {"old": old, "late": late, "dec": dec, "jan": jan, "paid": paid}


async def test_statement_adds_up_on_a_hand_computed_world(client, world, app) -> None:
    customer = await world.new_customer()
    invoices = await hand_computed_world(app, uuid.UUID(customer.id))
    st = ok(await client.get(f"{API}/customers/{customer.id}/statements/2030-01", headers=customer.h))
    assert (st["month"], st["period_start"], st["period_end"]) == ("2030-01", "2030-01-01", "2030-01-31")
    assert st["timezone"] == "Asia/Shanghai" and st["currency"] == "CNY" and st["ageing_basis"] == "issue_date"
    assert st["opening_balance_minor"] == 1_180_000
    amounts = [m["amount_minor"] for m in st["movements"]]
    assert amounts == [1_590_000, -500_000, -90_000, -200_000, 800_000]
    assert [m["kind"] for m in st["movements"]] == ["charge", "payment", "credit_note", "payment", "charge"]
    assert st["movements"][-1]["day"] == "2030-01-31"  # 15:30Z is 23:30 in Shanghai
    assert st["closing_balance_minor"] == 2_780_000
    # The invariants, stated as such.
    assert st["opening_balance_minor"] + sum(amounts) == st["closing_balance_minor"]
    running = st["opening_balance_minor"]
    for movement in st["movements"]:
        running += movement["amount_minor"]
        assert movement["balance_minor"] == running
    assert st["ageing"] == {"0-30": 1_500_000, "31-60": 300_000, "61-90": 200_000, "90+": 100_000}
    assert sum(st["ageing"].values()) == st["unpaid_invoices_minor"] == 2_100_000
    assert sum(i["unpaid_minor"] for i in st["unpaid_invoices"]) == st["unpaid_invoices_minor"]
    assert [i["number"] for i in st["unpaid_invoices"]] == [
        invoices[k].invoice.number for k in ("old", "late", "dec", "jan")
    ]
    assert [i["age_days"] for i in st["unpaid_invoices"]] == [123, 77, 31, 11]
    # The next month opens where this one closed.
    february = ok(await client.get(f"{API}/customers/{customer.id}/statements/2030-02", headers=world.h("admin")))
    assert february["opening_balance_minor"] == 2_780_000
    assert [m["amount_minor"] for m in february["movements"]] == [400_000, -200_000]
    # At 28 February: late paid on 02-05; jan 1,590,000 - 90,000 credited - 200,000 allocated on 02-03 = 1,300,000
    # (39 days) and dec's 300,000 (59 days) are both 31-60; old is 151 days.
    assert february["ageing"] == {"0-30": 0, "31-60": 1_600_000, "61-90": 0, "90+": 100_000}


async def test_statement_files_read_back(client, world, app) -> None:
    customer = await world.new_customer()
    await hand_computed_world(app, uuid.UUID(customer.id))
    base = f"{API}/customers/{customer.id}/statements/2030-01"

    as_csv = await client.get(base + ".csv", headers=customer.h)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    kinds = [r["row"] for r in rows]
    assert kinds[0] == "opening" and kinds.count("movement") == 5 and kinds.count("ageing") == 4
    closing = next(r for r in rows if r["row"] == "closing")
    assert closing["balance_yuan"] == "27800.00" and rows[0]["balance_yuan"] == "11800.00"
    moved = sum(Decimal(r["amount_yuan"]) for r in rows if r["row"] == "movement")
    assert Decimal(rows[0]["balance_yuan"]) + moved == Decimal(closing["balance_yuan"])
    injected = next(
        r for r in rows if r["row"] == "movement" and r["kind"] == "payment" and "HYPERLINK" in r["reference"]
    )
    assert injected["reference"].startswith("'=")  # a formula in a bank reference stays text

    as_xlsx = await client.get(base + ".xlsx", headers=world.h("admin"))
    assert as_xlsx.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(as_xlsx.content))
    sheet, ageing = book.worksheets
    assert sheet.freeze_panes == "A2" and sheet["A1"].value == "日期 Date" and sheet["F1"].value == "余额 Balance"
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert values[0][5] == 11800 and values[-1][5] == 27800 and len(values) == 7
    assert sheet["E3"].number_format == "#,##0.00" and sheet["A3"].value == datetime(2030, 1, 5)
    payment_refs = [row[2] for row in values if row[2] and "HYPERLINK" in row[2]]
    assert payment_refs == ['=HYPERLINK("http://evil")'] and sheet.cell(row=4, column=3).data_type == "s"
    assert ageing.freeze_panes == "A2"
    bucket_rows = {
        row[6]: row[4] for row in ageing.iter_rows(min_row=2, values_only=True) if row[0] and "days" in row[0]
    }
    assert bucket_rows == {"0-30": 15000, "31-60": 3000, "61-90": 2000, "90+": 1000}

    as_pdf = await client.get(base + ".pdf", headers=customer.h)
    assert as_pdf.status_code == 200 and as_pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(as_pdf.content)).pages)
    for expected in ("对账单", "2030-01", "11,800.00", "27,800.00", "15,000.00", "21,000.00", "0号柴油"):
        assert expected in text, expected


async def test_statements_are_private(client, world, app) -> None:
    customer = await world.new_customer()
    stranger = await world.new_customer()
    base = f"{API}/customers/{customer.id}/statements/2030-01"
    for suffix in ("", ".pdf", ".csv", ".xlsx"):
        hidden = await client.get(base + suffix, headers=stranger.h)
        assert hidden.status_code == 404 and hidden.json()["code"] == "customer_not_found", suffix
        assert (await client.get(base + suffix, headers=world.h("dispatcher"))).status_code == 403
    unknown = await client.get(f"{API}/customers/{uuid.uuid4()}/statements/2030-01", headers=world.h("admin"))
    assert unknown.status_code == 404
    bad = await client.get(f"{API}/customers/{customer.id}/statements/2030-13", headers=customer.h)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_month" and bad.json()["field"] == "month"
    empty = ok(await client.get(base, headers=customer.h))
    assert empty["opening_balance_minor"] == empty["closing_balance_minor"] == 0 and empty["movements"] == []


async def test_invoice_and_payment_spreadsheets(client, world, app) -> None:
    customer = await world.new_customer()
    async with mf.money_session(app) as s:
        first = await mf.invoice(
            s,
            uuid.UUID(customer.id),
            [(d(4950, discount=4950), utc(2030, 1, 5, 3))],
            issue_date=date(2030, 1, 20),
            buyer_name="=1+1 上海测试",
        )
        await mf.invoice(s, uuid.UUID(customer.id), [(d(1000), utc(2030, 1, 6, 3))], issue_date=date(2030, 1, 21))
        await mf.pay(
            s,
            uuid.UUID(customer.id),
            1_000_000,
            at=utc(2030, 1, 25, 2),
            allocate=[(first.invoice, 1_000_000, utc(2030, 1, 25, 2))],
            reference="WIRE 42",
        )
    query = {"from": "2030-01-01", "to": "2030-01-31", "customer_id": customer.id}
    answer = await client.get(f"{API}/invoices.xlsx", params=query, headers=world.h("admin"))
    assert answer.status_code == 200, answer.text
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).worksheets[0]
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["发票号 Number", "开票日期 Issue date", "到期日 Due date"] and "价税合计 Total" in header
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert [r[0] for r in rows] == [first.invoice.number, rows[1][0]] and len(rows) == 2
    total, paid, unpaid = (header.index(t) for t in ("价税合计 Total", "已付 Paid", "未付 Unpaid"))
    assert rows[0][total] == 39550.5 and rows[0][paid] == 10000 and rows[0][unpaid] == 29550.5
    assert sheet.cell(row=2, column=total + 1).number_format == "#,##0.00"
    assert rows[0][3] == "=1+1 上海测试" and sheet.cell(row=2, column=4).data_type == "s"  # text, not a formula

    payments = await client.get(f"{API}/payments.xlsx", params=query, headers=customer.h)
    assert payments.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(payments.content)).worksheets[0]
    assert sheet.freeze_panes == "A2" and sheet["A1"].value == "收款日期 Received on"
    [row] = [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]
    assert row[0] == datetime(2030, 1, 25) and row[1].startswith("测试物流") and row[2] == 10000 and row[6] == "WIRE 42"
    # Another customer naming this one gets its own payments (none): the header row only.
    stranger = await world.new_customer()
    theirs = await client.get(f"{API}/payments.xlsx", params=query, headers=stranger.h)
    assert theirs.status_code == 200
    assert openpyxl.load_workbook(io.BytesIO(theirs.content)).worksheets[0].max_row == 1
    assert (await client.get(f"{API}/invoices.xlsx", params=query, headers=world.h("dispatcher"))).status_code == 403
