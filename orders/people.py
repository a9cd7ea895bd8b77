"""A customer account's own people: its admins add users with a role in the account (core.auth.CustomerRole) and,
for orderers and approvers, an approval limit; the rules of who orders without approval and who may approve.

What each role may call over HTTP is the API's (api/people.py); who hears of what is notify/recipients.py's.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import idempotency
from core.audit import record_audit
from core.auth import CustomerRole, Principal, Role
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.ids import new_id
from core.models import User
from orders import accounts, users
from orders.models import Order
from orders.rules import check_phone

_R = CustomerRole
# Who may place orders (and pickups), and who may decide on orders awaiting approval.
ORDERING = frozenset({_R.ACCOUNT_ADMIN, _R.ORDERER, _R.APPROVER})
APPROVING = frozenset({_R.ACCOUNT_ADMIN, _R.APPROVER})
# Roles an approval limit means something for: an orderer's orders above it wait; an approver approves up to it
# (and its own orders above it wait for another approver, as an orderer's).
LIMITED = frozenset({_R.ORDERER, _R.APPROVER})


def check_limit_allowed(role: CustomerRole, limit: int | None) -> None:
    if limit is not None and role not in LIMITED:
        raise InvalidInput(
            "only orderers and approvers have an approval limit",
            code="approval_limit_not_allowed",
            field="approval_limit_minor",
        )


async def approval_limit_of(session: AsyncSession, actor: Principal) -> int | None:
    """The amount above which the actor's orders wait for an approver; None when they never wait (the account's
    admins, and orderers without a limit). Read from the user's row, so a new limit holds at once; an account
    admin's order (the hot path) reads nothing."""
    role = actor.account_role
    if role is None or role not in LIMITED:
        return None
    limit: int | None = await session.scalar(select(User.approval_limit_minor).where(User.id == actor.id))
    return limit


async def check_may_approve(session: AsyncSession, actor: Principal, order: Order) -> None:
    """An approver (or the account's admin) of the order's own account, whose approval limit covers it."""
    role = actor.account_role
    if role is None or actor.customer_id != order.customer_id:
        raise NotFound("no such order", code="order_not_found")
    if role not in APPROVING:
        raise Forbidden("only the account's approvers decide on orders awaiting approval", code="not_an_approver")
    if role == _R.APPROVER:
        limit = await approval_limit_of(session, actor)
        if limit is not None and order.amount_minor > limit:
            raise Forbidden(
                "the order is above your approval limit: an approver with a higher limit decides on it",
                code="above_your_approval_limit",
            )


# --- the account's people --------------------------------------------------------------------------------------


def _account_of(actor: Principal) -> uuid.UUID:
    if actor.account_role != _R.ACCOUNT_ADMIN or actor.customer_id is None:
        raise Forbidden("only the account's admins manage its people", code="not_account_admin")
    return actor.customer_id


def _already_there(user_id: uuid.UUID, field: str) -> Conflict:
    return Conflict(
        f"this person is already a user of your account (same {field})",
        code="person_exists",
        field=field,
        user_id=str(user_id),
    )


async def _check_new_person(session: AsyncSession, *, customer_id: uuid.UUID, username: str, phone: str | None) -> None:
    """The same person added twice (a client's retry without a key, two admins at once) is 409 `person_exists`
    naming the user made first: the same username (as logins compare it) or the same phone as one of the
    account's active users. A username of another account's user is `username_taken` (accounts.create_user)."""
    same_name = await session.scalar(
        select(User.id).where(User.customer_id == customer_id, func.lower(User.username) == username.lower())
    )
    if same_name is not None:
        raise _already_there(same_name, "username")
    if phone is not None:
        same_phone = await session.scalar(
            select(User.id)
            .where(User.customer_id == customer_id, User.phone == phone, User.is_active.is_(True))
            .order_by(User.created_at)
            .limit(1)
        )
        if same_phone is not None:
            raise _already_there(same_phone, "phone")


async def add_person(
    session: AsyncSession,
    *,
    actor: Principal,
    username: str,
    password: str,
    customer_role: CustomerRole,
    approval_limit_minor: int | None,
    display_name: str | None,
    phone: str | None,
    now: datetime,
    idempotency_key: str | None = None,
    digest: str = "",
) -> tuple[User, bool]:
    """A new user of the actor's account with its role (audited, as every user made): (user, True); or, for a
    retry with the first request's `Idempotency-Key` (and `digest`, the request's hash), the user it made: (user,
    False)."""
    customer_id = _account_of(actor)
    check_limit_allowed(customer_role, approval_limit_minor)
    number = check_phone(phone, field="phone") if phone is not None else None
    user_id = new_id()
    if idempotency_key is not None:
        first = await idempotency.claim_for(
            session, scope=f"account-users:{customer_id}", key=idempotency_key, digest=digest, resource_id=user_id
        )
        if first is not None:
            return await get_person(session, actor=actor, user_id=first), False
    await _check_new_person(session, customer_id=customer_id, username=username, phone=number)
    try:
        user = await accounts.create_user(
            session,
            user_id=user_id,
            username=username,
            password=password,
            role=Role.CUSTOMER,
            customer_id=customer_id,
            customer_role=customer_role,
            approval_limit_minor=approval_limit_minor,
            display_name=display_name,
            phone=number,
            now=now,
            actor=actor,
        )
    except Conflict as taken:  # two identical requests at once: the loser hears it is the same person
        if taken.code == "username_taken":
            await _check_new_person(session, customer_id=customer_id, username=username, phone=number)
        raise
    return user, True


async def list_people(
    session: AsyncSession, *, actor: Principal, limit: int, offset: int
) -> tuple[Sequence[User], int]:
    customer_id = _account_of(actor)
    where = (User.customer_id == customer_id, User.role == str(Role.CUSTOMER))
    total = await session.scalar(select(func.count()).select_from(User).where(*where)) or 0
    rows = (
        await session.scalars(select(User).where(*where).order_by(User.username, User.id).limit(limit).offset(offset))
    ).all()
    return rows, total


async def get_person(session: AsyncSession, *, actor: Principal, user_id: uuid.UUID, lock: bool = False) -> User:
    customer_id = _account_of(actor)
    stmt = select(User).where(User.id == user_id)
    if lock:
        stmt = stmt.with_for_update()
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None or user.customer_id != customer_id or user.role != Role.CUSTOMER:
        raise NotFound("no such user in your account", code="user_not_found")
    return user


def role_of(user: User) -> CustomerRole:
    return CustomerRole(user.customer_role) if user.customer_role else _R.ACCOUNT_ADMIN


async def update_person(
    session: AsyncSession,
    *,
    actor: Principal,
    user_id: uuid.UUID,
    now: datetime,
    customer_role: CustomerRole | None = None,
    approval_limit_minor: int | msgspec.UnsetType | None = msgspec.UNSET,
    is_active: bool | None = None,
    display_name: str | None = None,
    phone: str | None = None,
) -> tuple[User, bool]:
    """Change one of the account's people; returns (user, its logins ended). A new role or deactivation ends its
    logins at once (its token names its role). The account keeps at least one active admin: their rows are
    locked while counting, so two admins demoting each other at once cannot both succeed (409
    `last_account_admin`)."""
    customer_id = _account_of(actor)
    user = await get_person(session, actor=actor, user_id=user_id, lock=True)
    before = accounts.audited_user(user)
    old_role = role_of(user)
    new_role = customer_role if customer_role is not None else old_role
    limit = user.approval_limit_minor if isinstance(approval_limit_minor, msgspec.UnsetType) else approval_limit_minor
    if new_role not in LIMITED:
        if not isinstance(approval_limit_minor, msgspec.UnsetType) and approval_limit_minor is not None:
            check_limit_allowed(new_role, approval_limit_minor)
        limit = None
    deactivated = is_active is False and user.is_active
    role_changed = new_role != old_role
    if old_role == _R.ACCOUNT_ADMIN and user.is_active and (deactivated or role_changed):
        await _keep_one_admin(session, customer_id=customer_id, leaving=user.id)
    user.customer_role, user.approval_limit_minor = str(new_role), limit
    if is_active is not None:
        user.is_active = is_active
    if display_name is not None:
        user.display_name = display_name
    if phone is not None:
        user.phone = check_phone(phone, field="phone")
    after = accounts.audited_user(user)
    changed = sorted(key for key in after if after[key] != before[key])
    if changed:
        record_audit(
            session,
            actor=actor,
            subject_type="user",
            subject_id=user.id,
            customer_id=customer_id,
            action="customer_role_changed" if "customer_role" in changed else "user_changed",
            at=now,
            before={key: before[key] for key in changed},
            after={key: after[key] for key in changed},
        )
    ended = deactivated or role_changed
    if ended:
        await users.end_sessions(
            session, user_id=user.id, reason="deactivated" if deactivated else "role_changed", now=now
        )
    await session.flush()
    return user, ended


async def _keep_one_admin(session: AsyncSession, *, customer_id: uuid.UUID, leaving: uuid.UUID) -> None:
    rows = (
        await session.execute(
            select(User.id, User.customer_role)
            .where(User.customer_id == customer_id, User.role == str(Role.CUSTOMER), User.is_active.is_(True))
            .with_for_update()
        )
    ).all()
    others = [row_id for row_id, role in rows if row_id != leaving and (role or _R.ACCOUNT_ADMIN) == _R.ACCOUNT_ADMIN]
    if not others:
        raise Conflict(
            "the account's last active admin can be neither disabled nor given another role",
            code="last_account_admin",
        )
