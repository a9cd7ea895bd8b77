"""Rack operators' depots: at which depots' racks a user may verify codes, record loadings and upload them.

A rack operator acts only at the depots assigned to it (`user_depots`); an operator with none acts nowhere. An
admin may act at any depot's rack, and says which one (every loading records who made it, as every event does).
Assignments change only through `set_depots`, which records each change (actor, before, after) as an event.
Here, below tracking, because it needs users (core) and depots (orders) only, and both the API and the CLI call it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_audit
from core.auth import Principal, Role
from core.errors import Forbidden, InvalidInput, NotFound
from core.events import record_event
from core.models import User, UserDepot
from orders.models import Depot

MAX_DEPOTS = 100


def _as_uuid(ref: uuid.UUID | str) -> uuid.UUID | None:
    if isinstance(ref, uuid.UUID):
        return ref
    try:
        return uuid.UUID(ref)
    except ValueError:
        return None


async def resolve_depots(session: AsyncSession, refs: Sequence[uuid.UUID | str]) -> list[Depot]:
    """The depots named by id or code, in the order given, without repeats. An unknown one is 422 `unknown_depot`."""
    if len(refs) > MAX_DEPOTS:
        raise InvalidInput(f"at most {MAX_DEPOTS} depots", code="too_many_depots", field="depot_ids")
    ids = {i for i in map(_as_uuid, refs) if i is not None}
    codes = {str(r) for r in refs}
    found = (await session.scalars(select(Depot).where(or_(Depot.id.in_(ids), Depot.code.in_(codes))))).all()
    by_ref: dict[uuid.UUID | str, Depot] = {d.id: d for d in found} | {d.code: d for d in found}
    resolved: dict[uuid.UUID, Depot] = {}
    for ref in refs:
        as_id = _as_uuid(ref)
        depot = (by_ref.get(as_id) if as_id else None) or by_ref.get(str(ref))
        if depot is None:
            raise InvalidInput(f"no depot '{ref}'", code="unknown_depot", field="depot_ids")
        resolved.setdefault(depot.id, depot)
    return list(resolved.values())


async def depot_ids_of(session: AsyncSession, user_id: uuid.UUID) -> frozenset[uuid.UUID]:
    rows = await session.scalars(select(UserDepot.depot_id).where(UserDepot.user_id == user_id))
    return frozenset(rows.all())


async def depots_of(session: AsyncSession, user_id: uuid.UUID) -> Sequence[Depot]:
    stmt = (
        select(Depot)
        .join(UserDepot, UserDepot.depot_id == Depot.id)
        .where(UserDepot.user_id == user_id)
        .order_by(Depot.code)
    )
    return (await session.scalars(stmt)).all()


async def set_depots(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    depots: Sequence[uuid.UUID | str],
    actor: Principal | None,
    now: datetime,
) -> list[Depot]:
    """Replace a rack operator's depots (ids or codes). Any user's list may be emptied; only a rack operator's
    may hold depots. A change is recorded as a `rack_depots_changed` event of the user and in the audit trail."""
    # The user's row is locked so two changes at once record true befores and afters.
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("no such user", code="user_not_found")
    chosen = await resolve_depots(session, depots)
    if chosen and user.role != Role.RACK_OPERATOR:
        raise InvalidInput(
            "only rack operators are assigned to depots", code="depots_only_for_rack_operators", field="depot_ids"
        )
    before = await depot_ids_of(session, user.id)
    after = frozenset(d.id for d in chosen)
    if before == after:
        return chosen
    await session.execute(delete(UserDepot).where(UserDepot.user_id == user.id, UserDepot.depot_id.in_(before - after)))
    session.add_all(UserDepot(user_id=user.id, depot_id=depot_id) for depot_id in after - before)
    record_event(
        session,
        subject_type="user",
        subject_id=user.id,
        type="rack_depots_changed",
        at=now,
        actor=actor,
        data={"before": sorted(map(str, before)), "after": sorted(map(str, after))},
    )
    record_audit(
        session,
        actor=actor,
        subject_type="user",
        subject_id=user.id,
        action="rack_depots_changed",
        at=now,
        before={"depot_ids": sorted(map(str, before))},
        after={"depot_ids": sorted(map(str, after))},
    )
    await session.flush()
    return chosen


@dataclass(frozen=True)
class RackScope:
    """The depots a caller may act at, at the rack: an operator's own, or any depot (admin: `depot_ids` None)."""

    depot_ids: frozenset[uuid.UUID] | None

    def require_a_depot(self) -> None:
        if self.depot_ids is not None and not self.depot_ids:
            raise Forbidden("you are assigned to no depot: ask an administrator", code="no_depots_assigned")

    def depot_for(self, depot_id: uuid.UUID | None) -> uuid.UUID:
        """The depot a rack request acts at: the one it names if it is the caller's, else the caller's only one."""
        self.require_a_depot()
        if depot_id is None:
            if self.depot_ids is not None and len(self.depot_ids) == 1:
                return next(iter(self.depot_ids))
            raise InvalidInput("say at which depot this rack is", code="depot_required", field="depot_id")
        if self.depot_ids is not None and depot_id not in self.depot_ids:
            raise Forbidden("this depot is not one of yours", code="not_your_depot", field="depot_id")
        return depot_id


async def rack_scope(session: AsyncSession, *, actor: Principal) -> RackScope:
    if actor.role == Role.ADMIN:
        return RackScope(depot_ids=None)
    if actor.role == Role.RACK_OPERATOR:
        return RackScope(depot_ids=await depot_ids_of(session, actor.id))
    raise Forbidden("your role may not do this", code="forbidden")
