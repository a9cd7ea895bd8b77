"""The e-fapiao export: invoices and credit notes as documented JSON (docs/EFAPIAO.md) that an integration with
an e-fapiao platform (数电票) turns into its API calls. Amounts are yuan as decimal strings, never floats."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import msgspec

from money.documents import figures
from money.documents.records import Document, DocumentKind, Line, Party
from money.documents.seal import lines_hash

FORMAT = "diesel-direct-efapiao"
VERSION = 1
UNIT = "升"  # quantities are litres at the standard temperature
UNIT_PRICE_PLACES = Decimal("0.00000001")  # 8 decimals: price x quantity stays within 0.01 of the amount


class PartyOut(msgspec.Struct):
    name: str
    tax_id: str
    address: str
    phone: str
    bank_account: str


class LineSource(msgspec.Struct):
    """Where the line comes from: what left the tanker or the rack."""

    order_or_pickup: str
    ticket_or_receipt: str
    delivered_at: datetime
    observed_litres: int
    temperature_c: float
    net_litres: int
    net_kg: int


class LineOut(msgspec.Struct):
    position: int
    tax_classification_code: str
    product_code: str
    item_name: str
    unit: str
    quantity: int | None  # None on a red line that credits part of an amount (an allowance, no goods back)
    unit_price_excl_tax: str | None
    unit_price_incl_tax: str | None
    amount_excl_tax: str
    tax_rate: str
    tax_amount: str
    amount_incl_tax: str
    discount_incl_tax: str
    source: LineSource


class TotalsOut(msgspec.Struct):
    amount_excl_tax: str
    tax_amount: str
    amount_incl_tax: str


class CreditedOut(msgspec.Struct):
    number: str


class EfapiaoDocument(msgspec.Struct):
    format: str
    version: int
    document_type: str  # blue (invoice) | red (credit note)
    id: uuid.UUID
    number: str
    issue_date: date
    currency: str
    seller: PartyOut
    buyer: PartyOut
    lines: list[LineOut]
    totals: TotalsOut
    remarks: str
    credits: CreditedOut | None
    lines_hash: str
    seal: str


class EfapiaoPage(msgspec.Struct):
    format: str
    version: int
    date_from: date
    date_to: date
    total: int
    limit: int
    offset: int
    documents: list[EfapiaoDocument]


def _yuan(minor: int) -> str:
    return f"{figures.yuan_decimal(minor):.2f}"


def _tax_rate(bps: int) -> str:
    return f"{(Decimal(bps) / 10_000).normalize():f}"


def _party(party: Party) -> PartyOut:
    return PartyOut(
        name=party.name,
        tax_id=party.tax_id,
        address=party.address,
        phone=party.phone,
        bank_account=party.bank_account,
    )


def _unit_price(minor: int, quantity: int) -> str:
    return str((figures.yuan_decimal(minor) / quantity).quantize(UNIT_PRICE_PLACES, rounding=ROUND_HALF_UP))


def _line(line: Line, *, red: bool, tax_code: str) -> LineOut:
    # A blue line sells its net litres; a red line gives them back only when it credits the whole line.
    quantity = None if red and not line.fully_credited else (-line.net_litres if red else line.net_litres)
    return LineOut(
        position=line.position,
        tax_classification_code=tax_code,
        product_code=line.product_code,
        item_name=line.product_name,
        unit=UNIT,
        quantity=quantity,
        unit_price_excl_tax=_unit_price(line.net_minor, quantity) if quantity else None,
        unit_price_incl_tax=_unit_price(line.amount_minor, quantity) if quantity else None,
        amount_excl_tax=_yuan(line.net_minor),
        tax_rate=_tax_rate(line.tax_rate_bps),
        tax_amount=_yuan(line.tax_minor),
        amount_incl_tax=_yuan(line.amount_minor),
        discount_incl_tax=_yuan(line.discount_minor),
        source=LineSource(
            order_or_pickup=line.reference,
            ticket_or_receipt=line.document_number,
            delivered_at=line.delivered_at,
            observed_litres=line.observed_litres,
            temperature_c=line.temperature_c,
            net_litres=line.net_litres,
            net_kg=line.net_kg,
        ),
    )


def _remarks(document: Document) -> str:
    if document.kind == DocumentKind.CREDIT_NOTE:
        return f"冲销发票 {document.credits_number}" + (f"：{document.reason}" if document.reason else "")
    if document.period_start and document.period_end:
        return f"账期 {document.period_start.isoformat()} 至 {document.period_end.isoformat()}"
    return ""


def export_document(
    document: Document, *, tax_codes: Mapping[str, str], default_tax_code: str, seal: str
) -> EfapiaoDocument:
    red = document.kind == DocumentKind.CREDIT_NOTE
    lines = [
        _line(line, red=red, tax_code=tax_codes.get(line.product_code, default_tax_code)) for line in document.lines
    ]
    return EfapiaoDocument(
        format=FORMAT,
        version=VERSION,
        document_type="red" if red else "blue",
        id=document.id,
        number=document.number,
        issue_date=document.issue_date,
        currency=document.currency,
        seller=_party(document.seller),
        buyer=_party(document.buyer),
        lines=lines,
        totals=TotalsOut(
            amount_excl_tax=_yuan(document.net_minor),
            tax_amount=_yuan(document.tax_minor),
            amount_incl_tax=_yuan(document.total_minor),
        ),
        remarks=_remarks(document),
        credits=CreditedOut(number=document.credits_number) if document.credits_number else None,
        lines_hash=lines_hash(document.lines).hex(),
        seal=seal,
    )
