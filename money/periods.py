"""Billing periods (pure): which period a day falls in, and which periods are complete by a given day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class BillingPeriod(StrEnum):
    PER_DELIVERY = "per_delivery"  # one invoice per charge
    WEEKLY = "weekly"  # Monday to Sunday
    MONTHLY = "monthly"  # the calendar month


def period_of(day: date, billing: BillingPeriod) -> tuple[date, date]:
    """The first and last day of the period `day` belongs to."""
    if billing == BillingPeriod.WEEKLY:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if billing == BillingPeriod.MONTHLY:
        start = day.replace(day=1)
        return start, _next_month(start) - timedelta(days=1)
    return day, day


def last_complete_day(period_end: date, billing: BillingPeriod) -> date:
    """The last day of the last period that is complete on `period_end` (a run invoices nothing after it)."""
    if billing == BillingPeriod.WEEKLY:
        return period_end - timedelta(days=(period_end.weekday() + 1) % 7)  # the Sunday on or before
    if billing == BillingPeriod.MONTHLY:
        if (period_end + timedelta(days=1)).day == 1:
            return period_end
        return period_end.replace(day=1) - timedelta(days=1)
    return period_end


def end_of_day_utc(day: date, tz: ZoneInfo) -> datetime:
    """The instant `day` ends in `tz` (the next local midnight), in UTC: what happened before is of `day` or earlier."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


def _next_month(first: date) -> date:
    return first.replace(year=first.year + 1, month=1) if first.month == 12 else first.replace(month=first.month + 1)
