"""A depot's loading bays are one calendar for customer pickups and the marketer's own tanker loads. Pickups are
the orders domain's; tanker loads are the planned and published trips of route planning, which sits above orders:
this port, filled by the composition root (api/app.py registers dispatch.bays'), tells the pickup slots which bays
the tankers take. Unregistered, no tanker load is known (a pickup slot then counts pickups alone)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class TankerLoad:
    """A tanker loading at the depot's rack: it holds a bay from `start` to `end` (the trip's departure)."""

    trip_id: uuid.UUID
    plan_id: uuid.UUID
    plan_status: str  # published | draft (the newest draft of a day not yet published)
    tanker_id: uuid.UUID
    plate: str
    start: datetime
    end: datetime


class TankerLoads(Protocol):
    async def __call__(
        self, session: AsyncSession, *, depot_id: uuid.UUID, start: datetime, end: datetime
    ) -> list[TankerLoad]:
        """The loads at the depot that overlap [start, end)."""
        ...


_loads: TankerLoads | None = None


def register(loads: TankerLoads | None) -> None:
    global _loads
    _loads = loads


async def tanker_loads(
    session: AsyncSession, *, depot_id: uuid.UUID, start: datetime, end: datetime
) -> list[TankerLoad]:
    if _loads is None:
        return []
    return await _loads(session, depot_id=depot_id, start=start, end=end)


def overlapping(loads: list[TankerLoad], start: datetime, end: datetime) -> list[TankerLoad]:
    return [load for load in loads if load.start < end and load.end > start]
