"""PDFs of invoices, credit notes and statements: HTML templates (Jinja2, autoescaped) rendered by WeasyPrint.

Chinese text is set in Noto Sans CJK (Debian's fonts-noto-cjk, found through fontconfig) and WeasyPrint embeds
the subset of glyphs used, so the PDF reads the same on a machine without the font. Rendering is CPU work of
tens of milliseconds to seconds: callers on the event loop run it in a thread (`money.documents.work`).

The renderer fetches nothing: only `data:` URLs resolve (the QR code), so a customer name such as
`<img src="file:///etc/passwd">` is text (autoescaping) and could not be fetched anyway.
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import segno

from money.documents import figures
from money.documents.records import Document, DocumentKind, Party
from money.documents.statements import Statement, printed_movements

TEMPLATES = Path(__file__).resolve().parent / "templates"
QR_ERROR = "q"  # 25 % of the code may be lost to a fold, a stamp or a coffee ring


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(yuan=figures.yuan, litres=figures.litres, rate=figures.rate, words=figures.amount_in_words)
    return env


def qr_data_uri(token: str) -> str:
    """The seal as an SVG QR code (alphanumeric mode: Base45 text packs 5.5 bits a character)."""
    qr = segno.make_qr(token, error=QR_ERROR, mode="alphanumeric", boost_error=False)
    uri: str = qr.svg_data_uri(scale=4, border=4)
    return uri


def _write_pdf(html: str) -> bytes:
    import weasyprint  # imported on first use: it loads Pango, which a process that prints nothing never needs

    fetcher = weasyprint.URLFetcher(allowed_protocols={"data"}, allow_redirects=False)
    pdf: bytes = weasyprint.HTML(string=html, base_url=str(TEMPLATES), url_fetcher=fetcher).write_pdf()
    return pdf


def document_html(document: Document, *, seal: str, standard_temperature_c: int) -> str:
    title = ("发票", "Invoice") if document.kind == DocumentKind.INVOICE else ("红字发票", "Credit note")
    return (
        _environment()
        .get_template("document.html")
        .render(
            doc=document,
            title=title,
            is_credit_note=document.kind == DocumentKind.CREDIT_NOTE,
            qr=qr_data_uri(seal),
            standard_temperature_c=standard_temperature_c,
        )
    )


def document_pdf(document: Document, *, seal: str, standard_temperature_c: int) -> bytes:
    return _write_pdf(document_html(document, seal=seal, standard_temperature_c=standard_temperature_c))


def statement_html(statement: Statement, *, seller: Party, generated_at: datetime) -> str:
    local = generated_at.astimezone(ZoneInfo(statement.timezone))
    rows = printed_movements(statement.movements)
    return (
        _environment()
        .get_template("statement.html")
        .render(
            st=statement,
            seller=seller,
            generated=local.strftime("%Y-%m-%d %H:%M"),
            kinds=figures.KIND_LABELS,
            rows=rows,
            summed=len(rows) < len(statement.movements),
        )
    )


def statement_pdf(statement: Statement, *, seller: Party, generated_at: datetime) -> bytes:
    return _write_pdf(statement_html(statement, seller=seller, generated_at=generated_at))
