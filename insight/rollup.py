"""Monthly sales rollup: charges summed per local month, customer, depot and product (`sales_months`).

Two years of a busy marketer are a million charges; a sales report by month or a manager's yearly volumes would sum
hundreds of thousands of them per request. The rollup holds every complete month before `through` (the first day
of a month); what comes after is read from the charges themselves, so the figures are exact whenever the rollup
last ran. The nightly task (insight.tasks) moves `through` to the current month and recomputes every month that
got a charge since the last refresh (a charge recorded late, e.g. an offline rack upload, lands in its own month).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.ids import new_id
from insight.models import RollupState, SalesMonth
from money.models import Charge, LedgerEntry

NAME = "sales_months"
# A charge committed this long after its ledger entry's created_at could be missed by the late-charge check.
LATE_MARGIN = timedelta(hours=1)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


def instant(month: date, tz: ZoneInfo) -> datetime:
    """The UTC instant a local month (or day) starts."""
    return datetime.combine(month, time(0), tz)


@dataclass(frozen=True, slots=True)
class Split:
    """A period [start, end) as whole rolled-up months plus the live charge ranges around them."""

    months: tuple[date, ...]
    live: tuple[tuple[datetime, datetime], ...]


def split(start: datetime, end: datetime, *, through: date | None, tz: ZoneInfo) -> Split:
    """The local months wholly inside [start, end) and before `through` come from the rollup; the rest is live."""
    if through is None or end <= start:
        return Split((), ((start, end),) if end > start else ())
    month = month_start(start.astimezone(tz).date())
    if instant(month, tz) < start:
        month = next_month(month)
    months = []
    while month < through and instant(next_month(month), tz) <= end:
        months.append(month)
        month = next_month(month)
    if not months:
        return Split((), ((start, end),))
    first, last = instant(months[0], tz), instant(next_month(months[-1]), tz)
    live = tuple((a, b) for a, b in ((start, first), (last, end)) if b > a)
    return Split(tuple(months), live)


async def rolled_through(session: AsyncSession) -> date | None:
    return await session.scalar(select(RollupState.through).where(RollupState.name == NAME))


async def refresh(session: AsyncSession, *, now: datetime, tz: ZoneInfo) -> int:
    """Bring the rollup up to the current local month; returns how many months were (re)computed. Idempotent.

    `refreshed_at` is wall-clock time, as the ledger's `created_at` that the next refresh compares it with."""
    target = month_start(now.astimezone(tz).date())
    started = utcnow()
    state = await session.scalar(select(RollupState).where(RollupState.name == NAME).with_for_update())
    months = await _months_to_compute(session, state, target=target, tz=tz)
    for month in sorted(months):
        await _compute(session, month, tz=tz)
    if state is None:
        session.add(RollupState(name=NAME, through=target, refreshed_at=started))
    else:
        state.through, state.refreshed_at = target, started
    await session.flush()
    return len(months)


async def _months_to_compute(
    session: AsyncSession, state: RollupState | None, *, target: date, tz: ZoneInfo
) -> set[date]:
    if state is None:
        first = await session.scalar(select(func.min(Charge.at)))
        start = month_start(first.astimezone(tz).date()) if first is not None else target
    else:
        start = state.through
    months = set()
    month = start
    while month < target:
        months.add(month)
        month = next_month(month)
    if state is not None:
        # Charges recorded since the last refresh in months it had already closed.
        late = await session.scalars(
            select(Charge.at)
            .join(LedgerEntry, LedgerEntry.id == Charge.ledger_entry_id)
            .where(LedgerEntry.created_at >= state.refreshed_at - LATE_MARGIN, Charge.at < instant(state.through, tz))
        )
        months |= {month_start(at.astimezone(tz).date()) for at in late.all()}
    return months


async def _compute(session: AsyncSession, month: date, *, tz: ZoneInfo) -> None:
    await session.execute(delete(SalesMonth).where(SalesMonth.month == month))
    rows = (
        await session.execute(
            select(
                Charge.customer_id,
                Charge.depot_id,
                Charge.product_code,
                func.max(Charge.product_name),
                func.sum(Charge.net_litres),
                func.sum(Charge.net_kg),
                func.sum(Charge.amount_minor),
                func.count(),
            )
            .where(Charge.at >= instant(month, tz), Charge.at < instant(next_month(month), tz))
            .group_by(Charge.customer_id, Charge.depot_id, Charge.product_code)
        )
    ).all()
    if rows:
        await session.execute(
            insert(SalesMonth),
            [
                {
                    "id": new_id(),
                    "month": month,
                    "customer_id": customer_id,
                    "depot_id": depot_id,
                    "product_code": product_code,
                    "product_name": product_name,
                    "net_litres": int(litres),
                    "net_kg": int(kg),
                    "amount_minor": int(amount),
                    "charges": int(count),
                }
                for customer_id, depot_id, product_code, product_name, litres, kg, amount, count in rows
            ],
        )
