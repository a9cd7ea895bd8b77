"""HTTP handlers of the delivery promise."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, roles_guard
from core.settings import Settings
from promise import availability
from promise.schemas import WindowOut

CUSTOMER_OR_STAFF = roles_guard(Role.CUSTOMER, Role.ADMIN, Role.DISPATCHER)
Db = NamedDependency[AsyncSession]
Now = NamedDependency[datetime]
Conf = NamedDependency[Settings]
Req = Request[Principal, Any, Any]


class PromiseController(Controller):
    tags = ["promise"]

    @get(
        "/availability",
        guards=[CUSTOMER_OR_STAFF],
        summary="The windows of a day the fleet can still serve for an order",
        description="Each window (PROMISE_WINDOW_MINUTES long, from the serving depot's opening) with `feasible`, "
        "the `reason` when not (`site_closed`, `cut_off`, `no_tanker_free`, `compartments_full`, `shift_ends`, "
        "`depot_closed`, `no_vehicle_class`, `too_large`, `unreachable`) and what serving it adds to the day's "
        "plan (`marginal_cost_minor`), with the orders already taken.",
    )
    async def availability(
        self,
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
        site_id: FromQuery[uuid.UUID],
        product_code: Annotated[str, QueryParameter(max_length=40)],
        quantity_litres: Annotated[int, QueryParameter(ge=1, le=10_000_000)],
        day: Annotated[date, QueryParameter(name="date")],
    ) -> list[WindowOut]:
        return await availability.availability(
            db_session,
            site_id=site_id,
            product_code=product_code,
            litres=quantity_litres,
            day=day,
            viewer=request.user,
            now=now,
            rules=settings.rules,
            settings=settings.promise,
            default_tz=settings.default_timezone,
        )
