"""Planning jobs and plans: request, progress, cancel, store a solved day as a draft plan."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime

from sqlalchemy import ColumnElement, Update, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

import routing
from core.auth import Principal
from core.errors import Conflict, NotFound, TooManyRequests
from core.ids import new_id
from dispatch import schemas as s
from dispatch.builder import DayContext
from dispatch.models import Plan, PlanJob, PlanStop, PlanTrip, PlanUnassigned
from dispatch.states import JOB_ACTIVE, JobStatus, PlanStatus, move_job
from orders.catalogue import get_depot

ACTIVE = tuple(str(x) for x in JOB_ACTIVE)
REASON_WORDS = {
    "no_vehicle_class": "No tanker small enough for this site (vehicle size limit) is on duty.",
    "window_unreachable": "No tanker can reach the site within its receiving hours and get back within its shift.",
    "too_large": "The quantity is larger than the tankers on duty can carry in a day.",
    "capacity": "The fleet on duty cannot carry the whole day's demand; this order lost out.",
    "compartments": "No trip had compartments free for this grade.",
    "not_selected": "Serving it would cost more than leaving it for another day.",
    "no_tanker": "No tanker with a licensed driver is on duty at the serving depot.",
    "unreachable": "No road leads from a depot on duty to this site (check its location).",
}


def job_out(job: PlanJob) -> s.PlanJobOut:
    return s.PlanJobOut(
        id=job.id,
        date=job.date,
        depot_id=job.depot_id,
        status=job.status,
        progress=round(job.progress, 3),
        best_cost=job.best_cost_minor,
        plan_id=job.plan_id,
        error=job.error,
        time_limit_s=job.time_limit_s,
        start_from=job.start_from,
        attempts=job.attempts,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


class PlanJobActive(Conflict):
    code = "plan_job_active"


class PlanQueueFull(TooManyRequests):
    code = "plan_queue_full"


async def request_plan(
    session: AsyncSession, *, data: s.PlanRequest, actor: Principal, now: datetime, max_active: int
) -> tuple[PlanJob, bool]:
    """A new queued job (True), or the job already queued or running for the same day and depot (False).

    One job per day and depot at a time: the same request again (a retry, a second click) joins it; another
    time limit or start is refused with 409 `plan_job_active` naming it. At most `max_active` jobs wait or run at
    once, all days and depots together (429 `plan_queue_full`): staff cannot bury the worker under jobs.
    """
    if data.depot_id is not None:
        await get_depot(session, data.depot_id)
    await _one_plan_request_at_a_time(session)
    active = await _active_job(session, day=data.date, depot_id=data.depot_id)
    if active is not None:
        if (active.time_limit_s, active.start_from) != (data.time_limit_s, data.start_from):
            raise PlanJobActive(
                f"a planning job for this day and depot is {active.status} already; wait for it or cancel it first",
                job_id=str(active.id),
            )
        return active, False
    if await _count_active(session) >= max_active:
        raise PlanQueueFull(
            f"{max_active} planning jobs are queued or running already; wait for one to finish or cancel one"
        )
    job = PlanJob(
        date=data.date,
        depot_id=data.depot_id,
        time_limit_s=data.time_limit_s,
        start_from=data.start_from,
        status=str(JobStatus.QUEUED),
        created_by=actor.id,
        created_at=now,
    )
    session.add(job)
    await session.flush()
    return job, True


# Any 64-bit number no other advisory lock uses: held by one plan request at a time, until its commit.
_PLAN_REQUESTS_LOCK = 0x706C616E5F6A6F62  # "plan_job"


async def _one_plan_request_at_a_time(session: AsyncSession) -> None:
    """Two requests checking for an active job at once would both find none and both queue one. PostgreSQL:
    a transaction-scoped advisory lock. SQLite: nothing to do, every transaction there begins IMMEDIATE (one
    writer at a time, core/db.py), so the checks that follow run alone."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(_PLAN_REQUESTS_LOCK)))


def _is_active() -> ColumnElement[bool]:
    # A job told to stop no longer holds its day: the solver ends at its next progress report.
    return and_(PlanJob.status.in_(ACTIVE), PlanJob.cancel_requested.is_(False))


async def _active_job(session: AsyncSession, *, day: date, depot_id: uuid.UUID | None) -> PlanJob | None:
    same_depot = PlanJob.depot_id.is_(None) if depot_id is None else PlanJob.depot_id == depot_id
    stmt = select(PlanJob).where(_is_active(), PlanJob.date == day, same_depot).order_by(PlanJob.created_at)
    return (await session.scalars(stmt.limit(1))).first()


async def _count_active(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(PlanJob).where(_is_active())) or 0


async def get_job(session: AsyncSession, job_id: uuid.UUID, *, lock: bool = False) -> PlanJob:
    stmt = select(PlanJob).where(PlanJob.id == job_id)
    if lock:
        stmt = stmt.with_for_update()
    job = (await session.execute(stmt)).scalar_one_or_none()
    if job is None:
        raise NotFound("no such planning job", code="plan_job_not_found")
    return job


async def cancel_job(session: AsyncSession, job_id: uuid.UUID, *, now: datetime) -> PlanJob:
    job = await get_job(session, job_id, lock=True)
    if job.status not in ACTIVE:
        raise Conflict(f"the job is already {job.status}", code="job_finished")
    job.cancel_requested = True
    if job.status == JobStatus.QUEUED:
        move_job(job, JobStatus.CANCELLED)
        job.finished_at = now
    await session.flush()
    return job


async def start_job(session: AsyncSession, job_id: uuid.UUID, *, now: datetime) -> PlanJob | None:
    """Claim a queued job for this worker (or a running one whose worker died); None when there is nothing to do."""
    job = await get_job(session, job_id, lock=True)
    if job.cancel_requested and job.status in ACTIVE:
        move_job(job, JobStatus.CANCELLED)
        job.finished_at = now
        return None
    if job.status not in ACTIVE:
        return None  # a duplicate delivery of a finished job: idempotent no-op
    move_job(job, JobStatus.RUNNING)
    job.attempts, job.started_at, job.heartbeat_at = job.attempts + 1, now, now
    job.progress, job.error = 0.0, None
    await session.flush()
    return job


def progress_update(job_id: uuid.UUID, *, progress: float, best_cost: int | None, now: datetime) -> Update:
    values: dict[str, object] = {"progress": progress, "heartbeat_at": now}
    if best_cost is not None:
        values["best_cost_minor"] = best_cost
    return update(PlanJob).where(PlanJob.id == job_id, PlanJob.status == JobStatus.RUNNING).values(**values)


async def fail_job(session: AsyncSession, job_id: uuid.UUID, *, error: str, now: datetime) -> None:
    job = await get_job(session, job_id, lock=True)
    if job.status in ACTIVE:
        move_job(job, JobStatus.FAILED)
        job.error, job.finished_at = error[:2000], now


async def store_plan(
    session: AsyncSession, *, job_id: uuid.UUID, context: DayContext, result: routing.Result, now: datetime
) -> Plan | None:
    """Save the solved day as a draft plan, unless the job was cancelled while the solver ran."""
    job = await get_job(session, job_id, lock=True)
    if job.cancel_requested or job.status != JobStatus.RUNNING:
        if job.status in ACTIVE:
            move_job(job, JobStatus.CANCELLED)
            job.finished_at = now
        return None
    solution = result.solution
    plan = Plan(
        job_id=job.id,
        date=context.day,
        depot_id=job.depot_id,
        scope=str(job.depot_id) if job.depot_id else "all",
        status=str(PlanStatus.DRAFT),
        cost_minor=solution.cost_minor,
        distance_m=solution.distance_m,
        driving_s=0,
        duration_s=solution.duration_s,
        problem_json=routing.encode_problem(context.problem).decode(),
        solution_json=routing.encode_solution(solution).decode(),
        order_versions={
            "versions": context.order_versions,
            "notes": context.notes + preference_notes(context, solution),
            "frozen_trips": context.frozen_trip_ids,
        },
        created_at=now,
    )
    session.add(plan)
    await session.flush()
    await _store_rows(session, plan, context, solution)
    move_job(job, JobStatus.SUCCEEDED)
    job.plan_id, job.progress, job.finished_at = plan.id, 1.0, now
    job.best_cost_minor = solution.cost_minor
    await session.flush()
    return plan


def preference_notes(context: DayContext, solution: routing.Solution) -> list[str]:
    """Say so when an order's preferred driver (their tanker) does not carry it."""
    carried_by = {
        stop.job_id: route.tanker_id for route in solution.routes for trip in route.trips for stop in trip.stops
    }
    left_out = {u.job_id for u in solution.unassigned}
    notes = []
    for job in context.problem.jobs:
        wanted = job.preferred_tanker_id
        if wanted is None or job.id in left_out or carried_by.get(job.id) == wanted:
            continue
        notes.append(
            f"Order {context.references.get(job.id, job.id)}: its preferred driver could not take it "
            "(their tanker's trips were full or could not reach the site in its window); another driver is planned."
        )
    return notes


async def _store_rows(session: AsyncSession, plan: Plan, context: DayContext, solution: routing.Solution) -> None:
    await add_route_rows(
        session,
        plan,
        context.problem,
        solution.routes,
        at=context.at,
        first_sequence={t: n + 1 for t, n in context.frozen_trips_per_tanker.items()},
    )
    for left in solution.unassigned:
        session.add(
            PlanUnassigned(
                plan_id=plan.id,
                order_id=uuid.UUID(left.job_id),
                reason=str(left.reason),
                detail=REASON_WORDS.get(str(left.reason), left.detail),
            )
        )
    plan.driving_s = driving_seconds(solution)
    await session.flush()


async def add_route_rows(
    session: AsyncSession,
    plan: Plan,
    problem: routing.Problem,
    routes: Sequence[routing.Route],
    *,
    at: Callable[[int], datetime],
    first_sequence: dict[str, int],
    keep_ids: dict[tuple[str, int], uuid.UUID] | None = None,
) -> None:
    """Trip and stop rows of these routes; ids are chosen here, so all trips go in one flush, all stops in another.

    ``keep_ids`` gives trips and stops their former ids: (tanker id, trip sequence) and (order id, part).
    """
    keep_ids = keep_ids or {}
    pinned = {p.job_id for p in problem.options.pins}
    tankers = {t.id: t for t in problem.tankers}
    parts: dict[str, int] = defaultdict(int)
    trips: list[PlanTrip] = []
    stops: list[PlanStop] = []
    for route in routes:
        tanker = tankers[route.tanker_id]
        for sequence, trip in enumerate(route.trips, start=first_sequence.get(route.tanker_id, 1)):
            trip_id = keep_ids.get((route.tanker_id, sequence)) or new_id()
            trips.append(
                PlanTrip(
                    id=trip_id,
                    plan_id=plan.id,
                    date=plan.date,
                    tanker_id=uuid.UUID(route.tanker_id),
                    driver_id=uuid.UUID(tanker.driver_id) if tanker.driver_id else None,
                    depot_id=uuid.UUID(trip.depot_id),
                    sequence=sequence,
                    load_start=at(trip.load_start_s),
                    depart=at(trip.depart_s),
                    return_at=at(trip.return_s),
                    distance_m=trip.distance_m,
                    loads=[
                        {"compartment": x.compartment, "product": x.product, "litres": x.litres} for x in trip.loads
                    ],
                )
            )
            for index, stop in enumerate(trip.stops, start=1):
                part = parts[stop.job_id]
                parts[stop.job_id] += 1
                stops.append(
                    PlanStop(
                        id=keep_ids.get((stop.job_id, part)) or new_id(),
                        trip_id=trip_id,
                        plan_id=plan.id,
                        order_id=uuid.UUID(stop.job_id),
                        sequence=index,
                        litres=stop.litres,
                        compartments=list(stop.compartments),
                        arrival=at(stop.arrival_s),
                        service_start=at(stop.start_s),
                        departure=at(stop.departure_s),
                        pinned=stop.job_id in pinned,
                    )
                )
    session.add_all(trips)
    await session.flush()  # the stops' foreign key needs their trips first
    session.add_all(stops)


def driving_seconds(solution: routing.Solution) -> int:
    """Time on the road: each trip from departure to return, less the time spent at its stops."""
    return sum(
        max(0, trip.return_s - trip.depart_s - sum(stop.departure_s - stop.arrival_s for stop in trip.stops))
        for route in solution.routes
        for trip in route.trips
    )


async def get_plan(session: AsyncSession, plan_id: uuid.UUID, *, lock: bool = False) -> Plan:
    stmt = select(Plan).where(Plan.id == plan_id)
    if lock:
        stmt = stmt.with_for_update()
    plan = (await session.execute(stmt)).scalar_one_or_none()
    if plan is None:
        raise NotFound("no such plan", code="plan_not_found")
    return plan


async def list_plans(session: AsyncSession, *, day: date | None) -> Sequence[Plan]:
    stmt = select(Plan).order_by(Plan.created_at.desc())
    if day is not None:
        stmt = stmt.where(Plan.date == day)
    return (await session.scalars(stmt.limit(100))).all()
