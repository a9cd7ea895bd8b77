"""`PUT /users/{user_id}/depots`: an admin assigns a rack operator to the depots whose racks it may act at."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, put
from litestar.params import FromPath, JSONBody

from core.auth import Principal, Role, roles_guard
from orders import catalogue, operators
from orders.controllers import Db, Now
from orders.schemas import DepotOut

DepotIds = Annotated[
    list[uuid.UUID],
    msgspec.Meta(max_length=operators.MAX_DEPOTS, description="the depots whose racks the operator may act at"),
]


class DepotsIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    depot_ids: DepotIds


class OperatorDepotsOut(msgspec.Struct):
    user_id: uuid.UUID
    depots: list[DepotOut]


class OperatorDepotsController(Controller):
    tags = ["auth"]

    @put("/users/{user_id:uuid}/depots", guards=[roles_guard(Role.ADMIN)], summary="A rack operator's depots (admin)")
    async def set_depots(
        self,
        user_id: FromPath[uuid.UUID],
        data: JSONBody[DepotsIn],
        request: Request[Principal, Any, Any],
        db_session: Db,
        now: Now,
    ) -> OperatorDepotsOut:
        """Replaces the list (an empty one takes every depot away). Only rack operators hold depots (422
        `depots_only_for_rack_operators`); an unknown depot is 422 `unknown_depot`. The change is recorded as
        a `rack_depots_changed` event of the user (who, before, after)."""
        depots = await operators.set_depots(
            db_session, user_id=user_id, depots=data.depot_ids, actor=request.user, now=now
        )
        return OperatorDepotsOut(
            user_id=user_id, depots=[catalogue.depot_out(d) for d in sorted(depots, key=lambda d: d.code)]
        )
