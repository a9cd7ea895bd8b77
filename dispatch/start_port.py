"""Planning may start from the delivery promise's tentative plan of the day (`POST /plans` with
`start_from: "tentative"`). The promise sits above route planning: this port, filled by the composition root
(api/app.py and the worker's command in api/cli.py register promise.start's), gives the planner its routes.
Unregistered, there is no tentative plan and the planner starts cold.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

# tanker id -> trips -> order ids (a split order's id once per part), as routing.insertion.TentativeDay keeps them.
Routes = dict[str, list[list[str]]]


class TentativeRoutes(Protocol):
    async def __call__(self, session: AsyncSession, *, day: date, depot_ids: Sequence[uuid.UUID]) -> Routes:
        """The tentative plan of the day at these depots (empty when there is none)."""
        ...


_routes: TentativeRoutes | None = None


def register(routes: TentativeRoutes | None) -> None:
    global _routes
    _routes = routes


def registered() -> bool:
    return _routes is not None


async def tentative_routes(session: AsyncSession, *, day: date, depot_ids: Sequence[uuid.UUID]) -> Routes:
    if _routes is None:
        return {}
    return await _routes(session, day=day, depot_ids=depot_ids)
