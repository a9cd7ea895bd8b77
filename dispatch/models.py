"""The fleet: tankers with their compartments, and drivers with licences and shifts."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String, Text, Time, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, utcnow


class Tanker(IdMixin, Base):
    __tablename__ = "tankers"

    plate: Mapped[str] = mapped_column(String(16), unique=True)
    depot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("depots.id"), index=True)
    compartments_litres: Mapped[list[Any]]  # e.g. [8000, 8000, 6000, 6000]
    vehicle_class: Mapped[int]
    cost_per_km_minor: Mapped[int]
    fixed_cost_minor: Mapped[int] = mapped_column(default=0)  # per day when used
    shift_start: Mapped[time] = mapped_column(Time)  # local time at the home depot
    shift_end: Mapped[time] = mapped_column(Time)
    has_meter: Mapped[bool] = mapped_column(default=True)
    available: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Driver(IdMixin, Base):
    __tablename__ = "drivers"

    name: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), unique=True)
    phone: Mapped[str] = mapped_column(String(32))
    hazmat_licence_expires: Mapped[date] = mapped_column(Date)
    shift_start: Mapped[time] = mapped_column(Time)
    shift_end: Mapped[time] = mapped_column(Time)
    max_duty_minutes: Mapped[int] = mapped_column(default=11 * 60)
    home_depot_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("depots.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Pairing(IdMixin, Base):
    """Which driver drives which tanker on a day."""

    __tablename__ = "pairings"
    __table_args__ = (UniqueConstraint("date", "tanker_id"), UniqueConstraint("date", "driver_id"))

    date: Mapped[date] = mapped_column(Date)
    tanker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tankers.id", ondelete="CASCADE"))
    driver_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("drivers.id", ondelete="CASCADE"))


class PlanJob(IdMixin, Base):
    """A planning request, run by a Celery worker; its progress is visible while the solver runs."""

    __tablename__ = "plan_jobs"

    date: Mapped[date] = mapped_column(Date, index=True)
    depot_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("depots.id"))
    time_limit_s: Mapped[int]
    # cold: the planner builds its own first plan; tentative: it starts from the promise's tentative plan.
    start_from: Mapped[str] = mapped_column(String(12), default="cold", server_default="cold")
    status: Mapped[str] = mapped_column(String(12))  # queued | running | succeeded | failed | cancelled
    progress: Mapped[float] = mapped_column(default=0.0)
    best_cost_minor: Mapped[int | None] = mapped_column(BigInteger)
    plan_id: Mapped[uuid.UUID | None]
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Plan(IdMixin, Base):
    """A proposal of routes for a day (draft) until a dispatcher publishes it."""

    __tablename__ = "plans"
    __table_args__ = (
        Index("ix_plans_date_status", "date", "status"),
        # At most one published plan per day and scope: racing publishes cannot both win.
        Index(
            "uq_plans_published_per_day",
            "date",
            "scope",
            unique=True,
            sqlite_where=text("status = 'published'"),
            postgresql_where=text("status = 'published'"),
        ),
    )

    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("plan_jobs.id"))
    date: Mapped[date] = mapped_column(Date)
    depot_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("depots.id"))
    scope: Mapped[str] = mapped_column(String(40))  # "all" depots, or one depot's id
    status: Mapped[str] = mapped_column(String(12))  # draft | published | superseded
    cost_minor: Mapped[int] = mapped_column(BigInteger)
    distance_m: Mapped[int] = mapped_column(BigInteger)
    driving_s: Mapped[int]
    duration_s: Mapped[int]
    # The routing problem and solution as computed, so the independent checker can re-check at publish.
    problem_json: Mapped[str] = mapped_column(Text)
    solution_json: Mapped[str] = mapped_column(Text)
    # order id -> version at planning time: a plan is stale when an order changed since.
    order_versions: Mapped[dict[str, Any]]
    outdated: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    published_by: Mapped[uuid.UUID | None]
    version: Mapped[int] = mapped_column(default=1)


class PlanTrip(IdMixin, Base):
    __tablename__ = "plan_trips"
    __table_args__ = (Index("ix_plan_trips_tanker_date", "tanker_id", "date"),)

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    date: Mapped[date] = mapped_column(Date)
    tanker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tankers.id"))
    driver_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("drivers.id"))
    depot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("depots.id"))
    sequence: Mapped[int]  # 1st, 2nd ... trip of the tanker that day
    load_start: Mapped[datetime]
    depart: Mapped[datetime]
    return_at: Mapped[datetime]
    distance_m: Mapped[int] = mapped_column(BigInteger)
    loads: Mapped[list[Any]]  # [{compartment, product, litres}]
    status: Mapped[str] = mapped_column(String(12), default="planned")  # planned | loaded | en_route | done
    loaded_at: Mapped[datetime | None]
    departed_at: Mapped[datetime | None]


class PlanStop(IdMixin, Base):
    __tablename__ = "plan_stops"

    trip_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan_trips.id", ondelete="CASCADE"), index=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    sequence: Mapped[int]
    litres: Mapped[int]
    compartments: Mapped[list[Any]]
    arrival: Mapped[datetime]
    service_start: Mapped[datetime]
    departure: Mapped[datetime]
    pinned: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(12), default="planned")  # planned | arrived | delivered | failed
    eta: Mapped[datetime | None]  # re-estimated from live positions once the trip is under way
    arrived_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    fail_reason: Mapped[str | None] = mapped_column(Text)


class PlanUnassigned(IdMixin, Base):
    __tablename__ = "plan_unassigned"

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"))
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)


class Pin(IdMixin, Base):
    """A dispatcher's decision that survives re-planning: this order goes on this tanker (at this position)."""

    __tablename__ = "pins"
    __table_args__ = (UniqueConstraint("date", "order_id"),)

    date: Mapped[date] = mapped_column(Date)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    tanker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tankers.id", ondelete="CASCADE"))
    position: Mapped[int | None]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
