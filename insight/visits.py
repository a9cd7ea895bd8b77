"""Visits: an account manager scans the signed code printed at a customer's site (insight.visit_codes); the visit
records who, when, which site and customer, and the customer as the visit found it (quiet or not), from which
`insight.dashboard` tells whether a quiet customer was won back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Forbidden, InvalidInput, NotFound
from core.ids import new_id
from core.models import User
from core.signing import KeyRing
from insight import rules, visit_codes
from insight.access import Viewer
from insight.models import Visit
from insight.radar import recent_orders
from orders.models import CustomerAccount, Site


async def visit_code(session: AsyncSession, *, site_id: uuid.UUID, keyring: KeyRing, now: datetime) -> str:
    if await session.get(Site, site_id) is None:
        raise NotFound("no such site", code="site_not_found")
    return visit_codes.issue(keyring, site_id=site_id, issued=int(now.timestamp()))


async def record_visit(
    session: AsyncSession,
    *,
    viewer: Viewer,
    token: str,
    note: str | None,
    site_id: uuid.UUID | None,
    keyring: KeyRing,
    now: datetime,
    tz: ZoneInfo,
    floor: timedelta,
) -> tuple[Visit, bool]:
    """The visit of `viewer` (an account manager) at the site the code names: (visit, created). Scanning again the
    same day returns the first visit of that manager at that site. `site_id`, when the app knows which site the
    manager meant, must be the code's site."""
    if not viewer.is_manager:
        raise Forbidden("only account managers record visits", code="forbidden")
    check = visit_codes.verify(token, keyring=keyring)
    if not check.ok or check.site_id is None or check.token_hash is None:
        raise InvalidInput(
            f"this is not a visit code we printed ({check.reason})",
            code="visit_code_refused",
            field="token",
            reasons=[check.reason],
        )
    if site_id is not None and site_id != check.site_id:
        raise InvalidInput(
            "the code belongs to another site", code="visit_code_refused", field="token", reasons=["wrong_site"]
        )
    site = await session.get(Site, check.site_id)
    if site is None:
        raise NotFound("the code's site no longer exists", code="site_not_found", field="token")
    orders = (await recent_orders(session, customers=_one(site.customer_id), before=now)).get(site.customer_id, [])
    times = [o.at for o in orders]
    values = {
        "id": new_id(),
        "manager_id": viewer.id,
        "site_id": site.id,
        "customer_id": site.customer_id,
        "day": now.astimezone(tz).date(),
        "at": now,
        "note": note,
        "token_hash": check.token_hash,
        "dormant_since": rules.dormant_since(times, now=now, floor=floor),
        "last_order_at": max(times) if times else None,
        "created_at": now,
    }
    created = await _insert_if_new(session, values)
    visit = await session.scalar(
        select(Visit).where(Visit.manager_id == viewer.id, Visit.site_id == site.id, Visit.day == values["day"])
    )
    assert visit is not None
    return visit, created


def _one(customer_id: uuid.UUID) -> Any:
    return select(CustomerAccount.id).where(CustomerAccount.id == customer_id)


async def _insert_if_new(session: AsyncSession, values: dict[str, Any]) -> bool:
    """One visit per manager, site and day, also when two scans race: the unique key decides, nobody fails."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(Visit)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["manager_id", "site_id", "day"])
        .returning(Visit.id)
    )
    return (await session.execute(statement)).first() is not None


async def visit_with_names(session: AsyncSession, visit: Visit) -> tuple[Visit, str, str, str]:
    site = await session.get(Site, visit.site_id)
    account = await session.get(CustomerAccount, visit.customer_id)
    manager = await session.get(User, visit.manager_id)
    assert site is not None and account is not None and manager is not None  # the visit's foreign keys
    return visit, site.name, account.name, manager.display_name or manager.username


async def list_visits(
    session: AsyncSession,
    *,
    manager_id: uuid.UUID | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[tuple[Visit, str, str, str]], int]:
    """Visits with their site's, customer's and manager's names, newest first."""
    conditions = []
    if manager_id is not None:
        conditions.append(Visit.manager_id == manager_id)
    if start is not None:
        conditions.append(Visit.at >= start)
    if end is not None:
        conditions.append(Visit.at < end)
    total = await session.scalar(select(func.count()).select_from(Visit).where(*conditions)) or 0
    rows = (
        await session.execute(
            select(Visit, Site.name, CustomerAccount.name, func.coalesce(User.display_name, User.username))
            .join(Site, Site.id == Visit.site_id)
            .join(CustomerAccount, CustomerAccount.id == Visit.customer_id)
            .join(User, User.id == Visit.manager_id)
            .where(*conditions)
            .order_by(Visit.at.desc(), Visit.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return [(v, site_name, customer_name, manager_name) for v, site_name, customer_name, manager_name in rows], total
