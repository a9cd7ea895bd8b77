"""Who sees which customers: admin and finance see every customer; an account manager (any staff role with the
`manager` flag) sees its own; other staff see none of the account managers' figures."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role
from core.errors import Forbidden
from core.models import User

SEES_ALL = frozenset({Role.ADMIN, Role.FINANCE})


@dataclass(frozen=True, slots=True)
class Viewer:
    id: uuid.UUID
    role: Role
    is_manager: bool
    sees_all: bool


async def viewer_of(session: AsyncSession, principal: Principal, *, also_all: frozenset[Role] = SEES_ALL) -> Viewer:
    """The caller as insight sees it (the `manager` flag is read from its row: tokens do not carry it).

    `also_all`: the roles that see every customer here (dispatchers, too, for the deliveries report)."""
    user = await session.get(User, principal.id)
    is_manager = bool(user is not None and user.is_active and user.manager and principal.role != Role.CUSTOMER)
    sees_all = principal.role in also_all
    if not (sees_all or is_manager):
        raise Forbidden("only account managers, admins and finance see this", code="forbidden")
    return Viewer(id=principal.id, role=principal.role, is_manager=is_manager, sees_all=sees_all)


def manager_scope(viewer: Viewer, manager_id: uuid.UUID | None) -> uuid.UUID | None:
    """The manager whose customers to show (None: every customer). A manager asking for another's gets 403."""
    if viewer.sees_all:
        return manager_id
    if manager_id is not None and manager_id != viewer.id:
        raise Forbidden("an account manager sees its own customers only", code="not_your_customers")
    return viewer.id
