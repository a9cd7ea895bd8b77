"""Credit freed: domains above money hear, inside the same unit of work, that a customer's available credit grew
(a payment, a credit note), so that held orders are re-checked at once.

Money sits below the orders domain and cannot call it; the composition root registers the listeners (api/app.py).
A listener is awaited with (session, customer_id, now) before the unit of work commits: what it changes commits or
rolls back with the payment.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

CreditListener = Callable[[AsyncSession, uuid.UUID, datetime], Awaitable[object]]

# By name, so that registering again (another app in the same process, e.g. in tests) replaces, never doubles.
_listeners: dict[str, CreditListener] = {}


def on_credit_freed(listener: CreditListener, *, name: str | None = None) -> CreditListener:
    _listeners[name or f"{listener.__module__}.{listener.__qualname__}"] = listener
    return listener


def remove_listener(name: str) -> None:
    _listeners.pop(name, None)


def listener_names() -> list[str]:
    return list(_listeners)


async def credit_freed(session: AsyncSession, *, customer_id: uuid.UUID, now: datetime) -> None:
    for listener in list(_listeners.values()):
        await listener(session, customer_id, now)
