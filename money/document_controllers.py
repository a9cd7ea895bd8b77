"""HTTP handlers of money's documents: invoice and credit note PDFs, the seal check, the e-fapiao export,
statements and the XLSX exports. (The workflows that write money have their own controllers.)

`/invoices/{id}.pdf`-style addresses reach the `/pdf` routes here (see api.paths): Litestar's path parameters
fill whole segments, and `/invoices/{id}` belongs to a uuid parameter already.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, roles_guard
from core.schemas import MAX_OFFSET
from core.settings import Settings
from core.signing import KeyRing
from money.documents import efapiao, listing, pdf, records, sheets
from money.documents import schemas as s
from money.documents.seal import seal_document, seal_of, verify_seal
from money.documents.statements import Statement, build_statement
from money.documents.work import off_the_loop

Db = NamedDependency[AsyncSession]
Now = NamedDependency[datetime]
Conf = NamedDependency[Settings]
Keys = NamedDependency[KeyRing]
Req = Request[Principal, Any, Any]
READERS = roles_guard(*records.MONEY_READERS)
DateFrom = Annotated[
    date | None, QueryParameter(name="from", description="first day (YYYY-MM-DD), included; the 1st of this month")
]
DateTo = Annotated[date | None, QueryParameter(name="to", description="last day (YYYY-MM-DD), included; today")]
CustomerFilter = Annotated[uuid.UUID | None, QueryParameter(description="one customer only")]
# Documents, not list items: one can carry thousands of lines, so pages are smaller than the lists' 500.
MAX_DOCUMENTS_PER_PAGE = 100
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_DOCUMENTS_PER_PAGE, description="documents per page")]
Offset = Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET, description="documents to skip")]
PDF = "application/pdf"
CSV = "text/csv; charset=utf-8"


def _file(body: bytes, media_type: str, filename: str) -> Response[bytes]:
    """A document to show (PDF) or to save (CSV, XLSX), never kept by a shared cache."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    disposition = "inline" if media_type == PDF else "attachment"
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'{disposition}; filename="{safe}"', "Cache-Control": "private, no-store"},
    )


def _customer_scope(viewer: Principal, customer_id: uuid.UUID | None) -> uuid.UUID | None:
    """Finance sees every customer (or the one asked for); a customer always its own, whatever it asks for (as
    every list does)."""
    return customer_id if records.sees_all_money(viewer) else viewer.customer_id


def _range(date_from: date | None, date_to: date | None, *, now: datetime, settings: Settings) -> tuple[date, date]:
    """The days asked for: `to` is today by default (in the deployment's time zone), `from` the 1st of its month."""
    end = date_to or now.astimezone(ZoneInfo(settings.default_timezone)).date()
    start = date_from or end.replace(day=1)
    listing.check_range(start, end)
    return start, end


def _tax_codes(settings: Settings) -> dict[str, str]:
    return dict(settings.documents.tax_codes)


class DocumentsController(Controller):
    tags = ["money documents"]

    @get(
        "/invoices/{invoice_id:uuid}/pdf",
        guards=[READERS],
        media_type=PDF,
        summary="The invoice as PDF, Chinese and English, with a signed QR seal (also at /invoices/{id}.pdf)",
    )
    async def invoice_pdf(
        self, invoice_id: FromPath[uuid.UUID], request: Req, db_session: Db, settings: Conf, signing_keys: Keys
    ) -> Response[bytes]:
        document = await records.load_invoice(
            db_session, invoice_id, viewer=request.user, seller=records.seller_of(settings.documents)
        )
        body = await off_the_loop(
            pdf.document_pdf,
            document,
            seal=seal_document(document, signing_keys),
            standard_temperature_c=settings.standard_temperature_c,
        )
        return _file(body, PDF, f"{document.number}.pdf")

    @get(
        "/credit-notes/{credit_note_id:uuid}/pdf",
        guards=[READERS],
        media_type=PDF,
        summary="The credit note as PDF with a signed QR seal (also at /credit-notes/{id}.pdf)",
    )
    async def credit_note_pdf(
        self, credit_note_id: FromPath[uuid.UUID], request: Req, db_session: Db, settings: Conf, signing_keys: Keys
    ) -> Response[bytes]:
        document = await records.load_credit_note(
            db_session, credit_note_id, viewer=request.user, seller=records.seller_of(settings.documents)
        )
        body = await off_the_loop(
            pdf.document_pdf,
            document,
            seal=seal_document(document, signing_keys),
            standard_temperature_c=settings.standard_temperature_c,
        )
        return _file(body, PDF, f"{document.number}.pdf")

    @post(
        "/invoices/verify",
        exclude_from_auth=True,
        security=[],
        status_code=HTTP_200_OK,
        summary="Is this invoice seal (the QR code's text) genuine, and what does it certify? (no login)",
    )
    async def verify(
        self, data: JSONBody[s.SealIn], db_session: Db, settings: Conf, signing_keys: Keys
    ) -> s.SealVerification:
        check = verify_seal(data.token, public_keys=signing_keys)
        if not check.genuine or check.seal is None:
            # Nothing is looked up for a seal we did not sign: no probing the records with made-up numbers.
            return s.verification_out(check, on_record=None, status=None)
        record = await records.document_by_number(
            db_session, check.seal.number, seller=records.seller_of(settings.documents)
        )
        if record is None:
            return s.verification_out(check, on_record=False, status=None)
        # The seller's tax id is vouched for by the signature itself; the rest must match the records.
        on_file = msgspec.structs.replace(seal_of(record), seller_tax_id=check.seal.seller_tax_id)
        return s.verification_out(check, on_record=on_file == check.seal, status=record.status)

    @get(
        "/invoices/{invoice_id:uuid}/efapiao.json",
        guards=[READERS],
        summary="The invoice for an e-fapiao platform (docs/EFAPIAO.md)",
    )
    async def invoice_efapiao(
        self, invoice_id: FromPath[uuid.UUID], request: Req, db_session: Db, settings: Conf, signing_keys: Keys
    ) -> efapiao.EfapiaoDocument:
        document = await records.load_invoice(
            db_session, invoice_id, viewer=request.user, seller=records.seller_of(settings.documents)
        )
        return efapiao.export_document(
            document,
            tax_codes=_tax_codes(settings),
            default_tax_code=settings.documents.default_tax_code,
            seal=seal_document(document, signing_keys),
        )

    @get(
        "/invoices/efapiao.json",
        guards=[READERS],
        summary="Invoices and credit notes issued in a date range, for an e-fapiao platform (paged)",
    )
    async def efapiao_between(
        self,
        request: Req,
        db_session: Db,
        settings: Conf,
        signing_keys: Keys,
        now: Now,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        customer_id: CustomerFilter = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> efapiao.EfapiaoPage:
        date_from, date_to = _range(date_from, date_to, now=now, settings=settings)
        documents, total = await listing.documents_between(
            db_session,
            date_from=date_from,
            date_to=date_to,
            customer_id=_customer_scope(request.user, customer_id),
            limit=limit,
            offset=offset,
            seller=records.seller_of(settings.documents),
        )
        tax_codes = _tax_codes(settings)
        return efapiao.EfapiaoPage(
            format=efapiao.FORMAT,
            version=efapiao.VERSION,
            date_from=date_from,
            date_to=date_to,
            total=total,
            limit=limit,
            offset=offset,
            documents=[
                efapiao.export_document(
                    document,
                    tax_codes=tax_codes,
                    default_tax_code=settings.documents.default_tax_code,
                    seal=seal_document(document, signing_keys),
                )
                for document in documents
            ],
        )

    @get(
        "/invoices.xlsx",
        guards=[READERS],
        media_type=sheets.XLSX_MEDIA_TYPE,
        summary="Invoices issued in a date range as a spreadsheet",
    )
    async def invoices_xlsx(
        self,
        request: Req,
        db_session: Db,
        settings: Conf,
        now: Now,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        customer_id: CustomerFilter = None,
    ) -> Response[bytes]:
        date_from, date_to = _range(date_from, date_to, now=now, settings=settings)
        invoices = await listing.invoices_between(
            db_session,
            date_from=date_from,
            date_to=date_to,
            customer_id=_customer_scope(request.user, customer_id),
        )
        body = await off_the_loop(sheets.invoices_xlsx, invoices)
        return _file(body, sheets.XLSX_MEDIA_TYPE, f"invoices-{date_from}-{date_to}.xlsx")

    @get(
        "/payments.xlsx",
        guards=[READERS],
        media_type=sheets.XLSX_MEDIA_TYPE,
        summary="Payments received in a date range as a spreadsheet",
    )
    async def payments_xlsx(
        self,
        request: Req,
        db_session: Db,
        settings: Conf,
        now: Now,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        customer_id: CustomerFilter = None,
    ) -> Response[bytes]:
        date_from, date_to = _range(date_from, date_to, now=now, settings=settings)
        payments = await listing.payments_between(
            db_session,
            date_from=date_from,
            date_to=date_to,
            customer_id=_customer_scope(request.user, customer_id),
        )
        customers = await records.customer_names(db_session, list({p.customer_id for p in payments}))
        body = await off_the_loop(
            sheets.payments_xlsx, payments, customers=customers, timezone=settings.default_timezone
        )
        return _file(body, sheets.XLSX_MEDIA_TYPE, f"payments-{date_from}-{date_to}.xlsx")


async def _statement(
    db_session: AsyncSession, viewer: Principal, customer_id: uuid.UUID, month: str, settings: Settings
) -> Statement:
    customer = await records.customer_for(db_session, customer_id, viewer=viewer)
    return await build_statement(db_session, customer=customer, month=month, timezone=settings.default_timezone)


class StatementsController(Controller):
    tags = ["money documents"]
    path = "/customers/{customer_id:uuid}/statements/{month:str}"

    @get(
        guards=[READERS],
        summary="A month's statement: opening balance, movements, closing balance, ageing (.pdf, .csv, .xlsx too)",
    )
    async def statement(
        self, customer_id: FromPath[uuid.UUID], month: FromPath[str], request: Req, db_session: Db, settings: Conf
    ) -> s.StatementOut:
        return s.statement_out(await _statement(db_session, request.user, customer_id, month, settings))

    @get("/pdf", guards=[READERS], media_type=PDF, summary="The statement as PDF (also at …/{YYYY-MM}.pdf)")
    async def statement_pdf(
        self,
        customer_id: FromPath[uuid.UUID],
        month: FromPath[str],
        request: Req,
        db_session: Db,
        settings: Conf,
        now: Now,
    ) -> Response[bytes]:
        statement = await _statement(db_session, request.user, customer_id, month, settings)
        body = await off_the_loop(
            pdf.statement_pdf, statement, seller=records.seller_of(settings.documents), generated_at=now
        )
        return _file(body, PDF, f"statement-{statement.month.label}.pdf")

    @get("/csv", guards=[READERS], media_type=CSV, summary="The statement as CSV (also at …/{YYYY-MM}.csv)")
    async def statement_csv(
        self, customer_id: FromPath[uuid.UUID], month: FromPath[str], request: Req, db_session: Db, settings: Conf
    ) -> Response[bytes]:
        statement = await _statement(db_session, request.user, customer_id, month, settings)
        return _file(await off_the_loop(sheets.statement_csv, statement), CSV, f"statement-{statement.month.label}.csv")

    @get(
        "/xlsx",
        guards=[READERS],
        media_type=sheets.XLSX_MEDIA_TYPE,
        summary="The statement as a spreadsheet (also at …/{YYYY-MM}.xlsx)",
    )
    async def statement_xlsx(
        self, customer_id: FromPath[uuid.UUID], month: FromPath[str], request: Req, db_session: Db, settings: Conf
    ) -> Response[bytes]:
        statement = await _statement(db_session, request.user, customer_id, month, settings)
        body = await off_the_loop(sheets.statement_xlsx, statement)
        return _file(body, sheets.XLSX_MEDIA_TYPE, f"statement-{statement.month.label}.xlsx")
