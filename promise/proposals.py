"""When the fleet is full: say so, and propose the next window it can serve or a loading slot for a pickup.

The fleet is *full* on a day when no window of it can be served for a reason of the fleet (no tanker free,
compartments full, the shift ends, ...). A day whose windows are only closed at the site or past the cut-off is
not full: another window or day is the answer there, not a pickup.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import OrderRules
from orders import schemas as os_
from orders.models import Depot
from orders.pickups import list_slots
from promise.schemas import WindowOut

# Not the fleet's doing: the site does not receive then, or the order comes too late for the window.
NOT_THE_FLEET = frozenset({"site_closed", "cut_off"})
FLEET_FULL_HEADER = "X-Fleet-Full"


def fleet_full(windows: Sequence[WindowOut]) -> bool:
    """No window of the day can be served, and at least one is refused for want of the fleet."""
    return not any(w.feasible for w in windows) and any(w.reason not in NOT_THE_FLEET for w in windows)


async def pickup_alternative(
    session: AsyncSession,
    *,
    depot_id: uuid.UUID,
    product_code: str,
    first_day: date,
    now: datetime,
    rules: OrderRules,
    days: int,
) -> os_.PickupAlternative | None:
    """The first slot not yet started with a place left at the depot, from `first_day` on for `days` more days."""
    depot = await session.get(Depot, depot_id)
    if depot is None:
        return None
    for offset in range(days + 1):
        day = first_day + timedelta(days=offset)
        for slot in await list_slots(session, depot_id=depot.id, day=day, product_code=product_code, rules=rules):
            if slot.start > now and slot.remaining > 0:
                return os_.PickupAlternative(
                    depot_id=depot.id,
                    depot_name=depot.name,
                    slot_start_at=slot.start,
                    slot_end_at=slot.end,
                    places_left=slot.remaining,
                )
    return None
