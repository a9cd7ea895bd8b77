"""An injectable clock: business code receives `now` from it and never reads the wall clock itself."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """For tests: a clock that only moves when told to."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at

    def advance(self, delta: timedelta) -> None:
        self._at += delta


async def stopped_within(event: asyncio.Event, wait_s: float) -> bool:
    """Wait up to `wait_s` for `event`; whether it is set.  A loop's pause that a stop request cuts short,
    so the loop's task is stopped by asking and awaiting it, never by cancelling it mid-work."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(wait_s):
            await event.wait()
    return event.is_set()
