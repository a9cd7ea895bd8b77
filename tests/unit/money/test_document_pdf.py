"""The PDF renderer takes nothing from outside: text from customers is text, and no URL but `data:` is fetched."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pypdf
from PIL import Image

from core.signing import KeyRing, generate_key
from money.documents import pdf
from money.documents.records import Document, DocumentKind, Line, Party
from money.documents.seal import seal_document


def _document(buyer: str) -> Document:
    line = Line(
        position=1,
        reference="DO-300107-7KX3M9",
        document_number="R-1",
        product_code="diesel-0",
        product_name="0号柴油",
        delivered_at=datetime(2030, 1, 7, 3, tzinfo=UTC),
        observed_litres=5040,
        temperature_c=24.0,
        net_litres=5000,
        net_kg=4175,
        unit_price_minor=800,
        discount_minor=0,
        tax_rate_bps=1300,
        net_minor=3_539_823,
        tax_minor=460_177,
        amount_minor=4_000_000,
    )
    return Document(
        kind=DocumentKind.INVOICE,
        id=uuid.uuid4(),
        number="INV-2030-000001",
        customer_id=uuid.uuid4(),
        issue_date=date(2030, 1, 31),
        due_date=date(2030, 3, 2),
        period_start=date(2030, 1, 1),
        period_end=date(2030, 1, 31),
        seller=Party(name="Diesel Direct", tax_id="91310000SELLER0001"),
        buyer=Party(name=buyer, tax_id="91310000BUYER00001"),
        currency="CNY",
        lines=(line,),
        net_minor=line.net_minor,
        tax_minor=line.tax_minor,
        total_minor=line.amount_minor,
        status="issued",
    )


def _images(body: bytes) -> int:
    return sum(len(page.images) for page in pypdf.PdfReader(io.BytesIO(body)).pages)


def test_markup_in_a_customer_name_is_printed_as_text(tmp_path: Path) -> None:
    picture = tmp_path / "secret.png"
    Image.new("RGB", (40, 40), "red").save(picture)
    name = f'<img src="file://{picture}"> Evil Logistics'
    body = pdf.document_pdf(
        _document(name), seal=seal_document(_document(name), KeyRing((generate_key(),))), standard_temperature_c=15
    )
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(body)).pages)
    assert '<img src="file://' in text and "Evil Logistics" in text


def test_only_data_urls_are_fetched(tmp_path: Path) -> None:
    picture = tmp_path / "secret.png"
    Image.new("RGB", (40, 40), "red").save(picture)
    qr = pdf.qr_data_uri("HELLO")
    html = f'<html><body><img src="{qr}"><img src="file://{picture}"></body></html>'
    # The QR code (a data: URL) is drawn (vector SVG, not an image); the local file is not fetched at all.
    assert _images(pdf._write_pdf(html)) == 0
    control = f'<html><body><img src="data:image/png;base64,{_b64(picture)}"></body></html>'
    assert _images(pdf._write_pdf(control)) == 1  # the same picture as data: is embedded, so the count works


def _b64(path: Path) -> str:
    import base64

    return base64.b64encode(path.read_bytes()).decode()
