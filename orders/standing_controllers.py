"""HTTP handlers of regular orders: standing orders (`/standing-orders`) and the same again
(`POST /orders/{id}/repeat`)."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, post
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from core.idempotency import check_key
from core.schemas import Page
from orders import catalogue, delivery, standing
from orders import schemas as s
from orders.controllers import CUSTOMER, Conf, Db, IdempotencyKey, Limit, Now, Offset, Req, _created_or_replayed
from orders.models import StandingOrder, StandingOrderRun


def _status(row: StandingOrder) -> str:
    if row.cancelled_at is not None:
        return "cancelled"
    return "active"


def standing_out(row: StandingOrder, runs: list[StandingOrderRun] | None = None) -> s.StandingOrderOut:
    return s.StandingOrderOut(
        id=row.id,
        status=_status(row),
        site_id=row.site_id,
        product_code=row.product_code,
        quantity_litres=row.quantity_litres,
        weekdays=list(row.weekdays),
        window_start=row.window_start,
        window_end=row.window_end,
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        note=row.note,
        created_by=row.created_by,
        created_at=row.created_at,
        cancelled_at=row.cancelled_at,
        runs=None
        if runs is None
        else [
            s.StandingOrderRunOut(
                delivery_date=r.delivery_date, at=r.at, order_id=r.order_id, code=r.code, detail=r.detail
            )
            for r in runs
        ],
    )


class StandingOrdersController(Controller):
    tags = ["orders"]
    guards = [CUSTOMER]

    @post(
        "/standing-orders",
        summary="A weekly schedule of deliveries to a site",
        description="Real orders are placed ahead of the cut-off, once per occurrence, in the name of the user who "
        "made it (its approval limit holds). A refusal (the tank, the price, the cut-off) is told to the account. "
        "Honours `Idempotency-Key`.",
        responses={200: ResponseSpec(data_container=s.StandingOrderOut, description="a retry: the first one")},
    )
    async def create(
        self,
        data: JSONBody[s.StandingOrderIn],
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[s.StandingOrderOut]:
        row, created = await standing.create(
            db_session,
            data=data,
            actor=request.user,
            now=now,
            rules=settings.rules,
            idempotency_key=check_key(idempotency_key),
        )
        return _created_or_replayed(standing_out(row), created)

    @get("/standing-orders", summary="My account's standing orders")
    async def list_standing(
        self, request: Req, db_session: Db, limit: Limit = 50, offset: Offset = 0
    ) -> Page[s.StandingOrderOut]:
        rows, total = await standing.list_for(db_session, viewer=request.user, limit=limit, offset=offset)
        return Page(items=[standing_out(r) for r in rows], total=total, limit=limit, offset=offset)

    @get("/standing-orders/{standing_id:uuid}", summary="One standing order with its latest occurrences")
    async def get_standing(self, standing_id: FromPath[uuid.UUID], request: Req, db_session: Db) -> s.StandingOrderOut:
        row = await standing.get(db_session, standing_id, viewer=request.user)
        return standing_out(row, list(await standing.runs_of(db_session, row.id)))

    @delete(
        "/standing-orders/{standing_id:uuid}",
        status_code=HTTP_200_OK,
        summary="Cancel a standing order: no more orders from it (those placed stay)",
    )
    async def cancel_standing(
        self, standing_id: FromPath[uuid.UUID], request: Req, db_session: Db, now: Now
    ) -> s.StandingOrderOut:
        return standing_out(await standing.cancel(db_session, standing_id, actor=request.user, now=now))

    @post(
        "/orders/{order_id:uuid}/repeat",
        status_code=HTTP_201_CREATED,
        summary="Order the same again for another day",
        description="The order's site, product, quantity, window, preferred driver and note for `delivery_date`, "
        "placed as any order (rules, credit, approval). Honours `Idempotency-Key` like `POST /orders`.",
        responses={200: ResponseSpec(data_container=s.OrderOut, description="a retry: the first order")},
    )
    async def repeat(
        self,
        order_id: FromPath[uuid.UUID],
        data: JSONBody[s.RepeatIn],
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[s.OrderOut]:
        order, created = await standing.repeat_order(
            db_session,
            order_id=order_id,
            delivery_date=data.delivery_date,
            actor=request.user,
            idempotency_key=check_key(idempotency_key),
            now=now,
            rules=settings.rules,
        )
        product = await catalogue.product_info(db_session, order.product_code)
        return _created_or_replayed(delivery.order_out(order, density_kg_m3=product.density_kg_m3), created)
