"""How the domains are joined where a lower layer may not import a higher one: ports and listeners, filled here.

Both composition roots call `wire_domains`: the HTTP app (api/app.py) and the Celery worker (`diesel worker`),
so an order placed by the worker (a standing order) takes its place in the fleet's day exactly as one placed
through the API, and a payment recorded by either re-checks the account's held orders.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from dispatch import bays, start_port
from money import credit
from orders import bay_port, delivery, promise_port
from promise.availability import FleetPromise
from promise.start import TentativeRoutes


def wire_domains(settings: Settings) -> None:
    async def recheck_held_orders(session: AsyncSession, customer_id: uuid.UUID, now: datetime) -> None:
        await delivery.recheck_held_orders(session, customer_id=customer_id, now=now, rules=settings.rules)

    # A payment or a credit note frees credit: held orders are re-checked in the same unit of work.
    credit.on_credit_freed(recheck_held_orders, name="orders.recheck_held_orders")
    # The delivery promise: an order's place in the fleet's day, taken when it is placed (orders.lifecycle).
    promise_port.register(
        FleetPromise(settings=settings.promise, rules=settings.rules, default_tz=settings.default_timezone)
    )
    # Planning may start from the promise's tentative plan (dispatch.start_port).
    start_port.register(TentativeRoutes(default_tz=settings.default_timezone))
    # One bay calendar: pickup slots count the tanker loads of the planned and published trips (dispatch.bays).
    bay_port.register(bays.tanker_loads)
