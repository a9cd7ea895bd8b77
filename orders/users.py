"""Users after they exist: login sessions, password changes, deactivation and role changes (admin), the list.

Ending sessions here only writes the rows; the API tells every server process (api/sessions.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_audit
from core.auth import ManagerLevel, Principal, Role, check_new_password, hash_password_async, verify_password_async
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.models import AuthSession, User, UserDepot
from orders.accounts import audited_user

# Customer users belong to a customer account: a role change never turns staff into a customer or back.
CHANGEABLE_ROLES = frozenset({Role.ADMIN, Role.DISPATCHER, Role.DRIVER, Role.RACK_OPERATOR})


async def open_session(session: AsyncSession, *, user_id: uuid.UUID, now: datetime, ttl: timedelta) -> AuthSession:
    """A login: the token issued for it names this row and lives exactly as long."""
    row = AuthSession(user_id=user_id, created_at=now, expires_at=now + ttl)
    session.add(row)
    await session.flush()
    return row


async def end_session(session: AsyncSession, *, session_id: uuid.UUID, now: datetime) -> None:
    """Logout; ending a session that has ended already changes nothing."""
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.ended_at.is_(None))
        .values(ended_at=now, ended_reason="logout")
    )


async def end_sessions(
    session: AsyncSession, *, user_id: uuid.UUID, reason: str, now: datetime, keep: uuid.UUID | None = None
) -> None:
    """End every open session of the user (but `keep`)."""
    stmt = update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.ended_at.is_(None))
    if keep is not None:
        stmt = stmt.where(AuthSession.id != keep)
    await session.execute(stmt.values(ended_at=now, ended_reason=reason))


async def get_user(session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False) -> User:
    stmt = select(User).where(User.id == user_id)
    if lock:
        stmt = stmt.with_for_update()
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        raise NotFound("no such user", code="user_not_found")
    return user


@dataclass(frozen=True)
class UserFilter:
    """What the user list keeps: a role, one customer account's users, active or not, a part of the name."""

    role: str | None = None
    customer_id: uuid.UUID | None = None
    is_active: bool | None = None
    search: str | None = None
    manager: bool | None = None  # account managers (or everyone else)

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.role:
            found.append(User.role == self.role)
        if self.customer_id:
            found.append(User.customer_id == self.customer_id)
        if self.is_active is not None:
            found.append(User.is_active.is_(self.is_active))
        if self.manager is not None:
            found.append(User.manager.is_(self.manager))
        if self.search and self.search.strip():
            # LIKE's own wildcards in what a person typed are literal characters here.
            text = self.search.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{text}%"
            found.append(
                or_(
                    func.lower(User.username).like(pattern, escape="\\"),
                    func.lower(User.display_name).like(pattern, escape="\\"),
                    func.lower(User.phone).like(pattern, escape="\\"),
                )
            )
        return found


async def list_users(
    session: AsyncSession, *, limit: int, offset: int, where: UserFilter | None = None
) -> tuple[Sequence[User], int]:
    conditions = (where or UserFilter()).conditions()
    total = await session.scalar(select(func.count()).select_from(User).where(*conditions)) or 0
    stmt = select(User).where(*conditions).order_by(User.username, User.id).limit(limit).offset(offset)
    return (await session.scalars(stmt)).all(), total


async def depots_by_user(session: AsyncSession, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The depots of each of these users (rack operators'), in one query for a page of users."""
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    if not user_ids:
        return found
    rows = await session.execute(
        select(UserDepot.user_id, UserDepot.depot_id)
        .where(UserDepot.user_id.in_(user_ids))
        .order_by(UserDepot.depot_id)
    )
    for user_id, depot_id in rows:
        found.setdefault(user_id, []).append(depot_id)
    return found


async def reset_password(
    session: AsyncSession, *, user_id: uuid.UUID, new_password: str, actor: Principal, now: datetime
) -> User:
    """An administrator sets a user's password (a forgotten one): every login of the user ends at once. The
    audit trail says who reset it and when, never the password."""
    user = await get_user(session, user_id, lock=True)
    check_new_password(new_password, field="password")
    user.password_hash = await hash_password_async(new_password)
    await end_sessions(session, user_id=user.id, reason="password_reset", now=now)
    record_audit(
        session,
        actor=actor,
        subject_type="user",
        subject_id=user.id,
        customer_id=user.customer_id,
        action="password_reset",
        at=now,
    )
    await session.flush()
    return user


async def change_password(
    session: AsyncSession,
    *,
    actor: Principal,
    current_password: str,
    new_password: str,
    now: datetime,
) -> User:
    """The user's own password; every other session of the user ends (the one asking stays logged in)."""
    user = await get_user(session, actor.id, lock=True)
    if not await verify_password_async(user.password_hash, current_password):
        raise Forbidden("the current password is wrong", code="wrong_password", field="current_password")
    check_new_password(new_password, field="new_password")
    user.password_hash = await hash_password_async(new_password)
    await end_sessions(session, user_id=user.id, reason="password_changed", now=now, keep=actor.session_id)
    record_audit(
        session,
        actor=actor,
        subject_type="user",
        subject_id=user.id,
        customer_id=user.customer_id,
        action="password_changed",
        at=now,
    )
    await session.flush()
    return user


async def update_user(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    actor: Principal,
    now: datetime,
    is_active: bool | None = None,
    role: Role | None = None,
    display_name: str | None = None,
    phone: str | None = None,
    manager: bool | None = None,
    manager_level: ManagerLevel | None = None,
) -> tuple[User, bool]:
    """Change a user (admin). Deactivation or a new role ends all its sessions; the answer says whether they ended.
    A change is audited with the fields that changed, before and after.

    The last active admin can be neither deactivated nor demoted: the admins' rows are locked while counting, so
    two admins demoting each other at once cannot both succeed."""
    user = await get_user(session, user_id, lock=True)
    if role is not None and role != user.role and {Role(user.role), role} - CHANGEABLE_ROLES:
        raise InvalidInput(
            "a customer user cannot become staff, nor staff a customer", code="role_change_not_allowed", field="role"
        )
    deactivated = is_active is False and user.is_active
    new_role = role is not None and role != user.role
    if user.role == Role.ADMIN and user.is_active and (deactivated or new_role):
        await _keep_one_admin(session, leaving=user.id)
    before = audited_user(user)
    if is_active is not None:
        user.is_active = is_active
    if role is not None:
        user.role = str(role)
    if display_name is not None:
        user.display_name = display_name
    if phone is not None:
        user.phone = phone
    _audit_change(session, user, before=before, actor=actor, now=now)
    _set_manager(session, user, manager=manager, level=manager_level, actor=actor, now=now)
    ended = deactivated or new_role
    if ended:
        reason = "deactivated" if deactivated else "role_changed"
        await end_sessions(session, user_id=user.id, reason=reason, now=now)
    await session.flush()
    return user, ended


def _audit_change(
    session: AsyncSession, user: User, *, before: dict[str, object], actor: Principal, now: datetime
) -> None:
    after = audited_user(user)
    changed = sorted(key for key in after if after[key] != before[key])
    if not changed:
        return
    record_audit(
        session,
        actor=actor,
        subject_type="user",
        subject_id=user.id,
        customer_id=user.customer_id,
        action="role_changed" if "role" in changed else "user_changed",
        at=now,
        before={key: before[key] for key in changed},
        after={key: after[key] for key in changed},
    )


def _set_manager(
    session: AsyncSession,
    user: User,
    *,
    manager: bool | None,
    level: ManagerLevel | None,
    actor: Principal | None,
    now: datetime,
) -> None:
    """Make a staff user an account manager (or not) and set its level on the ladder; audited. A manager who
    stops being one keeps its customers until the ladder (or an admin) gives them to another."""
    before = {"manager": user.manager, "manager_level": user.manager_level}
    if (manager or level is not None) and user.role == Role.CUSTOMER:
        raise InvalidInput(
            "a customer user cannot be an account manager", code="customer_cannot_manage", field="manager"
        )
    if manager is not None:
        user.manager = manager
    if level is not None:
        user.manager_level = str(level)
    after = {"manager": user.manager, "manager_level": user.manager_level}
    if after != before:
        record_audit(
            session,
            actor=actor,
            subject_type="user",
            subject_id=user.id,
            action="manager_changed",
            at=now,
            before=before,
            after=after,
        )


async def _keep_one_admin(session: AsyncSession, *, leaving: uuid.UUID) -> None:
    admins = (
        await session.scalars(
            select(User.id).where(User.role == str(Role.ADMIN), User.is_active.is_(True)).with_for_update()
        )
    ).all()
    if not [a for a in admins if a != leaving]:
        raise Conflict("the last active admin can be neither disabled nor given another role", code="last_admin")
