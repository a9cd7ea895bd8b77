"""Bank statement import: each receipt of a statement matched to a customer and recorded as a payment, or left in
the unmatched queue for finance to assign or ignore. Importing a file again creates nothing twice (`line_hash`).

A line matches a customer, by the first rule that names exactly one:
1. `invoice_number`: its text names invoice numbers (INV-2030-000123) of one customer, and its amount is at most
   what they still have open; the payment goes to those invoices first;
2. `payment_code`: its text holds a customer's payment code (DD + 8 characters, shown with the balance);
3. `payer_account`: the paying account was matched or assigned to one customer before;
4. `payer_tax_id`: the payer's tax id is a customer's.
A line in another currency than the customer's stays unmatched.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_audit
from core.auth import Principal
from core.errors import InvalidInput, NotFound
from core.ids import new_id
from money import credit, ledger
from money.invoicing import outstanding_minor
from money.models import BankStatementLine, Invoice
from money.parties import customers_with_payment_code, customers_with_tax_id, payment_codes_in
from money.payments import NewPayment, add_payment
from money.statement import StatementError, StatementLine, parse_statement
from money.states import BankLineStatus, bank_line_transition

INVOICE_NUMBER = re.compile(r"(?<![0-9A-Z])INV-\d{4}-\d{6}(?!\d)")
# Imports take turns (they are rare): two imports of one file never both see a line as new, and their account
# locks are never taken in opposite orders. A PostgreSQL advisory lock; SQLite writers take turns anyway.
_IMPORT_LOCK_KEY = 0x6D6F6E6579  # "money"


@dataclass(frozen=True, slots=True)
class Match:
    customer_id: uuid.UUID
    rule: str
    invoices_first: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportedLine:
    row: BankStatementLine
    line_number: int | None


@dataclass(frozen=True, slots=True)
class ImportResult:
    import_id: uuid.UUID
    matched: list[ImportedLine]
    unmatched: list[ImportedLine]
    skipped: list[tuple[int, str]]


async def import_statement(
    session: AsyncSession, *, raw: bytes, actor: Principal, now: datetime, currency: str
) -> ImportResult:
    try:
        statement = parse_statement(raw, currency=currency)
    except StatementError as error:
        raise InvalidInput(
            str(error),
            code="invalid_csv",
            field="file",
            errors=[{"line": str(error.line_number), "message": error.message}],
        ) from None
    if not statement.lines and not statement.skipped:
        raise InvalidInput("the statement has no lines", code="empty_statement", field="file")
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _IMPORT_LOCK_KEY})
    import_id = new_id()
    known = await _known_hashes(session, [line.line_hash for line in statement.lines])
    skipped = [(s.line_number, s.reason) for s in statement.skipped]
    fresh: list[tuple[StatementLine, BankStatementLine]] = []
    for line in statement.lines:
        if line.line_hash in known:
            skipped.append((line.line_number, "already_imported"))
            continue
        fresh.append((line, _new_row(line, import_id=import_id, actor=actor, now=now)))
    session.add_all(row for _, row in fresh)
    await session.flush()
    matches = {row.id: await match_line(session, line) for line, row in fresh}
    # Accounts are locked in id order, as every import takes them.
    by_customer = sorted(
        ((m.customer_id, i) for i, (_, row) in enumerate(fresh) if (m := matches[row.id]) is not None),
    )
    for _, index in by_customer:
        row = fresh[index][1]
        match = matches[row.id]
        assert match is not None
        await _pay_from_line(session, row, match=match, actor=actor, now=now, status=BankLineStatus.MATCHED)
    for customer_id in dict.fromkeys(c for c, _ in by_customer):
        await credit.credit_freed(session, customer_id=customer_id, now=now)
    lines = [ImportedLine(row, line.line_number) for line, row in fresh]
    return ImportResult(
        import_id=import_id,
        matched=[x for x in lines if x.row.status == BankLineStatus.MATCHED],
        unmatched=[x for x in lines if x.row.status == BankLineStatus.UNMATCHED],
        skipped=sorted(skipped),
    )


async def _known_hashes(session: AsyncSession, hashes: Sequence[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(hashes), 500):
        chunk = hashes[start : start + 500]
        known |= set(
            await session.scalars(select(BankStatementLine.line_hash).where(BankStatementLine.line_hash.in_(chunk)))
        )
    return known


def _new_row(line: StatementLine, *, import_id: uuid.UUID, actor: Principal, now: datetime) -> BankStatementLine:
    return BankStatementLine(
        id=new_id(),
        line_hash=line.line_hash,
        import_id=import_id,
        booked_on=line.booked_on,
        amount_minor=line.amount_minor,
        currency=line.currency,
        reference=line.reference,
        payer_name=line.payer_name,
        payer_account=line.payer_account,
        status=str(BankLineStatus.UNMATCHED),
        imported_by=actor.id,
        imported_at=now,
    )


async def match_line(session: AsyncSession, line: StatementLine) -> Match | None:
    match = (
        await _by_invoice_number(session, line)
        or await _one(session, "payment_code", await _by_payment_code(session, line))
        or await _one(session, "payer_account", await _by_payer_account(session, line))
        or await _one(
            session,
            "payer_tax_id",
            await customers_with_tax_id(session, line.payer_tax_id) if line.payer_tax_id else [],
        )
    )
    if match is None:
        return None
    account = await ledger.get_account(session, match.customer_id)
    return match if account.currency == line.currency else None


async def _one(session: AsyncSession, rule: str, customers: Sequence[uuid.UUID]) -> Match | None:
    unique = list(dict.fromkeys(customers))
    return Match(customer_id=unique[0], rule=rule) if len(unique) == 1 else None


async def _by_invoice_number(session: AsyncSession, line: StatementLine) -> Match | None:
    numbers = list(dict.fromkeys(INVOICE_NUMBER.findall((line.reference or "").upper())))
    if not numbers:
        return None
    invoices = {i.number: i for i in await session.scalars(select(Invoice).where(Invoice.number.in_(numbers)))}
    named = [invoices[n] for n in numbers if n in invoices]
    customers = {i.customer_id for i in named}
    if len(customers) != 1 or line.amount_minor > sum(outstanding_minor(i) for i in named):
        return None
    return Match(customer_id=customers.pop(), rule="invoice_number", invoices_first=tuple(i.id for i in named))


async def _by_payment_code(session: AsyncSession, line: StatementLine) -> list[uuid.UUID]:
    found: list[uuid.UUID] = []
    for code in payment_codes_in(line.reference or ""):
        found += await customers_with_payment_code(session, code)
    return found


async def _by_payer_account(session: AsyncSession, line: StatementLine) -> list[uuid.UUID]:
    if not line.payer_account:
        return []
    rows = await session.scalars(
        select(BankStatementLine.customer_id)
        .where(
            BankStatementLine.payer_account == line.payer_account,
            BankStatementLine.customer_id.is_not(None),
            BankStatementLine.status.in_([str(BankLineStatus.MATCHED), str(BankLineStatus.ASSIGNED)]),
        )
        .distinct()
        .limit(2)
    )
    return [c for c in rows if c is not None]


async def _pay_from_line(
    session: AsyncSession,
    row: BankStatementLine,
    *,
    match: Match,
    actor: Principal,
    now: datetime,
    status: BankLineStatus,
    allocate: bool = True,
) -> None:
    account = await ledger.get_account(session, match.customer_id, lock=True)
    if account.currency != row.currency:
        raise InvalidInput(
            f"the line is in {row.currency}, the account in {account.currency}",
            code="currency_mismatch",
            field="customer_id",
        )
    payment = await add_payment(
        session,
        account,
        data=NewPayment(
            customer_id=account.customer_id,
            amount_minor=row.amount_minor,
            received_on=row.booked_on,
            method="bank_transfer",
            reference=(row.reference or "")[:120] or None,
            allocate=allocate,
        ),
        actor=actor,
        now=now,
        bank_line_id=row.id,
        invoices_first=match.invoices_first,
    )
    row.status, row.customer_id, row.payment_id, row.match_rule = (
        str(status),
        account.customer_id,
        payment.id,
        match.rule,
    )


# --- the unmatched queue -----------------------------------------------------------------------------------


async def get_line(session: AsyncSession, line_id: uuid.UUID, *, lock: bool = False) -> BankStatementLine:
    stmt = select(BankStatementLine).where(BankStatementLine.id == line_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound("no such bank statement line", code="bank_line_not_found")
    return row


async def list_lines(
    session: AsyncSession, *, status: str, limit: int, offset: int
) -> tuple[Sequence[BankStatementLine], int]:
    if status not in BankLineStatus.__members__.values():
        raise InvalidInput(f"unknown status '{status}'", code="invalid_status", field="status")
    condition = BankStatementLine.status == status
    total = await session.scalar(select(func.count()).select_from(BankStatementLine).where(condition)) or 0
    rows = await session.scalars(
        select(BankStatementLine)
        .where(condition)
        .order_by(BankStatementLine.booked_on, BankStatementLine.imported_at, BankStatementLine.id)
        .limit(limit)
        .offset(offset)
    )
    return rows.all(), total


async def assign_line(
    session: AsyncSession,
    *,
    line_id: uuid.UUID,
    customer_id: uuid.UUID,
    allocate: bool,
    actor: Principal,
    now: datetime,
) -> BankStatementLine:
    """Finance says whose money an unmatched (or ignored) line is: it becomes that customer's payment."""
    await get_line(session, line_id)
    await ledger.get_account(session, customer_id, lock=True)  # the account first, as every money write
    row = await get_line(session, line_id, lock=True)
    bank_line_transition(row.status, BankLineStatus.ASSIGNED)
    before = {"status": row.status}
    await _pay_from_line(
        session,
        row,
        match=Match(customer_id=customer_id, rule="assigned"),
        actor=actor,
        now=now,
        status=BankLineStatus.ASSIGNED,
        allocate=allocate,
    )
    record_audit(
        session,
        actor=actor,
        subject_type="bank_line",
        subject_id=row.id,
        customer_id=customer_id,
        action="bank_line_assigned",
        at=now,
        before=before,
        after={"status": row.status, "customer_id": customer_id, "payment_id": row.payment_id},
    )
    await session.flush()
    await credit.credit_freed(session, customer_id=customer_id, now=now)
    return row


async def ignore_line(
    session: AsyncSession, *, line_id: uuid.UUID, reason: str | None, actor: Principal, now: datetime
) -> BankStatementLine:
    row = await get_line(session, line_id, lock=True)
    bank_line_transition(row.status, BankLineStatus.IGNORED)
    before = {"status": row.status}
    row.status = str(BankLineStatus.IGNORED)
    record_audit(
        session,
        actor=actor,
        subject_type="bank_line",
        subject_id=row.id,
        action="bank_line_ignored",
        at=now,
        before=before,
        after={"status": row.status, "reason": reason},
    )
    await session.flush()
    return row
