"""Pure billing rules: periods, drafting invoices, VAT lines, oldest-first allocation, credit splits, payment codes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import Conflict, InvalidInput
from money.credit_notes import CreditableLine, CreditRequest, plan_credit, split_credit
from money.invoicing import UninvoicedCharge, draft_invoices, draft_lines
from money.ledger import split_vat
from money.parties import id_suffix, payment_code, payment_codes_in
from money.payments import OpenInvoice, oldest_first
from money.periods import BillingPeriod, end_of_day_utc, last_complete_day, period_of

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("day", "billing", "period"),
    [
        (date(2030, 1, 1), BillingPeriod.WEEKLY, (date(2029, 12, 31), date(2030, 1, 6))),
        (date(2030, 1, 6), BillingPeriod.WEEKLY, (date(2029, 12, 31), date(2030, 1, 6))),
        (date(2028, 2, 10), BillingPeriod.MONTHLY, (date(2028, 2, 1), date(2028, 2, 29))),
        (date(2029, 12, 31), BillingPeriod.MONTHLY, (date(2029, 12, 1), date(2029, 12, 31))),
        (date(2030, 3, 3), BillingPeriod.PER_DELIVERY, (date(2030, 3, 3), date(2030, 3, 3))),
    ],
)
def test_the_period_of_a_day(day: date, billing: BillingPeriod, period: tuple[date, date]) -> None:
    assert period_of(day, billing) == period


@pytest.mark.parametrize(
    ("period_end", "billing", "last"),
    [
        (date(2030, 1, 6), BillingPeriod.WEEKLY, date(2030, 1, 6)),  # a Sunday closes its week
        (date(2030, 1, 5), BillingPeriod.WEEKLY, date(2029, 12, 30)),
        (date(2030, 1, 7), BillingPeriod.WEEKLY, date(2030, 1, 6)),
        (date(2030, 1, 31), BillingPeriod.MONTHLY, date(2030, 1, 31)),
        (date(2030, 1, 30), BillingPeriod.MONTHLY, date(2029, 12, 31)),
        (date(2030, 3, 1), BillingPeriod.MONTHLY, date(2030, 2, 28)),
        (date(2030, 1, 30), BillingPeriod.PER_DELIVERY, date(2030, 1, 30)),
    ],
)
def test_only_complete_periods_are_due(period_end: date, billing: BillingPeriod, last: date) -> None:
    assert last_complete_day(period_end, billing) == last


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)), st.sampled_from(list(BillingPeriod)))
def test_the_last_complete_period_ends_on_its_own_last_day(period_end: date, billing: BillingPeriod) -> None:
    last = last_complete_day(period_end, billing)
    assert last <= period_end and period_of(last, billing)[1] == last
    # Nothing between it and period_end closes a period.
    assert period_of(period_end, billing)[1] >= period_end


def test_a_day_ends_at_local_midnight() -> None:
    assert end_of_day_utc(date(2030, 1, 6), SH) == datetime(2030, 1, 6, 16, 0, tzinfo=UTC)


def charge(at: datetime, amount: int = 1000) -> UninvoicedCharge:
    return UninvoicedCharge(id=uuid.uuid4(), at=at, amount_minor=amount, tax_rate_bps=1300)


def test_drafts_group_charges_by_local_period() -> None:
    late_sunday = charge(datetime(2030, 1, 6, 15, 59, tzinfo=UTC))  # 23:59 in Shanghai
    monday = charge(datetime(2030, 1, 6, 16, 1, tzinfo=UTC))  # 00:01 on Monday in Shanghai
    earlier = charge(datetime(2030, 1, 1, 3, tzinfo=UTC))
    weekly = draft_invoices([earlier, late_sunday, monday], billing=BillingPeriod.WEEKLY, tz=SH)
    assert [(d.period_start, [c.id for c in d.charges]) for d in weekly] == [
        (date(2029, 12, 31), [earlier.id, late_sunday.id]),
        (date(2030, 1, 7), [monday.id]),
    ]
    per_delivery = draft_invoices([earlier, late_sunday], billing=BillingPeriod.PER_DELIVERY, tz=SH)
    assert [len(d.charges) for d in per_delivery] == [1, 1]


@given(st.lists(st.integers(min_value=1, max_value=10**10), min_size=1, max_size=30))
def test_invoice_lines_split_vat_and_add_up(amounts: list[int]) -> None:
    draft = draft_invoices(
        [charge(datetime(2030, 1, 2, tzinfo=UTC), a) for a in amounts], billing=BillingPeriod.MONTHLY, tz=SH
    )[0]
    lines = draft_lines(draft)
    assert [line.position for line in lines] == list(range(1, len(amounts) + 1))
    for line, amount in zip(lines, amounts, strict=True):
        assert line.net_minor + line.tax_minor == line.amount_minor == amount
        assert (line.net_minor, line.tax_minor) == split_vat(amount)


def test_oldest_first_fills_invoices_in_order_until_the_money_runs_out() -> None:
    a, b, c = (OpenInvoice(uuid.uuid4(), x) for x in (300, 0, 500))
    assert oldest_first([a, b, c], 600) == [(a.id, 300), (c.id, 300)]
    assert oldest_first([a, c], 10_000) == [(a.id, 300), (c.id, 500)]
    assert oldest_first([a, c], 0) == []


@given(
    st.lists(st.integers(min_value=0, max_value=10**6), max_size=10),
    st.integers(min_value=0, max_value=10**7),
)
def test_oldest_first_never_takes_more_than_is_open_or_paid(open_amounts: list[int], amount: int) -> None:
    invoices = [OpenInvoice(uuid.uuid4(), x) for x in open_amounts]
    plan = oldest_first(invoices, amount)
    assert sum(x for _, x in plan) == min(amount, sum(open_amounts))
    outstanding = {i.id: i.outstanding_minor for i in invoices}
    assert all(0 < x <= outstanding[i] for i, x in plan)


def line(amount: int, **done: int) -> CreditableLine:
    net, tax = split_vat(amount)
    return CreditableLine(id=uuid.uuid4(), net_minor=net, tax_minor=tax, amount_minor=amount, tax_rate_bps=1300, **done)


@given(st.integers(min_value=2, max_value=10**9), st.data())
def test_a_line_credited_in_two_parts_nets_out_exactly(amount: int, data: st.DataObject) -> None:
    whole = line(amount)
    first = data.draw(st.integers(min_value=1, max_value=amount - 1))
    net1, tax1 = split_credit(whole, first)
    rest = CreditableLine(
        id=whole.id,
        net_minor=whole.net_minor,
        tax_minor=whole.tax_minor,
        amount_minor=amount,
        tax_rate_bps=1300,
        credited_net_minor=net1,
        credited_tax_minor=tax1,
        credited_minor=first,
    )
    net2, tax2 = split_credit(rest, amount - first)
    assert (net1 + net2, tax1 + tax2) == (whole.net_minor, whole.tax_minor)
    assert net2 + tax2 == amount - first


def test_a_credit_plan_refuses_what_the_lines_do_not_have() -> None:
    a, b = line(1000), line(500, credited_minor=500, credited_net_minor=442, credited_tax_minor=58)
    assert [p.amount_minor for p in plan_credit([a, b], None)] == [1000]  # b is credited in full already
    assert [p.amount_minor for p in plan_credit([a], [CreditRequest(a.id, 400)])] == [400]
    with pytest.raises(Conflict) as refused:
        plan_credit([a], [CreditRequest(a.id, 1001)])
    assert refused.value.code == "exceeds_uncredited"
    with pytest.raises(Conflict) as refused:
        plan_credit([b], None)
    assert refused.value.code == "invoice_fully_credited"
    with pytest.raises(InvalidInput) as bad:
        plan_credit([a], [CreditRequest(a.id, 1), CreditRequest(a.id, 1)])
    assert bad.value.code == "duplicate_line"
    with pytest.raises(InvalidInput) as bad:
        plan_credit([a], [CreditRequest(uuid.uuid4(), None)])
    assert bad.value.code == "invoice_line_not_found"


@given(st.uuids())
def test_a_payment_code_names_the_end_of_its_account_id(customer_id: uuid.UUID) -> None:
    code = payment_code(customer_id)
    assert code.startswith("DD") and len(code) == 10
    assert id_suffix(code) == customer_id.hex[-10:]
    assert payment_codes_in(f"货款{code.lower()}，谢谢") == [code]


def test_payment_codes_are_found_only_as_whole_words() -> None:
    assert payment_codes_in("ref DD0123456789") == []  # ten characters after DD: not a code
    assert payment_codes_in("ADD01234567") == []
    assert payment_codes_in("DD01234567/DD7KX3M9QZ") == ["DD01234567", "DD7KX3M9QZ"]
