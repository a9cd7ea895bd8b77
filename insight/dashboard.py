"""What an account manager looks at: its customers by band with volume and trend, the largest ones and who is due
a visit this quarter, the quiet ones and how many visits won them back; the referral scoreboard."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Role
from core.errors import NotFound
from core.models import User
from insight import rules
from insight import schemas as s
from insight.models import Visit
from insight.radar import NOT_AN_ORDER, PICKUP_COUNTS, CustomerInsight, Volumes, Windows, customer_insights
from orders.models import CustomerAccount, Order, PickupBooking


def trend_out(volumes: Volumes, windows: Windows) -> s.Trend:
    return s.Trend(
        quarter=windows.quarter.label,
        this_quarter_kg=volumes.this_quarter_kg,
        last_year_kg=volumes.last_year_kg,
        this_quarter_t=rules.tonnes(volumes.this_quarter_kg),
        last_year_t=rules.tonnes(volumes.last_year_kg),
        change_pct=rules.change_pct(volumes.this_quarter_kg, volumes.last_year_kg),
    )


def insight_out(insight: CustomerInsight, windows: Windows) -> s.CustomerInsightOut:
    interval = insight.usual_interval
    dormant = None
    if insight.dormant_since is not None:
        dormant = s.Dormant(since=insight.dormant_since, reasons=insight.reasons)
    return s.CustomerInsightOut(
        customer_id=insight.customer_id,
        name=insight.name,
        manager_id=insight.manager_id,
        band=insight.band.label,
        level=str(insight.band.level),
        net_kg=insight.volumes.yearly_kg,
        net_tonnes=rules.tonnes(insight.volumes.yearly_kg),
        trend=trend_out(insight.volumes, windows),
        last_order_at=insight.last_order_at,
        usual_interval_days=None if interval is None else round(interval.total_seconds() / 86400, 2),
        dormant=dormant,
    )


async def get_manager(session: AsyncSession, manager_id: uuid.UUID) -> User:
    user = await session.get(User, manager_id)
    if user is None or not user.manager or user.role == Role.CUSTOMER:
        raise NotFound("no such account manager", code="manager_not_found")
    return user


async def dashboard(
    session: AsyncSession, *, manager: User, now: datetime, tz: ZoneInfo, floor: timedelta
) -> s.DashboardOut:
    windows = Windows.at(now, tz)
    insights = await customer_insights(session, manager_id=manager.id, now=now, tz=tz, floor=floor)
    last_visits = await _last_visits(session, [i.customer_id for i in insights])

    def due(insight: CustomerInsight) -> s.VisitDue:
        last = last_visits.get(insight.customer_id)
        return s.VisitDue(
            customer_id=insight.customer_id,
            name=insight.name,
            band=insight.band.label,
            net_kg=insight.volumes.yearly_kg,
            net_tonnes=rules.tonnes(insight.volumes.yearly_kg),
            last_visit_at=last,
            visited_this_quarter=last is not None and last >= windows.quarter.start,
        )

    bands = []
    due_visits = []
    for band in rules.BANDS:
        members = [i for i in insights if i.band == band]  # largest first, as customer_insights sorts them
        total = Volumes(
            sum(i.volumes.yearly_kg for i in members),
            sum(i.volumes.this_quarter_kg for i in members),
            sum(i.volumes.last_year_kg for i in members),
        )
        bands.append(
            s.BandOut(
                band=band.label,
                level=str(band.level),
                customers=len(members),
                net_kg=total.yearly_kg,
                net_tonnes=rules.tonnes(total.yearly_kg),
                trend=trend_out(total, windows),
            )
        )
        due_visits += [d for d in map(due, members[: rules.TOP_PER_LEVEL]) if not d.visited_this_quarter]
    net_kg = sum(i.volumes.yearly_kg for i in insights)
    return s.DashboardOut(
        manager=s.ManagerOut(
            id=manager.id, username=manager.username, display_name=manager.display_name, level=manager.manager_level
        ),
        quarter=windows.quarter.label,
        customers=len(insights),
        net_kg=net_kg,
        net_tonnes=rules.tonnes(net_kg),
        bands=bands,
        top=[due(i) for i in insights[:10]],
        due_visits=due_visits,
        dormant=sum(1 for i in insights if i.dormant_since is not None),
        reactivation=await reactivation(session, manager_id=manager.id, now=now),
    )


async def _last_visits(session: AsyncSession, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    if not customer_ids:
        return {}
    stmt = select(Visit.customer_id, func.max(Visit.at)).where(Visit.customer_id.in_(customer_ids))
    rows = await session.execute(stmt.group_by(Visit.customer_id))
    return {row[0]: row[1] for row in rows.all()}


async def reactivation(session: AsyncSession, *, manager_id: uuid.UUID, now: datetime) -> s.Reactivation:
    """The manager's visits of the last 365 days to customers that were quiet then. A quiet spell (a customer and
    the last order before it went quiet) counts once, however often it was visited; it is won back when the
    customer ordered within WON_BACK of a visit (of the last one: the next order comes after all of them)."""
    visits = (
        await session.execute(
            select(Visit.customer_id, Visit.last_order_at, func.max(Visit.at))
            .where(
                Visit.manager_id == manager_id,
                Visit.dormant_since.is_not(None),
                Visit.at >= now - timedelta(days=365),
            )
            .group_by(Visit.customer_id, Visit.last_order_at)
        )
    ).all()
    if not visits:
        return s.Reactivation(dormant_visited=0, won_back=0, pending=0, rate=None)
    customers = {cid for cid, _, _ in visits}
    next_orders = await _orders_after(session, customers, since=min(at for _, _, at in visits), until=now)
    won_back = pending = 0
    for customer_id, _, visited_at in visits:
        following = [at for at in next_orders[customer_id] if at > visited_at]
        if following and min(following) <= visited_at + rules.WON_BACK:
            won_back += 1
        elif not following and now <= visited_at + rules.WON_BACK:
            pending += 1
    return s.Reactivation(
        dormant_visited=len(visits), won_back=won_back, pending=pending, rate=round(won_back / len(visits), 3)
    )


async def visit_outcomes(session: AsyncSession, visits: list[Visit], *, now: datetime) -> dict[uuid.UUID, str | None]:
    """Each visit's outcome, by the rule `reactivation` counts: a visit to a customer that was quiet then is
    `won_back` when the customer ordered within WON_BACK after it, `pending` while that time runs without an order,
    else `not_won_back`; a visit to a customer that was not quiet has none (None)."""
    quiet = [v for v in visits if v.dormant_since is not None]
    outcomes: dict[uuid.UUID, str | None] = {v.id: None for v in visits}
    if not quiet:
        return outcomes
    since = min(v.at for v in quiet)
    next_orders = await _orders_after(session, {v.customer_id for v in quiet}, since=since, until=now)
    for visit in quiet:
        following = [at for at in next_orders[visit.customer_id] if at > visit.at]
        if following and min(following) <= visit.at + rules.WON_BACK:
            outcomes[visit.id] = "won_back"
        elif not following and now <= visit.at + rules.WON_BACK:
            outcomes[visit.id] = "pending"
        else:
            outcomes[visit.id] = "not_won_back"
    return outcomes


async def _orders_after(
    session: AsyncSession, customer_ids: set[uuid.UUID], *, since: datetime, until: datetime
) -> dict[uuid.UUID, list[datetime]]:
    found: dict[uuid.UUID, list[datetime]] = defaultdict(list)
    for model, counts in (
        (Order, Order.status.not_in(NOT_AN_ORDER)),
        (PickupBooking, PickupBooking.status.in_(PICKUP_COUNTS)),
    ):
        rows = await session.execute(
            select(model.customer_id, model.created_at).where(
                model.customer_id.in_(customer_ids), model.created_at > since, model.created_at <= until, counts
            )
        )
        for customer_id, at in rows.all():
            found[customer_id].append(at)
    return found


# --- the referral scoreboard ------------------------------------------------------------------------------


async def referrals(session: AsyncSession, *, start: datetime, end: datetime) -> list[s.ReferralRow]:
    """Per account manager: sign-ups through its referral code in [start, end) and how many of them order through
    the app; the customers it manages and how many of those order through the app (an order placed by one of the
    customer's own users)."""
    in_app = exists(
        select(Order.id)
        .join(User, User.id == Order.created_by)
        .where(Order.customer_id == CustomerAccount.id, User.role == str(Role.CUSTOMER))
    )
    referred = (
        await session.execute(
            select(CustomerAccount.referred_by_id, func.count(), func.count().filter(in_app))
            .where(
                CustomerAccount.referred_by_id.is_not(None),
                CustomerAccount.created_at >= start,
                CustomerAccount.created_at < end,
            )
            .group_by(CustomerAccount.referred_by_id)
        )
    ).all()
    managed = (
        await session.execute(
            select(CustomerAccount.manager_id, func.count(), func.count().filter(in_app))
            .where(CustomerAccount.manager_id.is_not(None), CustomerAccount.is_active.is_(True))
            .group_by(CustomerAccount.manager_id)
        )
    ).all()
    signed = {uid: (int(n), int(app)) for uid, n, app in referred}
    owned = {uid: (int(n), int(app)) for uid, n, app in managed}
    people = (
        await session.scalars(
            select(User).where(
                User.role != str(Role.CUSTOMER),
                User.manager.is_(True) | User.id.in_(list(signed)) | User.id.in_(list(owned)),
            )
        )
    ).all()
    rows = []
    for user in people:
        sign_ups, sign_ups_app = signed.get(user.id, (0, 0))
        customers, app_customers = owned.get(user.id, (0, 0))
        rows.append(
            s.ReferralRow(
                manager_id=user.id,
                username=user.username,
                display_name=user.display_name,
                sign_ups=sign_ups,
                sign_ups_ordering_in_app=sign_ups_app,
                customers=customers,
                app_customers=app_customers,
                app_adoption=round(app_customers / customers, 3) if customers else None,
            )
        )
    rows.sort(key=lambda r: (-r.sign_ups, -r.app_customers, r.username))
    return rows
