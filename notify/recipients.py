"""Who hears of what happens to a customer account: the one place that picks the people.

Every active user of the account hears of what its role in the account is about (`hears`) and it chose in its
settings: the account's admins of everything, approvers (and admins) of orders awaiting approval, finance of money
only, orderers and viewers of everything but approval requests. A pickup pass goes to none of them: to the
phone number the customer typed for its truck's driver (`orders.rules.sms_number`, by SMS only).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import CustomerRole, Role
from core.models import User
from notify.models import NotificationPreference
from notify.preferences import Preference, preference_of

CHUNK = 500
MONEY_KINDS = frozenset({"invoice_issued", "payment_received", "credit_nearly_used"})
APPROVER_KINDS = frozenset({"approval_requested"})


def hears(role: CustomerRole, kind: str) -> bool:
    """Whether a user with `role` in its account hears of `kind` at all."""
    if kind in APPROVER_KINDS:
        return role in (CustomerRole.ACCOUNT_ADMIN, CustomerRole.APPROVER)
    if role == CustomerRole.FINANCE:
        return kind in MONEY_KINDS
    return True


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
            select(User.id, User.customer_id, User.customer_role, NotificationPreference)
            .outerjoin(NotificationPreference, NotificationPreference.user_id == User.id)
            .where(User.customer_id.in_(ids[start : start + CHUNK]), User.role == Role.CUSTOMER, User.is_active)
            .order_by(User.id)
        )
        for user_id, customer_id, customer_role, row in rows.all():
            assert customer_id is not None  # the filter
            if not hears(CustomerRole(customer_role or CustomerRole.ACCOUNT_ADMIN), kind):
                continue
            preference = preference_of(row, default_timezone=default_timezone)
            found.setdefault(customer_id, []).append(Recipient(user_id, customer_id, preference))
    return found
