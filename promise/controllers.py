"""HTTP handlers of the delivery promise."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, roles_guard
from core.settings import Settings
from promise import availability, proposals
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
        "plan (`marginal_cost_minor`), with the orders already taken. The body stays a list of windows; the "
        "header `X-Fleet-Full: true` says that the fleet is full that day (no window feasible for a reason of the "
        "fleet, not only `site_closed` or `cut_off`): `POST /quotes` then proposes the next feasible window "
        "(`earliest_window`, maybe another day) and a pickup slot (`pickup_alternative`).",
        response_headers=[
            ResponseHeader(
                name=proposals.FLEET_FULL_HEADER,
                description="`true` when the fleet can serve no window of the day, else `false`",
                documentation_only=True,
            )
        ],
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
    ) -> Response[list[WindowOut]]:
        windows = await availability.availability(
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
        full = "true" if proposals.fleet_full(windows) else "false"
        return Response(windows, headers={proposals.FLEET_FULL_HEADER: full})
