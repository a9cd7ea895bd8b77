"""HTTP handlers of dispatch: fleet, planning jobs, plans, publishing, pins."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, roles_guard
from core.db import after_commit
from core.hours import zone
from core.schemas import Page, Problem
from core.settings import Settings
from dispatch import bays, fleet, pins, planning, publish, roads, views
from dispatch import schemas as s
from orders.catalogue import get_depot
from orders.controllers import Limit, Offset
from orders.operators import rack_scope

Db = NamedDependency[AsyncSession]
Now = NamedDependency[datetime]
Conf = NamedDependency[Settings]
Req = Request[Principal, Any, State]
STAFF = roles_guard(Role.ADMIN, Role.DISPATCHER)


class FleetController(Controller):
    tags = ["fleet"]
    guards = [STAFF]

    @post("/tankers", summary="Add a tanker")
    async def create_tanker(self, data: JSONBody[s.TankerIn], db_session: Db) -> s.TankerOut:
        return fleet.tanker_out(await fleet.create_tanker(db_session, data=data))

    @get("/tankers", summary="Tankers")
    async def list_tankers(
        self, db_session: Db, depot_id: FromQuery[uuid.UUID | None] = None, limit: Limit = 50, offset: Offset = 0
    ) -> Page[s.TankerOut]:
        rows, total = await fleet.list_tankers(db_session, depot_id=depot_id, limit=limit, offset=offset)
        return Page(items=[fleet.tanker_out(t) for t in rows], total=total, limit=limit, offset=offset)

    @patch("/tankers/{tanker_id:uuid}", summary="Change availability, costs or shift")
    async def update_tanker(
        self, tanker_id: FromPath[uuid.UUID], data: JSONBody[s.TankerPatch], db_session: Db
    ) -> s.TankerOut:
        return fleet.tanker_out(await fleet.update_tanker(db_session, tanker_id=tanker_id, data=data))

    @post("/drivers", summary="Add a driver")
    async def create_driver(self, data: JSONBody[s.DriverIn], db_session: Db, now: Now, settings: Conf) -> s.DriverOut:
        today = now.astimezone(zone(settings.default_timezone)).date()
        return fleet.driver_out(await fleet.create_driver(db_session, data=data), today=today)

    @get("/drivers", summary="Drivers with licence validity")
    async def list_drivers(
        self, db_session: Db, now: Now, settings: Conf, limit: Limit = 50, offset: Offset = 0
    ) -> Page[s.DriverOut]:
        today = now.astimezone(zone(settings.default_timezone)).date()
        rows, total = await fleet.list_drivers(db_session, limit=limit, offset=offset)
        return Page(items=[fleet.driver_out(d, today=today) for d in rows], total=total, limit=limit, offset=offset)

    @post("/pairings", summary="Pair a driver with a tanker for a day")
    async def pair(self, data: JSONBody[s.PairingIn], db_session: Db) -> s.PairingOut:
        p = await fleet.pair(db_session, data=data)
        return s.PairingOut(id=p.id, date=p.date, tanker_id=p.tanker_id, driver_id=p.driver_id)

    @get("/pairings", summary="Pairings of a day")
    async def pairings(self, db_session: Db, day: Annotated[date, QueryParameter(name="date")]) -> list[s.PairingOut]:
        rows = await fleet.list_pairings(db_session, day=day)
        return [s.PairingOut(id=p.id, date=p.date, tanker_id=p.tanker_id, driver_id=p.driver_id) for p in rows]


class PlanningController(Controller):
    tags = ["planning"]
    guards = [STAFF]

    @post(
        "/plans",
        status_code=HTTP_202_ACCEPTED,
        summary="Plan a day (runs on the worker)",
        description="Records a planning job and queues it after the commit; follow it at `GET /plan-jobs/{id}`. "
        "One job per day and depot at a time: while one is queued or running, the same request again answers "
        "that job (200), another time limit or start is refused (409 `plan_job_active`, with its `job_id`). "
        "`start_from`: `cold` (default, the planner builds its own first plan) or `tentative` (the search starts "
        "from the delivery promise's tentative plan of the day, laid on the planner's roads and checked; the "
        "result is never worse than that start; when no tentative route can be kept the plan is built cold and "
        "its notes say so); another value is refused (400 `validation_error`). At most "
        "`PLAN_JOBS_MAX_ACTIVE` jobs wait or run at once (429 `plan_queue_full`).",
        responses={
            200: ResponseSpec(data_container=s.PlanAccepted, description="the same request while its job is active"),
            429: ResponseSpec(
                data_container=Problem,
                description="Too many planning jobs queued or running (`plan_queue_full`)",
                media_type="application/problem+json",
            ),
        },
    )
    async def request_plan(
        self, data: JSONBody[s.PlanRequest], request: Req, db_session: Db, now: Now, settings: Conf
    ) -> Response[s.PlanAccepted]:
        job, created = await planning.request_plan(
            db_session, data=data, actor=request.user, now=now, max_active=settings.broker.plan_jobs_max_active
        )
        accepted = s.PlanAccepted(job_id=job.id, status=job.status)
        if not created:
            return Response(accepted, status_code=HTTP_200_OK)  # already queued: nothing to send again
        job_id = str(job.id)

        def enqueue() -> None:
            from dispatch.tasks import plan_day

            try:
                plan_day.delay(job_id)
            except Exception:  # the broker is down: the job row is the outbox, the reaper sends it later
                import logging

                logging.getLogger("diesel.dispatch").warning("could not enqueue planning job %s yet", job_id)

        after_commit(db_session, enqueue)
        return Response(accepted, status_code=HTTP_202_ACCEPTED)

    @get("/plan-jobs/{job_id:uuid}", summary="Status, progress and best cost of a planning job")
    async def get_job(self, job_id: FromPath[uuid.UUID], db_session: Db) -> s.PlanJobOut:
        return planning.job_out(await planning.get_job(db_session, job_id))

    @post("/plan-jobs/{job_id:uuid}/cancel", status_code=HTTP_200_OK, summary="Cancel a planning job")
    async def cancel_job(self, job_id: FromPath[uuid.UUID], db_session: Db, now: Now) -> s.PlanJobOut:
        return planning.job_out(await planning.cancel_job(db_session, job_id, now=now))

    @get("/plans", summary="Recent plans (drafts, published, superseded)")
    async def list_plans(
        self, db_session: Db, day: Annotated[date | None, QueryParameter(name="date")] = None
    ) -> list[dict[str, Any]]:
        rows = await planning.list_plans(db_session, day=day)
        return [
            {
                "id": str(p.id),
                "date": p.date.isoformat(),
                "status": p.status,
                "cost_minor": p.cost_minor,
                "created_at": p.created_at.isoformat(),
                "published_at": p.published_at.isoformat() if p.published_at else None,
            }
            for p in rows
        ]

    @get("/plans/{plan_id:uuid}", summary="A plan: routes, trips, stops, totals, unassigned orders")
    async def get_plan(self, plan_id: FromPath[uuid.UUID], db_session: Db) -> s.PlanOut:
        return await views.plan_out(db_session, await planning.get_plan(db_session, plan_id))

    @get("/plans/{plan_id:uuid}/geojson", summary="The plan as GeoJSON for maps")
    async def geojson(self, plan_id: FromPath[uuid.UUID], db_session: Db, settings: Conf) -> Response[dict[str, Any]]:
        plan = await planning.get_plan(db_session, plan_id)
        body = await views.plan_geojson(db_session, plan, settings=settings)
        return Response(body, media_type="application/geo+json")

    @post("/plans/{plan_id:uuid}/publish", status_code=HTTP_200_OK, summary="Publish a plan to the drivers")
    async def publish(
        self,
        plan_id: FromPath[uuid.UUID],
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
        data: JSONBody[s.PublishIn | None] = None,
    ) -> s.PlanOut:
        """Checked by the independent checker first; a stale plan is refused unless `force` is true."""
        force = bool(data and data.force)
        plan = await publish.publish(
            db_session,
            plan_id=plan_id,
            force=force,
            actor=request.user,
            now=now,
            provider=roads.shared_matrix_provider(settings),
        )
        return await views.plan_out(db_session, plan)

    @patch("/plans/{plan_id:uuid}/stops/{stop_id:uuid}", summary="Pin or move a stop")
    async def pin_stop(
        self,
        plan_id: FromPath[uuid.UUID],
        stop_id: FromPath[uuid.UUID],
        data: JSONBody[s.StopPatch],
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
    ) -> s.PlanOut:
        """The pin is kept by every later re-plan of the day. On a draft, moving the stop to another tanker or
        position re-times the two tankers concerned at once (checked like a plan, totals recomputed), or answers
        422 saying which rule the move breaks; on a published plan the move marks the plan outdated."""
        where = pins.Roads(provider=roads.shared_matrix_provider(settings), default_tz=settings.default_timezone)
        plan = await pins.pin_stop(
            db_session, plan_id=plan_id, stop_id=stop_id, data=data, actor=request.user, now=now, roads=where
        )
        return await views.plan_out(db_session, plan)


class BaysController(Controller):
    tags = ["pickups"]

    @get(
        "/depots/{depot_id:uuid}/bays",
        guards=[roles_guard(Role.ADMIN, Role.DISPATCHER, Role.RACK_OPERATOR)],
        summary="The depot's loading bays on one calendar: customer pickups and the tankers' own loads",
        description="For the local `date` (today by default): each pickup slot with the bays its pickups and the "
        "tanker loads of the day's plan (the published one, else the newest draft) hold and the places left, "
        "and every booking given a bay (`bay` null: more bookings than bays). A rack operator sees its own "
        "depots only (403 `not_your_depot`).",
    )
    async def bay_calendar(
        self,
        depot_id: FromPath[uuid.UUID],
        request: Req,
        db_session: Db,
        settings: Conf,
        now: Now,
        day: Annotated[date | None, QueryParameter(name="date")] = None,
    ) -> bays.BayCalendar:
        if request.user.role == Role.RACK_OPERATOR:
            (await rack_scope(db_session, actor=request.user)).depot_for(depot_id)
        depot = await get_depot(db_session, depot_id)
        day = day or now.astimezone(zone(depot.timezone)).date()
        return await bays.calendar(db_session, depot_id=depot_id, day=day, rules=settings.rules)
