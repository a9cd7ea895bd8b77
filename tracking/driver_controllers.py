"""HTTP handlers of the driver's app, the customer's receipt code and order tracking."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, roles_guard
from core.db import after_commit
from core.events import positions_committed
from core.hours import zone
from core.settings import Settings
from orders.delivery import get_order
from tracking import driver as service
from tracking import qr
from tracking import schemas as s
from tracking.keystore import keyring_for
from tracking.order_view import order_tracking
from tracking.positions import PositionStore

Db = NamedDependency[AsyncSession]
Now = NamedDependency[datetime]
Conf = NamedDependency[Settings]
Req = Request[Principal, Any, State]
DRIVER = roles_guard(Role.DRIVER)
CUSTOMER_OR_STAFF = roles_guard(Role.CUSTOMER, Role.ADMIN, Role.DISPATCHER)


class DriverController(Controller):
    tags = ["driver"]
    guards = [DRIVER]

    @get("/driver/route", summary="My trips and stops of a day, in order")
    async def route(
        self,
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
        day: Annotated[date | None, QueryParameter(name="date")] = None,
    ) -> s.DriverRouteOut:
        """Only this driver's trips: no other driver's trips, orders or tankers, no whole-plan totals or notes."""
        driver = await service.driver_of(db_session, request.user)
        day = day or now.astimezone(zone(settings.default_timezone)).date()
        return await service.driver_route(db_session, driver=driver, day=day)

    @get("/driver/trips/{trip_id:uuid}/code", summary="The load code of a trip, for the rack")
    async def trip_code(
        self, trip_id: FromPath[uuid.UUID], request: Req, db_session: Db, now: Now, settings: Conf
    ) -> s.CodeOut:
        driver = await service.driver_of(db_session, request.user)
        return await service.trip_code(
            db_session, trip_id=trip_id, driver=driver, keyring=keyring_for(settings.codes), settings=settings, now=now
        )

    @get("/driver/trips/{trip_id:uuid}/qr.svg", media_type="image/svg+xml", summary="The load code as a QR code")
    async def trip_qr(
        self, trip_id: FromPath[uuid.UUID], request: Req, db_session: Db, now: Now, settings: Conf
    ) -> Response[bytes]:
        driver = await service.driver_of(db_session, request.user)
        code = await service.trip_code(
            db_session, trip_id=trip_id, driver=driver, keyring=keyring_for(settings.codes), settings=settings, now=now
        )
        return Response(qr.render_svg(code.token), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})

    @post("/driver/trips/{trip_id:uuid}/depart", status_code=HTTP_200_OK, summary="The loaded trip leaves")
    async def depart(self, trip_id: FromPath[uuid.UUID], request: Req, db_session: Db, now: Now) -> dict[str, str]:
        driver = await service.driver_of(db_session, request.user)
        trip = await service.depart_trip(db_session, trip_id=trip_id, driver=driver, actor=request.user, now=now)
        return {"trip_id": str(trip.id), "status": trip.status}

    @post("/driver/positions", status_code=HTTP_200_OK, summary="A batch of positions from the cab")
    async def positions(
        self, data: JSONBody[list[s.PositionIn]], request: Req, db_session: Db, now: Now
    ) -> s.PositionsAccepted:
        driver = await service.driver_of(db_session, request.user)
        store: PositionStore = request.app.state.position_store
        accepted = await service.record_positions(
            db_session, driver=driver, positions=data, store=store, now=now, actor=request.user
        )
        # The dispatch console's live map (published after the commit like every other live event).
        after_commit(db_session, lambda: positions_committed(data))
        return accepted

    @post("/stops/{stop_id:uuid}/arrive", status_code=HTTP_200_OK, summary="Arrived at the site")
    async def arrive(self, stop_id: FromPath[uuid.UUID], request: Req, db_session: Db, now: Now) -> s.StopActionOut:
        driver = await service.driver_of(db_session, request.user)
        return await service.arrive(db_session, stop_id=stop_id, driver=driver, actor=request.user, now=now)

    @post("/stops/{stop_id:uuid}/deliver", status_code=HTTP_200_OK, summary="Delivered: metered litres and proof")
    async def deliver(
        self,
        stop_id: FromPath[uuid.UUID],
        data: JSONBody[s.DeliverIn],
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
    ) -> s.StopActionOut:
        """Proof is the customer's receipt code (scanned from their phone) or a reason with a photo or signature."""
        driver = await service.driver_of(db_session, request.user)
        return await service.deliver(
            db_session,
            stop_id=stop_id,
            data=data,
            driver=driver,
            actor=request.user,
            keyring=keyring_for(settings.codes),
            base_temperature_c=settings.standard_temperature_c,
            now=now,
        )

    @post("/stops/{stop_id:uuid}/fail", status_code=HTTP_200_OK, summary="Could not deliver, with the reason")
    async def fail(
        self, stop_id: FromPath[uuid.UUID], data: JSONBody[s.FailIn], request: Req, db_session: Db, now: Now
    ) -> s.StopActionOut:
        driver = await service.driver_of(db_session, request.user)
        return await service.fail(
            db_session, stop_id=stop_id, reason=data.reason, driver=driver, actor=request.user, now=now
        )


class OrderTrackingController(Controller):
    tags = ["tracking"]
    guards = [CUSTOMER_OR_STAFF]

    @get("/orders/{order_id:uuid}/receipt-code", summary="The receipt code the driver scans on delivery")
    async def receipt_code(
        self, order_id: FromPath[uuid.UUID], request: Req, db_session: Db, now: Now, settings: Conf
    ) -> s.CodeOut:
        return await _receipt(request, order_id, db_session, settings, now)

    @get("/orders/{order_id:uuid}/receipt-code.svg", media_type="image/svg+xml", summary="The receipt QR (SVG)")
    async def receipt_svg(
        self, order_id: FromPath[uuid.UUID], request: Req, db_session: Db, now: Now, settings: Conf
    ) -> Response[bytes]:
        code = await _receipt(request, order_id, db_session, settings, now)
        return Response(qr.render_svg(code.token), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})

    @get("/orders/{order_id:uuid}/receipt-code.png", media_type="image/png", summary="The receipt QR (PNG)")
    async def receipt_png(
        self, order_id: FromPath[uuid.UUID], request: Req, db_session: Db, now: Now, settings: Conf
    ) -> Response[bytes]:
        code = await _receipt(request, order_id, db_session, settings, now)
        return Response(qr.render_png(code.token), media_type="image/png", headers={"Cache-Control": "no-store"})

    @get("/orders/{order_id:uuid}/tracking", summary="Status, tanker position, ETA and the planned route")
    async def tracking(self, order_id: FromPath[uuid.UUID], request: Req, db_session: Db) -> s.TrackingOut:
        """Staff see the whole trip. A customer sees its own stop and the depot, the tanker's position only while
        the tanker is on its way to that stop (loaded or en route, the stop not yet done), and nothing live once
        the order is delivered, failed or cancelled."""
        order = await get_order(db_session, order_id, viewer=request.user)
        store: PositionStore = request.app.state.position_store
        return await order_tracking(db_session, order=order, viewer=request.user, positions=store)


async def _receipt(
    request: Req, order_id: uuid.UUID, session: AsyncSession, settings: Settings, now: datetime
) -> s.CodeOut:
    order = await get_order(session, order_id, viewer=request.user)
    return await service.receipt_code(
        session, order=order, keyring=keyring_for(settings.codes), settings=settings, now=now
    )
