"""The volume tier table (`tier_bands`): stored, edited by admins (audited), read through the per-process cache."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_audit
from core.auth import Principal
from orders import cache
from orders import schemas as s
from orders.cache import TierTable
from orders.models import CustomerAccount, TierBand
from orders.rules import check_tier_bands

# Only if the table was emptied by hand: everybody in one band without discount.
NO_TIERS = TierTable(bands=((0, 0),))


async def _stored(session: AsyncSession) -> TierTable:
    rows = (
        await session.execute(select(TierBand.from_tonnes, TierBand.discount_bps).order_by(TierBand.from_tonnes))
    ).all()
    return TierTable(bands=tuple((int(t), int(bps)) for t, bps in rows)) if rows else NO_TIERS


async def tier_table(session: AsyncSession) -> TierTable:
    """The tier table, from the per-process cache (orders/cache.py)."""
    tables = cache.for_session(session).tier_table
    found, table = tables.get(None)
    if not found:
        table = await _stored(session)
        tables.put(None, table)
    assert isinstance(table, TierTable)
    return table


def table_out(table: TierTable) -> list[s.TierBandOut]:
    bands = table.bands
    return [
        s.TierBandOut(
            tier=index,
            from_tonnes=from_tonnes,
            to_tonnes=bands[index + 1][0] if index + 1 < len(bands) else None,
            discount_bps=discount_bps,
        )
        for index, (from_tonnes, discount_bps) in enumerate(bands)
    ]


async def set_tier_table(
    session: AsyncSession, *, bands: list[s.TierBandIn], actor: Principal, now: datetime
) -> TierTable:
    """Replace the table (validated: from 0 t, ascending). Audited when it changed.

    The tier of the day stored on each account was found with the old bands: it is forgotten, so every
    customer's next order or booking finds its tier again with the new ones (and other server processes follow
    within the cache's TTL, since the bands are part of their tier cache's key)."""
    wanted = TierTable(bands=tuple((b.from_tonnes, b.discount_bps) for b in bands))
    check_tier_bands(list(wanted.bands))
    # A row lock on every band: two replacements at once record true befores and afters.
    await session.execute(select(TierBand.from_tonnes).with_for_update())
    before = await _stored(session)
    if before == wanted:
        return wanted
    await session.execute(delete(TierBand))
    session.add_all(TierBand(from_tonnes=t, discount_bps=bps) for t, bps in wanted.bands)
    await session.execute(update(CustomerAccount).where(CustomerAccount.tier_day.is_not(None)).values(tier_day=None))
    cache.invalidate(session, "tier_table", "tiers")
    record_audit(
        session,
        actor=actor,
        subject_type="tier_table",
        subject_id=None,
        action="tier_table_replaced",
        at=now,
        before={"bands": [list(b) for b in before.bands]},
        after={"bands": [list(b) for b in wanted.bands]},
    )
    await session.flush()
    return wanted
