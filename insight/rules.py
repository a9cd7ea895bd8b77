"""Pure rules of customer insight: volume bands and the ladder's levels, the usual ordering interval, the dormant
rule, quarters. No I/O."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.auth import ManagerLevel as Level


@dataclass(frozen=True, slots=True)
class Band:
    label: str
    lower_kg: int  # included
    level: Level


# Yearly net tonnes (delivered + loaded) and who is responsible: <20 t a station employee ... >500 t the region.
BANDS = (
    Band("<20t", 0, Level.STATION_EMPLOYEE),
    Band("20-50t", 20_000, Level.STATION),
    Band("50-100t", 50_000, Level.AREA),
    Band("100-500t", 100_000, Level.CITY),
    Band(">500t", 500_000, Level.REGION),
)
BAND_LABELS = tuple(b.label for b in BANDS)

# The usual interval is the median gap between a customer's last INTERVAL_ORDERS orders.
INTERVAL_ORDERS = 10
# With fewer orders than this, the usual interval says too little: the configured floor decides instead.
MIN_ORDERS_FOR_RHYTHM = 3
# A customer ordering several times a day is not quiet overnight: the rhythm's threshold is at least a day.
MIN_QUIET = timedelta(days=1)
# Reasons are looked for from this long before the last order on (what the customer lived through lately).
REASON_LOOKBACK = timedelta(days=30)
# A dormant customer visited who orders again within this long after the visit is won back.
WON_BACK = timedelta(days=60)
# The top customers of each level are visited at least once a quarter.
TOP_PER_LEVEL = 10


def band_of(net_kg: int) -> Band:
    chosen = BANDS[0]
    for band in BANDS:
        if net_kg >= band.lower_kg:
            chosen = band
    return chosen


def usual_interval(order_times: Sequence[datetime]) -> timedelta | None:
    """The median gap between consecutive orders (any order of `order_times`); None with fewer than 2."""
    ordered = sorted(order_times)[-INTERVAL_ORDERS:]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ordered)]
    return timedelta(seconds=statistics.median(gaps)) if gaps else None


def quiet_after(order_times: Sequence[datetime], *, floor: timedelta) -> timedelta | None:
    """How long after its last order a customer counts as quiet: twice its usual interval (at least a day), or
    the floor when it has ordered fewer than MIN_ORDERS_FOR_RHYTHM times. None for a customer that never ordered."""
    if not order_times:
        return None
    interval = usual_interval(order_times)
    if len(order_times) < MIN_ORDERS_FOR_RHYTHM or interval is None:
        return floor
    return max(2 * interval, MIN_QUIET)


def dormant_since(order_times: Sequence[datetime], *, now: datetime, floor: timedelta) -> datetime | None:
    """When the customer went quiet, if it is quiet at `now` (strictly longer than the threshold); else None."""
    threshold = quiet_after(order_times, floor=floor)
    if threshold is None:
        return None
    since = max(order_times) + threshold
    return since if now > since else None


@dataclass(frozen=True, slots=True)
class Quarter:
    label: str  # e.g. 2030-Q1
    start: datetime  # UTC instant of the quarter's first local midnight
    end: datetime  # exclusive


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz)


def quarter_of(now: datetime, tz: ZoneInfo) -> Quarter:
    local = now.astimezone(tz).date()
    first_month = 3 * ((local.month - 1) // 3) + 1
    start = date(local.year, first_month, 1)
    end = date(local.year + 1, 1, 1) if first_month == 10 else date(local.year, first_month + 3, 1)
    return Quarter(f"{local.year}-Q{(first_month - 1) // 3 + 1}", _midnight(start, tz), _midnight(end, tz))


def year_earlier(at: datetime, tz: ZoneInfo) -> datetime:
    """The same local date and time a year earlier (29 February becomes the 28th)."""
    local = at.astimezone(tz)
    try:
        return local.replace(year=local.year - 1)
    except ValueError:
        return local.replace(year=local.year - 1, day=28)


def local_range(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants of local days `first` .. `last` (both included): [first's midnight, the day after last's)."""
    return _midnight(first, tz), _midnight(last + timedelta(days=1), tz)


def change_pct(current: int, previous: int) -> float | None:
    return None if previous == 0 else round(100 * (current - previous) / previous, 1)


def tonnes(kg: int) -> float:
    return round(kg / 1000, 3)
