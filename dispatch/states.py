"""The lifecycles of dispatch's rows: planning jobs, plans, trips and stops. Each is a StrEnum, a map of the allowed
moves, and one function that checks a move and makes it (the only place their `status` is assigned; tracking moves
trips and stops on the road through these too). A move the map does not allow raises InvalidTransition (409)."""

from __future__ import annotations

from enum import StrEnum

from core.statemachine import check_transition
from dispatch.models import Plan, PlanJob, PlanStop, PlanTrip


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


_J = JobStatus
JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    _J.QUEUED: frozenset({_J.RUNNING, _J.CANCELLED, _J.FAILED}),
    # Running again: a worker claims a job whose worker died; queued again: the reaper re-sends it.
    _J.RUNNING: frozenset({_J.RUNNING, _J.SUCCEEDED, _J.FAILED, _J.CANCELLED, _J.QUEUED}),
    _J.SUCCEEDED: frozenset(),
    _J.FAILED: frozenset(),
    _J.CANCELLED: frozenset(),
}
JOB_ACTIVE = frozenset({_J.QUEUED, _J.RUNNING})


def move_job(job: PlanJob, target: JobStatus) -> None:
    check_transition(JOB_TRANSITIONS, JobStatus(job.status), target, subject="planning job")
    job.status = str(target)


class PlanStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"


_P = PlanStatus
PLAN_TRANSITIONS: dict[PlanStatus, frozenset[PlanStatus]] = {
    _P.DRAFT: frozenset({_P.PUBLISHED}),
    _P.PUBLISHED: frozenset({_P.SUPERSEDED}),
    _P.SUPERSEDED: frozenset(),
}


def move_plan(plan: Plan, target: PlanStatus) -> None:
    check_transition(PLAN_TRANSITIONS, PlanStatus(plan.status), target, subject="plan")
    plan.status = str(target)


class TripStatus(StrEnum):
    PLANNED = "planned"
    LOADED = "loaded"
    EN_ROUTE = "en_route"
    DONE = "done"


_T = TripStatus
TRIP_TRANSITIONS: dict[TripStatus, frozenset[TripStatus]] = {
    _T.PLANNED: frozenset({_T.LOADED}),
    _T.LOADED: frozenset({_T.EN_ROUTE}),
    _T.EN_ROUTE: frozenset({_T.DONE}),
    _T.DONE: frozenset(),
}


def move_trip(trip: PlanTrip, target: TripStatus) -> None:
    check_transition(TRIP_TRANSITIONS, TripStatus(trip.status), target, subject="trip")
    trip.status = str(target)


class StopStatus(StrEnum):
    PLANNED = "planned"
    ARRIVED = "arrived"
    DELIVERED = "delivered"
    FAILED = "failed"


_S = StopStatus
STOP_TRANSITIONS: dict[StopStatus, frozenset[StopStatus]] = {
    _S.PLANNED: frozenset({_S.ARRIVED, _S.DELIVERED, _S.FAILED}),
    _S.ARRIVED: frozenset({_S.DELIVERED, _S.FAILED}),
    _S.DELIVERED: frozenset(),
    _S.FAILED: frozenset(),
}
STOP_FINISHED = frozenset({_S.DELIVERED, _S.FAILED})


def move_stop(stop: PlanStop, target: StopStatus) -> None:
    check_transition(STOP_TRANSITIONS, StopStatus(stop.status), target, subject="stop")
    stop.status = str(target)
