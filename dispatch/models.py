"""The fleet: tankers with their compartments, and drivers with licences and shifts."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Date, ForeignKey, String, Time
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
