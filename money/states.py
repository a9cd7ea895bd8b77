"""The lifecycles of money's documents: a StrEnum and a map of allowed moves each (core.statemachine)."""

from __future__ import annotations

from enum import StrEnum

from core.statemachine import check_transition


class InvoiceStatus(StrEnum):
    ISSUED = "issued"
    PART_PAID = "part_paid"
    PAID = "paid"
    CREDITED = "credited"


_I = InvoiceStatus
INVOICE_TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    _I.ISSUED: frozenset({_I.PART_PAID, _I.PAID, _I.CREDITED}),
    _I.PART_PAID: frozenset({_I.PAID, _I.CREDITED, _I.PART_PAID}),
    _I.PAID: frozenset({_I.CREDITED}),
    _I.CREDITED: frozenset(),
}


def invoice_transition(current: str, target: InvoiceStatus) -> None:
    check_transition(INVOICE_TRANSITIONS, InvoiceStatus(current), target, subject="invoice")


def invoice_status_for(*, total_minor: int, paid_minor: int, credited_minor: int) -> InvoiceStatus:
    """What an invoice's figures make it: credited once credit notes cover it, paid once payments and credit
    notes do, part paid in between."""
    if credited_minor >= total_minor:
        return InvoiceStatus.CREDITED
    if paid_minor + credited_minor >= total_minor:
        return InvoiceStatus.PAID
    if paid_minor > 0 or credited_minor > 0:
        return InvoiceStatus.PART_PAID
    return InvoiceStatus.ISSUED


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


_R = RunStatus
RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    _R.QUEUED: frozenset({_R.RUNNING, _R.FAILED}),
    _R.RUNNING: frozenset({_R.SUCCEEDED, _R.FAILED, _R.QUEUED}),  # back to queued when its worker died
    _R.SUCCEEDED: frozenset(),
    _R.FAILED: frozenset(),
}


def run_transition(current: str, target: RunStatus) -> None:
    check_transition(RUN_TRANSITIONS, RunStatus(current), target, subject="invoice run")


class BankLineStatus(StrEnum):
    MATCHED = "matched"  # recorded as a payment automatically
    UNMATCHED = "unmatched"  # waiting for finance
    ASSIGNED = "assigned"  # recorded as a payment by finance
    IGNORED = "ignored"  # not a customer payment (finance said so)


_B = BankLineStatus
BANK_LINE_TRANSITIONS: dict[BankLineStatus, frozenset[BankLineStatus]] = {
    _B.UNMATCHED: frozenset({_B.ASSIGNED, _B.IGNORED}),
    _B.IGNORED: frozenset({_B.ASSIGNED}),
    _B.MATCHED: frozenset(),
    _B.ASSIGNED: frozenset(),
}


def bank_line_transition(current: str, target: BankLineStatus) -> None:
    check_transition(BANK_LINE_TRANSITIONS, BankLineStatus(current), target, subject="bank statement line")


class LedgerKind(StrEnum):
    CHARGE = "charge"
    PAYMENT = "payment"
    PREPAYMENT = "prepayment"
    CREDIT_NOTE = "credit_note"
    ADJUSTMENT = "adjustment"
    REFUND = "refund"


# The sign each kind's amount must have (adjustments go either way).
LEDGER_SIGNS: dict[LedgerKind, int] = {
    LedgerKind.CHARGE: 1,
    LedgerKind.PAYMENT: -1,
    LedgerKind.PREPAYMENT: -1,
    LedgerKind.CREDIT_NOTE: -1,
    LedgerKind.REFUND: 1,
    LedgerKind.ADJUSTMENT: 0,
}
