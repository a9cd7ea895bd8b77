"""Weekly opening / receiving hours in local time: `[{"days": [1..7], "open": "HH:MM", "close": "HH:MM"}]`.

ISO weekdays (1 = Monday). A window never crosses midnight: a depot open all night is written as two entries
(e.g. 18:00-24:00 and 00:00-06:00 of the next day); "24:00" is allowed as a closing time.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from core.errors import InvalidInput

HHMM = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$", examples=["06:00"])]


class HoursEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    days: Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=7)]], msgspec.Meta(min_length=1, max_length=7)]
    open: HHMM
    close: HHMM


WeeklyHours = list[HoursEntry]
ALWAYS_OPEN: WeeklyHours = [HoursEntry(days=[1, 2, 3, 4, 5, 6, 7], open="00:00", close="24:00")]


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def validate_hours(hours: WeeklyHours, *, field: str) -> WeeklyHours:
    if not hours:
        raise InvalidInput("at least one opening window is needed", code="invalid_hours", field=field)
    if len(hours) > 21:
        raise InvalidInput("too many opening windows (at most 21)", code="invalid_hours", field=field)
    per_day: dict[int, list[tuple[int, int]]] = {}
    for entry in hours:
        start, end = _minutes(entry.open), _minutes(entry.close)
        if start >= end:
            raise InvalidInput(
                f"opening window {entry.open}-{entry.close} must open before it closes "
                "(split windows that cross midnight in two)",
                code="invalid_hours",
                field=field,
            )
        if len(set(entry.days)) != len(entry.days):
            raise InvalidInput("a day is listed twice in one window", code="invalid_hours", field=field)
        for day in entry.days:
            per_day.setdefault(day, []).append((start, end))
    for day, windows in per_day.items():
        windows.sort()
        for (_, end_a), (start_b, _) in itertools.pairwise(windows):
            if start_b < end_a:
                raise InvalidInput(f"opening windows overlap on day {day}", code="invalid_hours", field=field)
    return hours


def local_windows(hours: WeeklyHours, day: date, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The day's windows as aware datetimes in `tz`, in order."""
    weekday = day.isoweekday()
    out = []
    for entry in hours:
        if weekday in entry.days:
            start = datetime.combine(day, time(0), tz) + timedelta(minutes=_minutes(entry.open))
            end = datetime.combine(day, time(0), tz) + timedelta(minutes=_minutes(entry.close))
            out.append((start, end))
    return sorted(out)


def within(hours: WeeklyHours, start: datetime, end: datetime, tz: ZoneInfo) -> bool:
    """Whether [start, end] lies inside one window of the local day of `start`."""
    return any(s <= start and end <= e for s, e in local_windows(hours, start.astimezone(tz).date(), tz))


def zone(name: str, *, field: str = "timezone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInput(f"unknown time zone '{name}'", code="invalid_timezone", field=field) from error
