"""Statement building blocks without a database: month boundaries in the account's time zone, ageing buckets."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from core.errors import InvalidInput
from money.documents.statements import BUCKETS, age_invoices, ageing_totals, bucket_for, parse_month


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
