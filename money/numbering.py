"""Gapless document numbers: one row per series (e.g. INV-2026, CN-2026), locked by the transaction that issues (its
UPDATE holds the row until the end), so numbers are handed out one transaction at a time and a rollback gives them
back.

Take the numbers as late as possible in the issuing transaction: the series row stays locked until it commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from money.models import InvoiceSeries


def _build_take(insert: Any) -> Insert:
    """Create the series, or move it on, in one statement: the row stays locked until the transaction ends (a
    second transaction's INSERT waits for it, then moves on the committed row). Returns the next number after."""
    statement = insert(InvoiceSeries).values(code=bindparam("series"), next_number=bindparam("after"))
    statement = statement.on_conflict_do_update(
        index_elements=["code"], set_={"next_number": InvoiceSeries.next_number + bindparam("count")}
    )
    taken: Insert = statement.returning(InvoiceSeries.next_number)
    return taken


_TAKE = {"postgresql": _build_take(postgresql.insert), "sqlite": _build_take(sqlite.insert)}


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
    params = {"series": series, "after": 1 + count, "count": count}
    after = int((await session.execute(_TAKE[session.get_bind().dialect.name], params)).scalar_one())
    return [document_number(series, n) for n in range(after - count, after)]
