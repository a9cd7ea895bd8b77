"""dispatch.start_port's implementation: the tentative plan of a day, for the planner to start from."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.start_port import Routes
from orders.models import Depot
from promise.day import load_day


class TentativeRoutes:
    def __init__(self, *, default_tz: str) -> None:
        self.default_tz = default_tz

    async def __call__(self, session: AsyncSession, *, day: date, depot_ids: Sequence[uuid.UUID]) -> Routes:
        """Each depot's tentative day as the promise keeps it (this process's copy, grown again from the orders
        taken when it has none: a worker's first ask builds it as the API's first ask did)."""
        routes: Routes = {}
        for depot_id in depot_ids:
            depot = await session.get(Depot, depot_id)
            if depot is None:
                continue
            tentative = await load_day(
                session, depot_id=depot_id, day=day, default_tz=self.default_tz, extra_point=(depot.lat, depot.lon)
            )
            routes.update(tentative.tentative.routes_by_job())
        return routes
