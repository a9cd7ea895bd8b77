"""The tentative plan a background solve stored for a (depot, day), shared by every process (promise.tasks)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class TentativePlan(Base):
    """One row per (depot, day). ``order_ids`` are the day's orders holding a place when a rebuild last ran (the
    drift is measured against them); ``routes`` (tanker id -> trips -> order ids, a split order once per part) and
    ``solved_at`` change only when that run's solve beat the plan grown by insertion, and each process's kept day
    restarts from them when ``solved_at`` is newer than what it started from."""

    __tablename__ = "tentative_plans"

    depot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("depots.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    order_ids: Mapped[list[Any]]
    attempted_at: Mapped[datetime]
    routes: Mapped[dict[str, Any]]
    solved_at: Mapped[datetime | None]
    cost_minor: Mapped[int | None]  # the stored plan's cost (penalties of unassigned orders included)
    insertion_cost_minor: Mapped[int | None]  # what the plan grown by insertion cost for the same orders
    unassigned: Mapped[int] = mapped_column(default=0)
    # Set while a rebuild solves the day (another run leaves it alone until then): a worker that dies mid-solve
    # holds it no longer than this.
    solving_until: Mapped[datetime | None]
