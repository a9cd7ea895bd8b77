"""Gapless document numbers: one row per series (e.g. INV-2026, CN-2026), taken FOR UPDATE by the transaction that
issues, so numbers are handed out one transaction at a time and a rollback gives them back.

Take the numbers as late as possible in the issuing transaction: the series row stays locked until it commits.
"""

from __future__ import annotations

from sqlalchemy import Insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from money.models import InvoiceSeries

_CREATE_SERIES: dict[str, Insert] = {
    "postgresql": postgresql.insert(InvoiceSeries).on_conflict_do_nothing(index_elements=["code"]),
    "sqlite": sqlite.insert(InvoiceSeries).on_conflict_do_nothing(index_elements=["code"]),
}


def invoice_series(year: int) -> str:
    return f"INV-{year}"


def credit_note_series(year: int) -> str:
    return f"CN-{year}"


def document_number(series: str, number: int) -> str:
    return f"{series}-{number:06d}"


async def take_numbers(session: AsyncSession, *, series: str, count: int) -> list[str]:
    """The next `count` numbers of `series`, held by this transaction until it ends."""
    if count <= 0:
        return []
    # A series' first use: two transactions may both insert it; the second waits, then does nothing.
    await session.execute(_CREATE_SERIES[session.get_bind().dialect.name], {"code": series, "next_number": 1})
    first = await session.scalar(
        select(InvoiceSeries.next_number).where(InvoiceSeries.code == series).with_for_update()
    )
    assert first is not None
    await session.execute(update(InvoiceSeries).where(InvoiceSeries.code == series).values(next_number=first + count))
    return [document_number(series, n) for n in range(first, first + count)]
