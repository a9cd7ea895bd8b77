"""Invoice and credit note PDFs read back by independent tools (pypdf for the text, pypdfium2 + zxing-cpp for the
QR code), seals verified offline and over HTTP, the e-fapiao export, and who may see what."""

from __future__ import annotations

import io
import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import base45
import pypdf
import pypdfium2
import pytest
import zxingcpp

from core.signing import KeyRing
from money.documents import records
from money.documents.seal import seal_document, seal_of, verify_seal_offline
from tests import money_factories as mf
from tests.conftest import T0
from tests.factories import ok
from tracking.keystore import keyring_for

pytestmark = pytest.mark.integration
API = "/api/v1"


async def billed_customer(world: Any, app: Any, **invoice_args: Any) -> tuple[Any, mf.Billed]:
    """A customer with one invoice of two deliveries of 0号柴油 (one with a discount)."""
    customer = await world.new_customer()
    async with mf.money_session(app) as session:
        billed = await mf.invoice(
            session,
            uuid.UUID(customer.id),
            [
                (mf.Delivery(net_litres=4950, unit_price_minor=800, discount_minor=4950, temperature_c=27.5), T0),
                (mf.Delivery(net_litres=3000, unit_price_minor=810, pickup=True), T0),
            ],
            issue_date=date(2030, 1, 31),
            **invoice_args,
        )
    return customer, billed


def pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(body)).pages)


def qr_codes_in(body: bytes) -> list[str]:
    """Render each page (as a printer would, 200 dpi) and read every QR code on it."""
    found = []
    document = pypdfium2.PdfDocument(body)
    for page in document:
        image = page.render(scale=200 / 72).to_pil().convert("L")
        found += [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]
    document.close()
    return found


async def public_keys(client: Any) -> str:
    answer = await client.get(f"{API}/rack/keys")
    assert answer.status_code == 200
    return answer.text


async def test_invoice_pdf_reads_back_with_its_figures(client, world, app) -> None:
    customer, billed = await billed_customer(world, app, buyer_name="上海测试物流有限公司 Shanghai Test Logistics")
    answer = await client.get(f"{API}/invoices/{billed.invoice.id}.pdf", headers=world.h("admin"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert f'filename="{billed.invoice.number}.pdf"' in answer.headers["content-disposition"]
    text = pdf_text(answer.content)
    for expected in (
        "发票",
        "Invoice",
        billed.invoice.number,
        "上海测试物流有限公司",
        "91310000TEST00001X",  # the buyer's tax id
        "0号柴油",
        "4,950",  # net litres of the first line
        "39,550.50",  # 4,950 L x 8.00 - 49.50 discount
        "24,300.00",  # 3,000 L x 8.10
        "63,850.50",  # the total
        "13%",
        "陆万叁仟捌佰伍拾元伍角",  # the total in words
        "2030-01-31",
    ):
        assert expected in text, expected
    # The customer itself gets the same document, at the /pdf address too.
    own = await client.get(f"{API}/invoices/{billed.invoice.id}/pdf", headers=customer.h)
    assert own.status_code == 200 and billed.invoice.number in pdf_text(own.content)


async def test_the_qr_on_the_pdf_verifies_offline_and_online(client, world, app) -> None:
    _, billed = await billed_customer(world, app)
    answer = await client.get(f"{API}/invoices/{billed.invoice.id}.pdf", headers=world.h("admin"))
    scanned = qr_codes_in(answer.content)
    assert len(scanned) == 1
    check = verify_seal_offline(scanned[0], await public_keys(client))
    assert check.genuine and check.seal is not None
    assert check.seal.number == billed.invoice.number
    assert (check.seal.total_minor, check.seal.tax_minor) == (billed.invoice.total_minor, billed.invoice.tax_minor)
    assert check.seal.buyer_tax_id == "91310000TEST00001X" and check.seal.issue_date == date(2030, 1, 31)

    online = await client.post(f"{API}/invoices/verify", json={"token": scanned[0]})  # no login
    assert online.status_code == 200, online.text
    body = online.json()
    assert body["genuine"] is True and body["on_record"] is True and body["status"] == "issued"
    assert body["certifies"]["number"] == billed.invoice.number
    assert body["certifies"]["total_minor"] == 63_850_50


async def test_a_tampered_seal_is_refused(client, world, app) -> None:
    _, billed = await billed_customer(world, app)
    answer = await client.get(f"{API}/invoices/{billed.invoice.id}.pdf", headers=world.h("admin"))
    token = qr_codes_in(answer.content)[0]
    raw = base45.b45decode(token)
    # Raise the total by editing its CBOR integer in place (a forger without the key keeps the signature).
    total = billed.invoice.total_minor.to_bytes(4, "big")
    assert raw.count(total) == 1
    forged = base45.b45encode(raw.replace(total, (billed.invoice.total_minor + 1).to_bytes(4, "big"))).decode()
    refused = (await client.post(f"{API}/invoices/verify", json={"token": forged})).json()
    assert refused["genuine"] is False and refused["reasons"] == ["bad_signature"]
    assert refused["certifies"] is None and refused["on_record"] is None
    assert not verify_seal_offline(forged, await public_keys(client)).genuine
    garbage = await client.post(f"{API}/invoices/verify", json={"token": "NOT A SEAL"})
    assert garbage.status_code == 200 and garbage.json()["reasons"] == ["malformed"]
    too_long = await client.post(f"{API}/invoices/verify", json={"token": "A" * 1001})
    assert too_long.status_code == 400


async def test_a_genuine_seal_whose_figures_differ_from_the_records_is_not_on_record(client, world, app) -> None:
    """A seal signed by us but for other figures than the invoice on file (e.g. a document printed before a bug
    was fixed) verifies as genuine yet not on record."""
    _, billed = await billed_customer(world, app)
    keyring: KeyRing = keyring_for(app.state.settings.codes)  # the service's own keys
    async with mf.money_session(app) as session:
        viewer = _admin()
        document = await records.load_invoice(session, billed.invoice.id, viewer=viewer, seller=_seller(app))
    token = seal_document(replace(document, total_minor=document.total_minor + 100), keyring)
    body = (await client.post(f"{API}/invoices/verify", json={"token": token})).json()
    assert body["genuine"] is True and body["on_record"] is False
    honest = (await client.post(f"{API}/invoices/verify", json={"token": seal_document(document, keyring)})).json()
    assert honest["on_record"] is True
    assert seal_of(document).number == billed.invoice.number


def _admin() -> Any:
    from core.auth import Principal, Role

    return Principal(id=uuid.uuid4(), username="finance", role=Role.ADMIN)


def _seller(app: Any) -> records.Party:
    return records.seller_of(app.state.settings.documents)


async def test_credit_note_pdf_and_seal(client, world, app) -> None:
    customer, billed = await billed_customer(world, app)
    async with mf.money_session(app) as session:
        note = await mf.credit(
            session, billed, [(billed.lines[0], 90_000)], issue_date=date(2030, 2, 3), at=T0, reason="温度折算更正"
        )
    answer = await client.get(f"{API}/credit-notes/{note.id}.pdf", headers=customer.h)
    assert answer.status_code == 200, answer.text
    text = pdf_text(answer.content)
    for expected in (
        "红字发票",
        "Credit note",
        note.number,
        billed.invoice.number,
        "-900.00",
        "温度折算更正",
        "0号柴油",
    ):
        assert expected in text, expected
    [token] = qr_codes_in(answer.content)
    body = (await client.post(f"{API}/invoices/verify", json={"token": token})).json()
    assert body["genuine"] and body["on_record"]
    assert body["certifies"]["kind"] == "credit_note" and body["certifies"]["credits_number"] == billed.invoice.number
    assert body["certifies"]["total_minor"] == -90_000


async def test_documents_are_hidden_from_everyone_else(client, world, app) -> None:
    _, billed = await billed_customer(world, app)
    stranger = await world.new_customer()
    invoice_id = billed.invoice.id
    for path in (f"/invoices/{invoice_id}.pdf", f"/invoices/{invoice_id}/pdf", f"/invoices/{invoice_id}/efapiao.json"):
        hidden = await client.get(API + path, headers=stranger.h)
        assert hidden.status_code == 404 and hidden.json()["code"] == "invoice_not_found", path
        assert (await client.get(API + path, headers=world.h("dispatcher"))).status_code == 403, path
        assert (await client.get(API + path)).status_code == 401, path
    missing = await client.get(f"{API}/invoices/{uuid.uuid4()}.pdf", headers=world.h("admin"))
    assert missing.status_code == 404 and missing.json()["code"] == "invoice_not_found"


async def test_efapiao_export_of_one_invoice(client, world, app) -> None:
    customer, billed = await billed_customer(world, app)
    answer = await client.get(f"{API}/invoices/{billed.invoice.id}/efapiao.json", headers=customer.h)
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert (doc["format"], doc["version"], doc["document_type"]) == ("diesel-direct-efapiao", 1, "blue")
    assert doc["number"] == billed.invoice.number and doc["buyer"]["tax_id"] == "91310000TEST00001X"
    assert doc["totals"] == {
        "amount_excl_tax": f"{Decimal(billed.invoice.net_minor) / 100:.2f}",
        "tax_amount": f"{Decimal(billed.invoice.tax_minor) / 100:.2f}",
        "amount_incl_tax": "63850.50",
    }
    lines = doc["lines"]
    assert [line["quantity"] for line in lines] == [4950, 3000] and {line["unit"] for line in lines} == {"升"}
    assert {line["tax_classification_code"] for line in lines} == {"1070101030100000000"}
    assert {line["tax_rate"] for line in lines} == {"0.13"}
    for field in ("amount_excl_tax", "tax_amount", "amount_incl_tax"):
        assert sum(Decimal(line[field]) for line in lines) == Decimal(doc["totals"][field]), field
    for line in lines:  # what a platform checks: price x quantity within 0.01 of the amount
        assert abs(
            Decimal(line["unit_price_excl_tax"]) * line["quantity"] - Decimal(line["amount_excl_tax"])
        ) <= Decimal("0.01")
        assert abs(
            Decimal(line["unit_price_incl_tax"]) * line["quantity"] - Decimal(line["amount_incl_tax"])
        ) <= Decimal("0.01")
    assert lines[0]["discount_incl_tax"] == "49.50" and lines[0]["source"]["temperature_c"] == 27.5
    assert lines[1]["source"]["ticket_or_receipt"].startswith("T-")
    check = verify_seal_offline(doc["seal"], await public_keys(client))
    assert check.genuine and check.seal is not None and check.seal.lines_hash.hex() == doc["lines_hash"]


async def test_efapiao_export_of_a_date_range(client, world, app) -> None:
    customer, billed = await billed_customer(world, app)
    async with mf.money_session(app) as session:
        later = await mf.invoice(
            session, uuid.UUID(customer.id), [(mf.Delivery(net_litres=1000), T0)], issue_date=date(2030, 2, 28)
        )
        note = await mf.credit(
            session, billed, [(billed.lines[1], billed.lines[1].amount_minor)], issue_date=date(2030, 2, 1), at=T0
        )
    query = {"from": "2030-01-01", "to": "2030-02-28", "customer_id": customer.id}
    page = ok(await client.get(f"{API}/invoices/efapiao.json", params=query, headers=world.h("admin")))
    assert page["total"] == 3
    assert [d["number"] for d in page["documents"]] == [billed.invoice.number, note.number, later.invoice.number]
    red = page["documents"][1]
    assert red["document_type"] == "red" and red["credits"] == {"number": billed.invoice.number}
    assert red["totals"]["amount_incl_tax"] == "-24300.00" and red["lines"][0]["quantity"] == -3000
    second = ok(
        await client.get(
            f"{API}/invoices/efapiao.json", params={**query, "limit": 1, "offset": 1}, headers=world.h("admin")
        )
    )
    assert [d["number"] for d in second["documents"]] == [note.number]
    # A customer gets its own documents only, whatever it asks for.
    own = ok(
        await client.get(
            f"{API}/invoices/efapiao.json", params={"from": "2030-01-01", "to": "2030-02-28"}, headers=customer.h
        )
    )
    assert {d["number"] for d in own["documents"]} == {billed.invoice.number, note.number, later.invoice.number}
    # Another customer naming this one gets its own (none), as with every list.
    stranger = await world.new_customer()
    theirs = ok(await client.get(f"{API}/invoices/efapiao.json", params=query, headers=stranger.h))
    assert theirs["total"] == 0 and theirs["documents"] == []
    # Without dates: this month so far (the test clock's 2030-01-07), where these documents are not.
    this_month = ok(await client.get(f"{API}/invoices/efapiao.json", headers=customer.h))
    assert (this_month["date_from"], this_month["date_to"], this_month["total"]) == ("2030-01-01", "2030-01-07", 0)
    backwards = await client.get(
        f"{API}/invoices/efapiao.json", params={"from": "2030-02-01", "to": "2030-01-01"}, headers=world.h("admin")
    )
    assert backwards.status_code == 422 and backwards.json()["code"] == "invalid_range"
    too_long = await client.get(
        f"{API}/invoices/efapiao.json", params={"from": "2030-01-01", "to": "2031-06-01"}, headers=world.h("admin")
    )
    assert too_long.status_code == 422 and too_long.json()["code"] == "range_too_long"
