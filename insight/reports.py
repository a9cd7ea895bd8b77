"""Reports: sales from money's charges (net litres, net tonnes, amount) grouped by customer, depot, product or
account manager per local day, week (Monday first) or month; deliveries promised against actual (on-time share and
the distribution of lateness) per day, depot and customer."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Select, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput
from core.models import User
from dispatch.models import PlanStop
from insight import punctuality, rollup, rules
from insight import schemas as s
from insight.models import SalesMonth
from money.models import Charge
from orders.models import CustomerAccount, Depot, Order
from tracking.models import Delivery

GROUPS = ("customer", "depot", "product", "manager")
PERIODS = ("day", "week", "month")
MAX_DAYS = 2 * 366


def check_range(first: date, last: date) -> None:
    if last < first:
        raise InvalidInput("`to` is before `from`", code="invalid_range", field="to")
    if (last - first).days >= MAX_DAYS:
        raise InvalidInput(f"at most {MAX_DAYS} days at once", code="range_too_long", field="from")


def _bucket(session: AsyncSession, period: str, tz: ZoneInfo, start: datetime) -> Any:
    """The local day, week (its Monday) or month (its 1st) of a charge, as SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.date_trunc(period, func.timezone(tz.key, Charge.at)), Date)
    # SQLite (the embedded default): the zone's offset at the start of the report (no daylight saving in China).
    offset = start.astimezone(tz).utcoffset() or timedelta(0)
    shift = f"{int(offset.total_seconds() // 60):+d} minutes"
    modifiers = {"day": (), "week": ("weekday 0", "-6 days"), "month": ("start of month",)}[period]
    return func.date(Charge.at, shift, *modifiers)


def _grouping(group_by: str, source: type[Charge] | type[SalesMonth]) -> tuple[Any, Any, list[tuple[Any, Any]]]:
    """(key column, label column, outer joins) of a grouping of charges or of their monthly rollup."""
    if group_by == "customer":
        return source.customer_id, func.max(CustomerAccount.name), []
    if group_by == "depot":
        return source.depot_id, func.max(Depot.name), [(Depot, Depot.id == source.depot_id)]
    if group_by == "product":
        return source.product_code, func.max(source.product_name), []
    label = func.max(func.coalesce(User.display_name, User.username))
    return CustomerAccount.manager_id, label, [(User, User.id == CustomerAccount.manager_id)]


def _totals(source: type[Charge] | type[SalesMonth]) -> list[Any]:
    count = func.sum(SalesMonth.charges) if source is SalesMonth else func.count()
    return [func.sum(source.net_litres), func.sum(source.net_kg), func.sum(source.amount_minor), count]


def _summed(
    bucket: Any, group_by: str, source: type[Charge] | type[SalesMonth], manager_id: uuid.UUID | None
) -> Select[Any]:
    key, label, joins = _grouping(group_by, source)
    stmt: Select[Any] = select(bucket, key, label, *_totals(source)).join(
        CustomerAccount, CustomerAccount.id == source.customer_id
    )
    for model, on in joins:
        stmt = stmt.outerjoin(model, on)
    if manager_id is not None:
        stmt = stmt.where(CustomerAccount.manager_id == manager_id)
    return stmt.group_by(bucket, key)


async def sales(
    session: AsyncSession,
    *,
    group_by: str,
    period: str,
    first: date,
    last: date,
    tz: ZoneInfo,
    manager_id: uuid.UUID | None,
) -> s.SalesOut:
    """Charges of the local days `first` .. `last`; `manager_id`: only that manager's customers (today's
    assignment). Grouping by manager also uses today's assignment."""
    check_range(first, last)
    start, end = rules.local_range(first, last, tz)
    # By month, whole months come from the monthly rollup (insight.rollup); everything else from the charges.
    through = await rollup.rolled_through(session) if period == "month" else None
    parts = rollup.split(start, end, through=through, tz=tz)
    found: list[Any] = []
    if parts.months:
        stmt = _summed(SalesMonth.month.label("bucket"), group_by, SalesMonth, manager_id)
        found += (await session.execute(stmt.where(SalesMonth.month.in_(parts.months)))).all()
    for live_start, live_end in parts.live:
        stmt = _summed(_bucket(session, period, tz, live_start).label("bucket"), group_by, Charge, manager_id)
        found += (await session.execute(stmt.where(Charge.at >= live_start, Charge.at < live_end))).all()
    merged: dict[tuple[date, str | None], s.SalesRow] = {}
    for day, key_value, label_value, litres, kg, amount, count in found:
        period_start = day if isinstance(day, date) else date.fromisoformat(str(day))
        key = None if key_value is None else str(key_value)
        row = merged.setdefault((period_start, key), s.SalesRow(period_start, key, label_value, 0, 0, 0.0, 0, 0))
        row.net_litres += int(litres)
        row.net_kg += int(kg)
        row.net_tonnes = rules.tonnes(row.net_kg)
        row.amount_minor += int(amount)
        row.charges += int(count)
    rows = sorted(merged.values(), key=lambda r: (r.period_start, -r.net_kg, r.key or ""))
    kg_total = sum(r.net_kg for r in rows)
    return s.SalesOut(
        group_by=group_by,
        period=period,
        date_from=first,
        date_to=last,
        timezone=tz.key,
        rows=rows,
        totals=s.SalesTotals(
            net_litres=sum(r.net_litres for r in rows),
            net_kg=kg_total,
            net_tonnes=rules.tonnes(kg_total),
            amount_minor=sum(r.amount_minor for r in rows),
            charges=sum(r.charges for r in rows),
        ),
    )


# --- deliveries: promised against actual ------------------------------------------------------------------


class _Tally:
    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(punctuality.BUCKETS, 0)
        self.early = 0

    def add(self, window_start: datetime, window_end: datetime, arrived: datetime) -> None:
        self.counts[punctuality.bucket(window_end, arrived)] += 1
        self.early += punctuality.is_early(window_start, arrived)

    def out(self) -> s.Punctuality:
        total = sum(self.counts.values())
        on_time = self.counts[punctuality.ON_TIME]
        return s.Punctuality(
            deliveries=total,
            on_time=on_time,
            on_time_share=round(on_time / total, 4) if total else None,
            lateness=dict(self.counts),
            early=self.early,
        )


async def deliveries(
    session: AsyncSession, *, first: date, last: date, manager_id: uuid.UUID | None
) -> s.DeliveriesOut:
    """Deliveries of orders due on `first` .. `last` (their delivery dates), judged by insight.punctuality."""
    check_range(first, last)
    stmt = (
        select(
            Order.delivery_date,
            Order.depot_id,
            Depot.name,
            Order.customer_id,
            CustomerAccount.name,
            Order.window_start,
            Order.window_end,
            punctuality.arrival(),
        )
        .select_from(Delivery)
        .join(Order, Order.id == Delivery.order_id)
        .join(CustomerAccount, CustomerAccount.id == Order.customer_id)
        .join(Depot, Depot.id == Order.depot_id)
        .outerjoin(PlanStop, PlanStop.id == Delivery.stop_id)
        .where(Order.delivery_date >= first, Order.delivery_date <= last)
    )
    if manager_id is not None:
        stmt = stmt.where(CustomerAccount.manager_id == manager_id)
    summary = _Tally()
    days: dict[str, _Tally] = defaultdict(_Tally)
    depots: dict[str, _Tally] = defaultdict(_Tally)
    customers: dict[str, _Tally] = defaultdict(_Tally)
    names: dict[str, str] = {}
    for day, depot_id, depot_name, customer_id, customer_name, window_start, window_end, arrived in (
        await session.execute(stmt)
    ).all():
        names[str(depot_id)], names[str(customer_id)] = depot_name, customer_name
        for tally in (summary, days[day.isoformat()], depots[str(depot_id)], customers[str(customer_id)]):
            tally.add(window_start, window_end, arrived)

    def listed(tallies: dict[str, _Tally], *, named: bool) -> list[s.PunctualityRow]:
        return [
            s.PunctualityRow(key=key, label=names.get(key) if named else None, punctuality=tally.out())
            for key, tally in sorted(tallies.items())
        ]

    return s.DeliveriesOut(
        date_from=first,
        date_to=last,
        summary=summary.out(),
        by_day=listed(days, named=False),
        by_depot=listed(depots, named=True),
        by_customer=listed(customers, named=True),
    )
