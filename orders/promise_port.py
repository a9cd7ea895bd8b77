"""The delivery promise as the orders domain sees it: a port the composition root fills (api/app.py registers
promise/'s implementation). Orders sit below route planning and cannot call it themselves.

`orders.lifecycle.take_place` asks it, before an order is written, whether the fleet can still serve the order in
its window; `orders.delivery.quote` asks it for the earliest window a quote can promise (and, when the fleet is
full that day, a pickup slot instead).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from orders import schemas as s


@dataclass(frozen=True, slots=True)
class PlaceRequest:
    """An order about to be written (its rules checked), as the promise needs it."""

    order_id: uuid.UUID
    site_id: uuid.UUID
    depot_id: uuid.UUID
    product_code: str
    litres: int
    delivery_date: date
    window_start: datetime
    window_end: datetime
    now: datetime


@dataclass(frozen=True, slots=True)
class QuoteRequest:
    site_id: uuid.UUID
    depot_id: uuid.UUID
    product_code: str
    litres: int
    delivery_date: date
    now: datetime


class Promise(Protocol):
    async def place(self, session: AsyncSession, request: PlaceRequest) -> str | None:
        """Take the order's place in the day (serialised per depot and day until the unit of work ends): None
        when it fits, else the reason it does not (`no_tanker_free`, `compartments_full`, `shift_ends`, ...)."""
        ...

    async def answer(self, session: AsyncSession, request: QuoteRequest) -> s.PromiseAnswer:
        """The earliest window, and when the fleet is full on the quote's day, says so with a pickup slot."""
        ...

    @property
    def refuses(self) -> bool:
        """True: an order that does not fit is refused (409 `window_full`); False: it is taken and flagged."""
        ...


_promise: Promise | None = None


def register(promise: Promise | None) -> None:
    global _promise
    _promise = promise


def current() -> Promise | None:
    return _promise
