"""Who hears of what happens to a customer account: the one place that picks the people.

Today every active user of the account hears of everything it chose in its settings. When accounts have roles
(account admin, orderer, approver, finance, viewer), the filter by kind goes here (e.g. invoices to finance).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Role
from core.models import User
from notify.models import NotificationPreference
from notify.preferences import Preference, preference_of

CHUNK = 500


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: uuid.UUID
    customer_id: uuid.UUID
    preference: Preference


async def recipients(
    session: AsyncSession, *, customer_ids: Collection[uuid.UUID], kind: str, default_timezone: str
) -> dict[uuid.UUID, list[Recipient]]:
    """The people of each account who may hear of `kind`, with their settings (whether they want it is theirs to
    say: `Preference.addresses`)."""
    found: dict[uuid.UUID, list[Recipient]] = {}
    ids = list(dict.fromkeys(customer_ids))
    for start in range(0, len(ids), CHUNK):
        rows = await session.execute(
            select(User.id, User.customer_id, NotificationPreference)
            .outerjoin(NotificationPreference, NotificationPreference.user_id == User.id)
            .where(User.customer_id.in_(ids[start : start + CHUNK]), User.role == Role.CUSTOMER, User.is_active)
            .order_by(User.id)
        )
        for user_id, customer_id, row in rows.all():
            assert customer_id is not None  # the filter
            preference = preference_of(row, default_timezone=default_timezone)
            found.setdefault(customer_id, []).append(Recipient(user_id, customer_id, preference))
    return found
