"""The one rule of a promise kept: a delivery is on time when the tanker arrived (or, without a recorded arrival,
delivered) by the end of the promised window; before its start it is early (and on time); after its end it is late
by the minutes past the end. The deliveries report and the customer radar both judge deliveries here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func

from dispatch.models import PlanStop
from tracking.models import Delivery

ON_TIME = "on_time"
LATENESS = (  # (label, up to this many minutes late)
    ("<=15m", 15),
    ("15-30m", 30),
    ("30-60m", 60),
    ("1-2h", 120),
)
LATEST = ">2h"
BUCKETS = (ON_TIME, *(name for name, _ in LATENESS), LATEST)


def arrival() -> Any:
    """The SQL expression of a delivery's actual time (the query joins Delivery and, outer, its PlanStop)."""
    return func.coalesce(PlanStop.arrived_at, Delivery.delivered_at)


def minutes_late(window_end: datetime, arrived: datetime) -> float:
    """Minutes past the promised window's end (zero or less: on time)."""
    return (arrived - window_end).total_seconds() / 60


def is_late(window_end: datetime, arrived: datetime) -> bool:
    return minutes_late(window_end, arrived) > 0


def is_early(window_start: datetime, arrived: datetime) -> bool:
    return arrived < window_start


def bucket(window_end: datetime, arrived: datetime) -> str:
    """`on_time` or the lateness bucket of the delivery."""
    late = minutes_late(window_end, arrived)
    if late <= 0:
        return ON_TIME
    for name, limit in LATENESS:
        if late <= limit:
            return name
    return LATEST
