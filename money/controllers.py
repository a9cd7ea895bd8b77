"""HTTP handlers of money: balances and ledgers, invoice runs, invoices and credit notes, payments, bank statements.

Admin and finance write; a customer reads its own (another account's ids answer 404); dispatchers, drivers and
rack operators see nothing of money.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi import ResponseSpec
from litestar.params import Body, FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED
from sqlalchemy.ext.asyncio import AsyncSession

from core import idempotency
from core.audit import record_audit
from core.auth import Principal, Role, roles_guard
from core.db import after_commit
from core.errors import InvalidInput, NotFound
from core.hours import zone
from core.ids import new_id
from core.schemas import MAX_OFFSET, MAX_PAGE_SIZE, Page
from core.settings import Settings
from money import balances, bank, credit_notes, invoicing, ledger, payments, runs
from money import schemas as s
from money.models import BankStatementLine, CreditNote, Invoice, InvoiceRun, Payment, PaymentAllocation
from money.parties import payment_code
from money.periods import BillingPeriod

FINANCE = roles_guard(Role.ADMIN, Role.FINANCE)
MONEY_READERS = roles_guard(Role.ADMIN, Role.FINANCE, Role.CUSTOMER)
CUSTOMER = roles_guard(Role.CUSTOMER)
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="items per page")]
Offset = Annotated[
    int, QueryParameter(ge=0, le=MAX_OFFSET, description="items to skip (narrow the filters to go deeper)")
]
SinceDay = Annotated[date | None, QueryParameter(name="from", description="on or after this day (YYYY-MM-DD)")]
UntilDay = Annotated[date | None, QueryParameter(name="to", description="on or before this day (YYYY-MM-DD)")]
Since = Annotated[datetime | None, QueryParameter(name="from", description="at or after (ISO 8601, with offset)")]
Until = Annotated[datetime | None, QueryParameter(name="to", description="before (ISO 8601, with offset)")]
Db = NamedDependency[AsyncSession]
Now = NamedDependency[datetime]
Conf = NamedDependency[Settings]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        max_length=255,
        description="Client-chosen key: a retry with the same key and body returns the first answer (200).",
    ),
]
Req = Request[Principal, Any, Any]


def _own(viewer: Principal, customer_id: uuid.UUID) -> uuid.UUID:
    """A customer reads only its own account: another's id is unknown to it."""
    if viewer.role == Role.CUSTOMER and viewer.customer_id != customer_id:
        raise NotFound("no such customer", code="customer_not_found")
    return customer_id


def _check_range[T: (date, datetime)](since: T | None, until: T | None) -> None:
    if since is not None and until is not None and until < since:
        raise InvalidInput("`to` is before `from`", code="invalid_range", field="to")


def _digest(body: Any, *, path: uuid.UUID) -> str:
    """The request's fingerprint for its idempotency key: the body and the resource in the path."""
    return hashlib.sha256(f"{path}:{idempotency.request_hash(body)}".encode()).hexdigest()


def _replayed[T](body: T, created: bool) -> Response[T]:
    return Response(body, status_code=HTTP_201_CREATED if created else HTTP_200_OK)


# --- output ------------------------------------------------------------------------------------------------


def balance_out(balance: balances.Balance) -> s.BalanceOut:
    account = balance.account
    return s.BalanceOut(
        customer_id=account.customer_id,
        credit_limit_minor=account.credit_limit_minor,
        prepaid_minor=balance.prepaid_minor,
        open_orders_minor=account.open_orders_minor,
        uninvoiced_minor=balance.uninvoiced_minor,
        unpaid_invoices_minor=balance.unpaid_invoices_minor,
        available_minor=balance.available_minor,
        balance_minor=balance.balance_minor,
        currency=account.currency,
        kind=account.kind,
        billing_period=account.billing_period,
        payment_terms_days=account.payment_terms_days,
        payment_code=payment_code(account.customer_id),
    )


def ledger_out(line: balances.LedgerLine) -> s.LedgerEntryOut:
    e = line.entry
    return s.LedgerEntryOut(
        id=e.id,
        at=e.at,
        kind=e.kind,
        amount_minor=e.amount_minor,
        balance_minor=e.balance_minor,
        currency=e.currency,
        order_id=e.order_id,
        pickup_id=e.pickup_id,
        invoice_id=e.invoice_id,
        payment_id=e.payment_id,
        credit_note_id=e.credit_note_id,
        actor_id=e.actor_id,
        actor=line.actor,
        note=e.note,
    )


def run_out(run: InvoiceRun) -> s.InvoiceRunOut:
    return s.InvoiceRunOut(
        id=run.id,
        period_end=run.period_end,
        customer_id=run.customer_id,
        status=run.status,
        customers_total=run.customers_total,
        customers_done=run.customers_done,
        invoices_issued=run.invoices_issued,
        error=run.error,
        created_by=run.created_by,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


def invoice_out(
    invoice: Invoice,
    *,
    lines: list[invoicing.LineView] | None = None,
    notes: list[CreditNote] | None = None,
) -> s.InvoiceOut:
    return s.InvoiceOut(
        id=invoice.id,
        number=invoice.number,
        customer_id=invoice.customer_id,
        run_id=invoice.run_id,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        status=invoice.status,
        buyer_name=invoice.buyer_name,
        buyer_tax_id=invoice.buyer_tax_id,
        net_minor=invoice.net_minor,
        tax_minor=invoice.tax_minor,
        total_minor=invoice.total_minor,
        paid_minor=invoice.paid_minor,
        credited_minor=invoice.credited_minor,
        outstanding_minor=invoicing.outstanding_minor(invoice),
        currency=invoice.currency,
        issued_at=invoice.issued_at,
        lines=None if lines is None else [_line_out(v) for v in lines],
        credit_notes=None
        if notes is None
        else [
            s.CreditNoteRef(id=n.id, number=n.number, issue_date=n.issue_date, total_minor=n.total_minor) for n in notes
        ],
    )


def _line_out(view: invoicing.LineView) -> s.InvoiceLineOut:
    line, charge = view.line, view.charge
    return s.InvoiceLineOut(
        id=line.id,
        position=line.position,
        charge_id=charge.id,
        order_id=charge.order_id,
        pickup_id=charge.pickup_id,
        reference=charge.reference,
        document_number=charge.document_number,
        at=charge.at,
        product_code=charge.product_code,
        product_name=charge.product_name,
        observed_litres=charge.observed_litres,
        temperature_c=charge.temperature_c,
        net_litres=charge.net_litres,
        unit_price_minor=charge.unit_price_minor,
        gross_minor=charge.gross_minor,
        discount_minor=charge.discount_minor,
        tax_rate_bps=charge.tax_rate_bps,
        net_minor=line.net_minor,
        tax_minor=line.tax_minor,
        amount_minor=line.amount_minor,
        credited_minor=view.credited_minor,
    )


async def credit_note_out(session: AsyncSession, note: CreditNote) -> s.CreditNoteOut:
    lines = await credit_notes.credit_note_lines(session, note.id)
    return s.CreditNoteOut(
        id=note.id,
        number=note.number,
        invoice_id=note.invoice_id,
        invoice_number=await credit_notes.invoice_number(session, note.invoice_id),
        customer_id=note.customer_id,
        reason=note.reason,
        issue_date=note.issue_date,
        net_minor=note.net_minor,
        tax_minor=note.tax_minor,
        total_minor=note.total_minor,
        currency=note.currency,
        issued_by=note.issued_by,
        issued_at=note.issued_at,
        lines=[
            s.CreditNoteLineOut(
                id=x.id,
                invoice_line_id=x.invoice_line_id,
                net_minor=x.net_minor,
                tax_minor=x.tax_minor,
                amount_minor=x.amount_minor,
            )
            for x in lines
        ],
    )


async def payment_out(session: AsyncSession, payment: Payment) -> s.PaymentOut:
    return (await payments_out(session, [payment]))[0]


async def payments_out(session: AsyncSession, rows: Sequence[Payment]) -> list[s.PaymentOut]:
    allocations = await payments.allocations_of(session, [p.id for p in rows])
    return [_payment_out(p, allocations[p.id]) for p in rows]


def _payment_out(payment: Payment, allocations: list[tuple[PaymentAllocation, str]]) -> s.PaymentOut:
    return s.PaymentOut(
        id=payment.id,
        customer_id=payment.customer_id,
        amount_minor=payment.amount_minor,
        allocated_minor=payment.allocated_minor,
        unallocated_minor=payment.amount_minor - payment.allocated_minor,
        currency=payment.currency,
        received_on=payment.received_on,
        method=payment.method,
        reference=payment.reference,
        bank_line_id=payment.bank_line_id,
        recorded_by=payment.recorded_by,
        recorded_at=payment.recorded_at,
        allocations=[
            s.AllocationOut(
                id=a.id,
                invoice_id=a.invoice_id,
                invoice_number=number,
                amount_minor=a.amount_minor,
                allocated_at=a.allocated_at,
            )
            for a, number in allocations
        ],
    )


def bank_line_out(row: BankStatementLine, line_number: int | None = None) -> s.BankLineOut:
    return s.BankLineOut(
        id=row.id,
        line_number=line_number,
        booked_on=row.booked_on,
        amount_minor=row.amount_minor,
        currency=row.currency,
        reference=row.reference,
        payer_name=row.payer_name,
        payer_account=row.payer_account,
        status=row.status,
        customer_id=row.customer_id,
        payment_id=row.payment_id,
        match_rule=row.match_rule,
        import_id=row.import_id,
        imported_at=row.imported_at,
    )


# --- handlers ----------------------------------------------------------------------------------------------


class BalancesController(Controller):
    tags = ["money"]

    @get("/customers/{customer_id:uuid}/balance", guards=[MONEY_READERS], summary="A customer's balance and credit")
    async def customer_balance(self, customer_id: FromPath[uuid.UUID], request: Req, db_session: Db) -> s.BalanceOut:
        """uninvoiced + unpaid - prepaid = the ledger's balance; available = limit + prepaid - open orders -
        uninvoiced - unpaid."""
        return balance_out(await balances.balance_of(db_session, _own(request.user, customer_id)))

    @get("/me/balance", guards=[CUSTOMER], summary="The logged-in customer's balance and credit")
    async def my_balance(self, request: Req, db_session: Db) -> s.BalanceOut:
        assert request.user.customer_id is not None
        return balance_out(await balances.balance_of(db_session, request.user.customer_id))

    @get("/customers/{customer_id:uuid}/ledger", guards=[MONEY_READERS], summary="A customer's ledger, oldest first")
    async def customer_ledger(
        self,
        customer_id: FromPath[uuid.UUID],
        request: Req,
        db_session: Db,
        since: Since = None,
        until: Until = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[s.LedgerEntryOut]:
        _check_range(since, until)
        rows, total = await balances.ledger_page(
            db_session,
            customer_id=_own(request.user, customer_id),
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
        return Page(items=[ledger_out(x) for x in rows], total=total, limit=limit, offset=offset)

    @patch("/customers/{customer_id:uuid}/billing", guards=[FINANCE], summary="Billing period and payment terms")
    async def set_billing(
        self, customer_id: FromPath[uuid.UUID], data: JSONBody[s.BillingIn], request: Req, db_session: Db, now: Now
    ) -> s.BalanceOut:
        account = await ledger.get_account(db_session, customer_id, lock=True)
        before = {"billing_period": account.billing_period, "payment_terms_days": account.payment_terms_days}
        if data.billing_period is not None:
            account.billing_period = str(BillingPeriod(data.billing_period))
        if data.payment_terms_days is not None:
            account.payment_terms_days = data.payment_terms_days
        after = {"billing_period": account.billing_period, "payment_terms_days": account.payment_terms_days}
        if after != before:
            account.updated_at = now
            record_audit(
                db_session,
                actor=request.user,
                subject_type="customer",
                subject_id=customer_id,
                customer_id=customer_id,
                action="billing_changed",
                at=now,
                before=before,
                after=after,
            )
        await db_session.flush()
        return balance_out(await balances.balance_of(db_session, customer_id))


class InvoicesController(Controller):
    tags = ["money"]

    @post(
        "/invoice-runs",
        guards=[FINANCE],
        status_code=HTTP_202_ACCEPTED,
        summary="Invoice every uninvoiced charge of complete billing periods up to a day (on the worker)",
        description="One invoice per account and billing period (per delivery, weekly Monday to Sunday, or the "
        "calendar month); a period is invoiced once it is complete on `period_end`. Running the same period again "
        "issues nothing twice. Follow the run at `GET /invoice-runs/{id}`.",
    )
    async def request_run(
        self, data: JSONBody[s.InvoiceRunIn], request: Req, db_session: Db, now: Now, settings: Conf
    ) -> s.InvoiceRunOut:
        run = await runs.request_run(
            db_session,
            period_end=data.period_end,
            customer_id=data.customer_id,
            actor=request.user,
            now=now,
            tz=zone(settings.default_timezone),
        )
        run_id = str(run.id)

        def enqueue() -> None:
            from money.tasks import invoice_run

            try:
                invoice_run.delay(run_id)
            except Exception:  # the broker is down: the run row is the outbox, the reaper sends it later
                import logging

                logging.getLogger("diesel.money").warning("could not enqueue invoice run %s yet", run_id)

        after_commit(db_session, enqueue)
        return run_out(run)

    @get("/invoice-runs", guards=[FINANCE], summary="Invoice runs, newest first")
    async def list_runs(self, db_session: Db, limit: Limit = 50, offset: Offset = 0) -> Page[s.InvoiceRunOut]:
        rows, total = await runs.list_runs(db_session, limit=limit, offset=offset)
        return Page(items=[run_out(r) for r in rows], total=total, limit=limit, offset=offset)

    @get("/invoice-runs/{run_id:uuid}", guards=[FINANCE], summary="An invoice run with its progress")
    async def get_run(self, run_id: FromPath[uuid.UUID], db_session: Db) -> s.InvoiceRunOut:
        return run_out(await runs.get_run(db_session, run_id))

    @get("/invoices", guards=[MONEY_READERS], summary="Invoices, newest first (a customer sees its own)")
    async def list_invoices(
        self,
        request: Req,
        db_session: Db,
        customer_id: FromQuery[uuid.UUID | None] = None,
        status: FromQuery[str | None] = None,
        since: SinceDay = None,
        until: UntilDay = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[s.InvoiceOut]:
        _check_range(since, until)
        rows, total = await invoicing.list_invoices(
            db_session,
            viewer=request.user,
            customer_id=customer_id,
            status=status,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
        return Page(items=[invoice_out(i) for i in rows], total=total, limit=limit, offset=offset)

    @get("/invoices/{invoice_id:uuid}", guards=[MONEY_READERS], summary="An invoice with its lines")
    async def get_invoice(self, invoice_id: FromPath[uuid.UUID], request: Req, db_session: Db) -> s.InvoiceOut:
        invoice = await invoicing.get_invoice(db_session, invoice_id, viewer=request.user)
        lines = await invoicing.invoice_lines(db_session, invoice.id)
        notes = list(await invoicing.credit_notes_of(db_session, invoice.id))
        return invoice_out(invoice, lines=lines, notes=notes)

    @post(
        "/invoices/{invoice_id:uuid}/credit-notes",
        guards=[FINANCE],
        summary="Credit an invoice, whole or by line",
        description="Without `lines`, what is left uncredited of the whole invoice. A line is never credited "
        "beyond its amount (409 `exceeds_uncredited`). Honours `Idempotency-Key`.",
        responses={200: ResponseSpec(data_container=s.CreditNoteOut, description="a retry: the first credit note")},
    )
    async def credit(
        self,
        invoice_id: FromPath[uuid.UUID],
        data: JSONBody[s.CreditNoteIn],
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[s.CreditNoteOut]:
        note_id = new_id()
        if (key := idempotency.check_key(idempotency_key)) is not None:
            first = await idempotency.claim_for(
                db_session,
                scope=f"credit_notes:{request.user.id}",
                key=key,
                digest=_digest(data, path=invoice_id),
                resource_id=note_id,
            )
            if first is not None:
                note = await credit_notes.get_credit_note(db_session, first, viewer=request.user)
                return _replayed(await credit_note_out(db_session, note), False)
        note = await credit_notes.issue_credit_note(
            db_session,
            invoice_id=invoice_id,
            reason=data.reason,
            requests=None
            if data.lines is None
            else [credit_notes.CreditRequest(x.invoice_line_id, x.amount_minor) for x in data.lines],
            actor=request.user,
            now=now,
            tz=zone(settings.default_timezone),
            credit_note_id=note_id,
        )
        return _replayed(await credit_note_out(db_session, note), True)

    @get("/credit-notes/{credit_note_id:uuid}", guards=[MONEY_READERS], summary="A credit note with its lines")
    async def get_credit_note(
        self, credit_note_id: FromPath[uuid.UUID], request: Req, db_session: Db
    ) -> s.CreditNoteOut:
        note = await credit_notes.get_credit_note(db_session, credit_note_id, viewer=request.user)
        return await credit_note_out(db_session, note)


@dataclass
class StatementUpload:
    file: UploadFile


class PaymentsController(Controller):
    tags = ["money"]

    @post(
        "/payments",
        guards=[FINANCE],
        summary="Record a payment (or a prepaid top-up)",
        description="Allocated to the customer's open invoices oldest first (issue date, then number) unless "
        "`allocate` is false. Send an `Idempotency-Key`: a retry with the same key and body returns the first "
        "payment (200); the same key with another body is refused (409 `idempotency_key_reused`).",
        responses={200: ResponseSpec(data_container=s.PaymentOut, description="a retry: the first payment")},
    )
    async def record_payment(
        self,
        data: JSONBody[s.PaymentIn],
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[s.PaymentOut]:
        payment, created = await payments.record_payment(
            db_session,
            data=payments.NewPayment(
                customer_id=data.customer_id,
                amount_minor=data.amount_minor,
                received_on=data.received_on,
                method=data.method,
                reference=data.reference,
                allocate=data.allocate,
            ),
            actor=request.user,
            now=now,
            tz=zone(settings.default_timezone),
            idempotency_key=idempotency.check_key(idempotency_key),
            digest=idempotency.request_hash(data),
        )
        return _replayed(await payment_out(db_session, payment), created)

    @get("/payments", guards=[MONEY_READERS], summary="Payments, newest first (a customer sees its own)")
    async def list_payments(
        self,
        request: Req,
        db_session: Db,
        customer_id: FromQuery[uuid.UUID | None] = None,
        since: SinceDay = None,
        until: UntilDay = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[s.PaymentOut]:
        _check_range(since, until)
        rows, total = await payments.list_payments(
            db_session,
            viewer=request.user,
            customer_id=customer_id,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
        return Page(items=await payments_out(db_session, rows), total=total, limit=limit, offset=offset)

    @get("/payments/{payment_id:uuid}", guards=[MONEY_READERS], summary="A payment with its allocations")
    async def get_payment(self, payment_id: FromPath[uuid.UUID], request: Req, db_session: Db) -> s.PaymentOut:
        return await payment_out(db_session, await payments.get_payment(db_session, payment_id, viewer=request.user))

    @post(
        "/payments/{payment_id:uuid}/allocate",
        guards=[FINANCE],
        summary="Allocate part of a payment to an invoice",
        description="Never more than the payment has left (409 `exceeds_payment_remainder`) or the invoice has "
        "open (409 `exceeds_invoice_outstanding`). Honours `Idempotency-Key`.",
        status_code=HTTP_200_OK,
    )
    async def allocate(
        self,
        payment_id: FromPath[uuid.UUID],
        data: JSONBody[s.AllocateIn],
        request: Req,
        db_session: Db,
        now: Now,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[s.PaymentOut]:
        payment, created = await payments.allocate(
            db_session,
            payment_id=payment_id,
            invoice_id=data.invoice_id,
            amount_minor=data.amount_minor,
            actor=request.user,
            now=now,
            idempotency_key=idempotency.check_key(idempotency_key),
            digest=_digest(data, path=payment_id),
        )
        del created  # the payment as it now is, whether this request or its first try allocated
        return Response(await payment_out(db_session, payment), status_code=HTTP_200_OK)

    @post(
        "/payments/import",
        guards=[FINANCE],
        status_code=HTTP_200_OK,
        summary="Import a bank statement (CSV) and match its receipts to customers",
        description="A multipart upload with the CSV in the field `file` (columns, Chinese bank headers and "
        "matching rules: money/statement.py and money/bank.py, summarised in README.md). Matched lines become "
        "payments; the others wait at `GET /payments/unmatched`. A line imported before is skipped "
        "(`already_imported`). A file that cannot be read is refused whole: 422 `invalid_csv` with the line.",
    )
    async def import_statement(
        self,
        data: Annotated[StatementUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
    ) -> s.ImportOut:
        if not isinstance(data.file, UploadFile):
            raise InvalidInput("send the statement as the multipart field `file`", code="file_required", field="file")
        raw = await data.file.read()
        result = await bank.import_statement(
            db_session, raw=raw, actor=request.user, now=now, currency=settings.rules.currency
        )
        return s.ImportOut(
            import_id=result.import_id,
            matched=[bank_line_out(x.row, x.line_number) for x in result.matched],
            unmatched=[bank_line_out(x.row, x.line_number) for x in result.unmatched],
            skipped=[s.SkippedLineOut(line_number=n, reason=r) for n, r in result.skipped],
        )

    @get("/payments/unmatched", guards=[FINANCE], summary="Bank statement lines waiting for finance")
    async def unmatched(
        self, db_session: Db, status: FromQuery[str] = "unmatched", limit: Limit = 50, offset: Offset = 0
    ) -> Page[s.BankLineOut]:
        rows, total = await bank.list_lines(db_session, status=status, limit=limit, offset=offset)
        return Page(items=[bank_line_out(r) for r in rows], total=total, limit=limit, offset=offset)

    @post(
        "/payments/unmatched/{line_id:uuid}/assign",
        guards=[FINANCE],
        status_code=HTTP_200_OK,
        summary="Say whose money a bank statement line is: it becomes that customer's payment",
    )
    async def assign(
        self, line_id: FromPath[uuid.UUID], data: JSONBody[s.AssignIn], request: Req, db_session: Db, now: Now
    ) -> s.BankLineOut:
        row = await bank.assign_line(
            db_session,
            line_id=line_id,
            customer_id=data.customer_id,
            allocate=data.allocate,
            actor=request.user,
            now=now,
        )
        return bank_line_out(row)

    @post(
        "/payments/unmatched/{line_id:uuid}/ignore",
        guards=[FINANCE],
        status_code=HTTP_200_OK,
        summary="Set aside a bank statement line that is no customer's payment",
    )
    async def ignore(
        self, line_id: FromPath[uuid.UUID], data: JSONBody[s.IgnoreIn], request: Req, db_session: Db, now: Now
    ) -> s.BankLineOut:
        row = await bank.ignore_line(db_session, line_id=line_id, reason=data.reason, actor=request.user, now=now)
        return bank_line_out(row)
