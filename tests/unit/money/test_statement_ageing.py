"""Statement building blocks without a database: month boundaries in the account's time zone, ageing buckets."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from core.errors import InvalidInput
from money.documents.statements import (
    BUCKETS,
    Movement,
    age_invoices,
    ageing_totals,
    bucket_for,
    parse_month,
    printed_movements,
)


def test_a_month_starts_at_local_midnight() -> None:
    month = parse_month("2030-01", timezone="Asia/Shanghai")
    assert month.starts_at == datetime(2029, 12, 31, 16, 0, tzinfo=UTC)
    assert month.ends_at == datetime(2030, 1, 31, 16, 0, tzinfo=UTC)
    assert (month.first_day, month.last_day) == (date(2030, 1, 1), date(2030, 1, 31))
    december = parse_month("2029-12", timezone="UTC")
    assert december.ends_at == datetime(2030, 1, 1, tzinfo=UTC) and december.last_day == date(2029, 12, 31)


@pytest.mark.parametrize("text", ["2030-13", "2030-00", "2030-1", "30-01", "2030-01.pdf", "", "abcd-ef"])
def test_a_month_is_yyyy_mm(text: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_month(text, timezone="Asia/Shanghai")
    assert error.value.code == "invalid_month" and error.value.field == "month"


@pytest.mark.parametrize(
    ("age", "bucket"),
    [(0, "0-30"), (30, "0-30"), (31, "31-60"), (60, "31-60"), (61, "61-90"), (90, "61-90"), (91, "90+")],
)
def test_bucket_edges(age: int, bucket: str) -> None:
    assert bucket_for(age) == bucket


def test_ageing_sums_to_the_unpaid_invoices_and_drops_settled_ones() -> None:
    as_of = date(2030, 1, 31)
    rows = [
        (uuid.uuid4(), "A", date(2030, 1, 20), date(2030, 2, 19), 1000, 700),
        (uuid.uuid4(), "B", date(2029, 12, 31), date(2030, 1, 30), 500, 500),
        (uuid.uuid4(), "C", date(2029, 9, 1), date(2029, 10, 1), 300, 0),  # settled: not aged
        (uuid.uuid4(), "D", date(2029, 10, 1), date(2029, 10, 31), 900, 250),
    ]
    aged = age_invoices(rows, as_of=as_of)
    assert [i.number for i in aged] == ["D", "B", "A"]  # oldest first
    totals = ageing_totals(aged)
    assert list(totals) == list(BUCKETS)
    assert totals == {"0-30": 700, "31-60": 500, "61-90": 0, "90+": 250}
    assert sum(totals.values()) == sum(i.unpaid_minor for i in aged) == 1450


def _movements(kinds_by_day: list[tuple[int, str, int]]) -> list[Movement]:
    balance, made = 1000, []
    for day, kind, amount in kinds_by_day:
        balance += amount
        at = datetime(2030, 1, day, 2, tzinfo=UTC)
        made.append(Movement(uuid.uuid4(), at, at.date(), kind, amount, balance, f"ref-{len(made)}", "0号柴油 1,000 L"))
    return made


def test_a_long_statement_prints_its_movements_summed_per_day_and_kind() -> None:
    movements = _movements(
        [(1, "charge", 100), (1, "charge", 200), (1, "payment", -50), (1, "charge", 10), (2, "charge", 5)]
    )
    assert [(r.count, r.amount_minor) for r in printed_movements(movements, limit=10)] == [
        (1, 100),
        (1, 200),
        (1, -50),
        (1, 10),
        (1, 5),
    ]
    rows = printed_movements(movements, limit=4)
    assert [(r.day.day, r.kind, r.count, r.amount_minor, r.balance_minor) for r in rows] == [
        (1, "charge", 2, 300, 1300),
        (1, "payment", 1, -50, 1250),
        (1, "charge", 1, 10, 1260),
        (2, "charge", 1, 5, 1265),
    ]
    assert rows[0].reference is None and rows[1].reference == "ref-2"  # a lone movement keeps its reference
    assert sum(r.amount_minor for r in rows) == sum(m.amount_minor for m in movements)
    assert rows[-1].balance_minor == movements[-1].balance_minor
