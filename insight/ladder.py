"""The responsibility ladder (PRODUCT.md): a customer's yearly net tonnes decide which level of account manager owns
it (<20 t a station employee ... >500 t the region). Run daily (insight.tasks); running it again changes nothing.

- A customer whose band changed since the last run is given to a manager of the new level (the one with the fewest
  customers), unless its manager already has that level. No manager of that level: it keeps its manager.
- A customer without an active manager gets one of its band's level.
- A customer seen for the first time only has its band noted: an admin's or the application's choice of manager
  stands until the customer crosses a band.
Each move is a `customer_reassigned` event naming both managers (orders.accounts.assign_manager), which the
notifications will turn into messages to both.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Role
from core.models import User
from insight import rules
from insight.models import CustomerBand
from money.models import Charge
from orders.accounts import assign_manager, get_customer
from orders.models import CustomerAccount


@dataclass(frozen=True, slots=True)
class LadderResult:
    checked: int
    crossed: int
    reassigned: int


async def yearly_kg(session: AsyncSession, *, now: datetime) -> dict[uuid.UUID, int]:
    rows = await session.execute(
        select(Charge.customer_id, func.sum(Charge.net_kg))
        .where(Charge.at >= now - timedelta(days=365), Charge.at < now)
        .group_by(Charge.customer_id)
    )
    return {cid: int(kg) for cid, kg in rows.all()}


async def run_ladder(session: AsyncSession, *, now: datetime) -> LadderResult:
    volumes = await yearly_kg(session, now=now)
    accounts = (
        await session.execute(
            select(CustomerAccount.id, CustomerAccount.manager_id).where(CustomerAccount.is_active.is_(True))
        )
    ).all()
    bands = {b.customer_id: b for b in (await session.scalars(select(CustomerBand))).all()}
    managers = {
        u.id: u
        for u in (
            await session.scalars(
                select(User).where(User.manager.is_(True), User.is_active.is_(True), User.role != str(Role.CUSTOMER))
            )
        ).all()
    }
    load = Counter(manager for _, manager in accounts if manager in managers)
    crossed = reassigned = 0
    for customer_id, manager_id in accounts:
        kg = volumes.get(customer_id, 0)
        band = rules.band_of(kg)
        seen = bands.get(customer_id)
        previous = seen.band if seen is not None else None
        changed = previous is not None and previous != band.label
        unmanaged = manager_id not in managers
        crossed += changed
        _remember(session, seen, customer_id=customer_id, band=band.label, kg=kg, now=now)
        current = managers.get(manager_id) if manager_id else None
        if not (changed or unmanaged) or (current is not None and current.manager_level == band.level):
            continue
        candidates = [m for m in managers.values() if m.manager_level == band.level]
        if not candidates:
            continue
        chosen = min(candidates, key=lambda m: (load[m.id], m.username, m.id))
        account = await get_customer(session, customer_id, lock=True)
        if account.manager_id != manager_id:
            continue  # an admin changed it meanwhile: that choice stands
        moved = await assign_manager(
            session,
            account=account,
            manager_id=chosen.id,
            now=now,
            actor=None,
            reason="ladder" if changed else "unmanaged",
            data={"from_band": previous, "to_band": band.label, "net_kg": kg},
        )
        if moved:
            reassigned += 1
            load[chosen.id] += 1
            if manager_id is not None and manager_id in load:
                load[manager_id] -= 1
    await session.flush()
    return LadderResult(checked=len(accounts), crossed=crossed, reassigned=reassigned)


def _remember(
    session: AsyncSession, seen: CustomerBand | None, *, customer_id: uuid.UUID, band: str, kg: int, now: datetime
) -> None:
    if seen is None:
        session.add(CustomerBand(customer_id=customer_id, band=band, net_kg=kg, since=now, checked_at=now))
        return
    if seen.band != band:
        seen.band, seen.since = band, now
    seen.net_kg, seen.checked_at = kg, now
