"""Customer accounts, credit, sites, online applications and referrals."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_audit
from core.auth import CustomerRole, Principal, Role, hash_password_async
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.events import record_event
from core.hours import HoursEntry, validate_hours, zone
from core.ids import new_id
from core.models import User
from core.settings import OrderRules
from money import ledger, payments
from money.models import Charge, CreditAccount
from money.payments import NewPayment
from orders import cache
from orders import schemas as s
from orders.cache import SiteInfo
from orders.models import Application, CustomerAccount, Site
from orders.rules import ApplicationStatus
from orders.tiers import tier_table


async def get_customer(
    session: AsyncSession, customer_id: uuid.UUID, *, viewer: Principal | None = None, lock: bool = False
) -> CustomerAccount:
    """The account; a customer user asking for another account gets 404, never its contents."""
    if viewer is not None and viewer.role == Role.CUSTOMER and viewer.customer_id != customer_id:
        raise NotFound("no such customer", code="customer_not_found")
    stmt = select(CustomerAccount).where(CustomerAccount.id == customer_id)
    if lock:
        stmt = stmt.with_for_update()
    account = (await session.execute(stmt)).scalar_one_or_none()
    if account is None:
        raise NotFound("no such customer", code="customer_not_found")
    return account


async def yearly_volume_kg(
    session: AsyncSession, customer_id: uuid.UUID, *, now: datetime, until: datetime | None = None
) -> int:
    """Kilograms delivered to the customer or loaded at the rack for it in the 365 days from `now` back: the net
    mass (at the standard temperature) of its charges, deliveries and pickups alike, not what was ordered."""
    conditions = [Charge.customer_id == customer_id, Charge.at >= now - timedelta(days=365)]
    if until is not None:
        conditions.append(Charge.at < until)
    kg = await session.scalar(select(func.coalesce(func.sum(Charge.net_kg), 0)).where(*conditions))
    return int(kg or 0)


def tier_day(now: datetime) -> date:
    return now.astimezone(UTC).date()


async def tier_of_the_day(
    session: AsyncSession,
    customer_id: uuid.UUID,
    *,
    now: datetime,
    rules: OrderRules,
    account: CustomerAccount | None = None,
) -> int:
    """The discount tier that prices the customer's orders and bookings today (UTC day).

    It comes from the yearly volume as it stood at the start of the day: what was delivered and loaded in the 365
    days before today's 00:00 UTC. The first order of a day computes it and stores it on the account (`tier`,
    `tier_day`), so every later one reads it from the account row instead of summing the customer's charges
    again (placed in the bands of the tier table, orders/tiers.py: a new table forgets the stored tiers at once);
    a customer who crosses a tier boundary gets the new discount from the next day on. Pass `account`
    only when the caller holds the customer's credit account lock (orders write the stored tier under it);
    otherwise the row is only read.
    """
    day = tier_day(now)
    if account is not None:
        cached_day, cached_tier = account.tier_day, account.tier
    else:
        row = (
            await session.execute(
                select(CustomerAccount.tier_day, CustomerAccount.tier).where(CustomerAccount.id == customer_id)
            )
        ).first()
        cached_day, cached_tier = (row[0], row[1]) if row is not None else (None, 0)
    if cached_day == day:
        return cached_tier
    start = datetime.combine(day, time(0), UTC)
    table = await tier_table(session)
    tier = table.tier_for(await yearly_volume_kg(session, customer_id, now=start, until=start))
    if account is not None:
        account.tier, account.tier_day = tier, day
    return tier


async def tiers_of_the_day(
    session: AsyncSession, customer_ids: Sequence[uuid.UUID], *, now: datetime
) -> dict[uuid.UUID, int]:
    """`tier_of_the_day` of many customers at once, without storing anything: the stored tier where it is today's,
    else the yearly volume at the start of the day in one grouped sum (e.g. the day's price to every customer)."""
    day = tier_day(now)
    start = datetime.combine(day, time(0), UTC)
    table = await tier_table(session)
    tiers: dict[uuid.UUID, int] = {}
    for chunk in _chunks(list(dict.fromkeys(customer_ids)), 500):
        rows = await session.execute(
            select(CustomerAccount.id, CustomerAccount.tier_day, CustomerAccount.tier).where(
                CustomerAccount.id.in_(chunk)
            )
        )
        stale = []
        for customer_id, cached_day, cached_tier in rows.all():
            if cached_day == day:
                tiers[customer_id] = cached_tier
            else:
                stale.append(customer_id)
        if stale:
            volumes = await session.execute(
                select(Charge.customer_id, func.coalesce(func.sum(Charge.net_kg), 0))
                .where(Charge.customer_id.in_(stale), Charge.at >= start - timedelta(days=365), Charge.at < start)
                .group_by(Charge.customer_id)
            )
            kg = {customer_id: int(total or 0) for customer_id, total in volumes.all()}
            tiers.update({customer_id: table.tier_for(kg.get(customer_id, 0)) for customer_id in stale})
    return tiers


def _chunks(items: list[uuid.UUID], size: int) -> list[list[uuid.UUID]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def customer_out(
    session: AsyncSession, account: CustomerAccount, *, now: datetime, rules: OrderRules
) -> s.CustomerOut:
    volume = await yearly_volume_kg(session, account.id, now=now)
    credit = await ledger.get_account(session, account.id)
    return s.CustomerOut(
        id=account.id,
        name=account.name,
        tax_id=account.tax_id,
        contact_name=account.contact_name,
        contact_phone=account.contact_phone,
        credit_limit_minor=credit.credit_limit_minor,
        open_amount_minor=credit.open_orders_minor + credit.balance_minor,
        available_credit_minor=max(0, ledger.available_minor(credit)),
        currency=account.currency,
        # The tier that prices today's orders (from the volume at the start of the day), next to the live volume.
        tier=await tier_of_the_day(session, account.id, now=now, rules=rules),
        yearly_volume_kg=volume,
        created_at=account.created_at,
        manager_id=account.manager_id,
    )


async def create_customer(
    session: AsyncSession,
    *,
    data: s.CustomerIn,
    currency: str,
    now: datetime,
    actor: Principal | None,
    referred_by_id: uuid.UUID | None = None,
) -> CustomerAccount:
    account = CustomerAccount(
        name=data.name,
        tax_id=data.tax_id,
        contact_name=data.contact_name,
        contact_phone=data.contact_phone,
        currency=currency,
        referred_by_id=referred_by_id,
        created_at=now,
    )
    session.add(account)
    await session.flush()
    await ledger.open_account(
        session, customer_id=account.id, currency=currency, credit_limit_minor=data.credit_limit_minor, now=now
    )
    record_event(
        session,
        subject_type="customer",
        subject_id=account.id,
        customer_id=account.id,
        type="customer_opened",
        at=now,
        actor=actor,
        data={"credit_limit_minor": data.credit_limit_minor},
    )
    return account


async def list_customers(
    session: AsyncSession, *, limit: int, offset: int, search: str | None = None
) -> tuple[Sequence[CustomerAccount], int]:
    """Accounts by name; `search` keeps those whose name, tax id, contact or phone contains it (any case)."""
    condition = _customer_matches(search) if search and search.strip() else true()
    total = await session.scalar(select(func.count()).select_from(CustomerAccount).where(condition)) or 0
    stmt = select(CustomerAccount).where(condition).order_by(CustomerAccount.name, CustomerAccount.id)
    rows = (await session.scalars(stmt.limit(limit).offset(offset))).all()
    return rows, total


def _customer_matches(search: str) -> ColumnElement[bool]:
    # LIKE's own wildcards in what a person typed are literal characters here.
    pattern = "%" + search.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    columns = (
        CustomerAccount.name,
        CustomerAccount.tax_id,
        CustomerAccount.contact_name,
        CustomerAccount.contact_phone,
    )
    return or_(*(func.lower(column).like(pattern, escape="\\") for column in columns))


async def update_customer(
    session: AsyncSession, *, customer_id: uuid.UUID, data: s.CustomerPatch, now: datetime, actor: Principal
) -> CustomerAccount:
    # The credit account first: the order path locks it before the customer row (orders/repository.py).
    credit = await ledger.get_account(session, customer_id, lock=True) if data.credit_limit_minor is not None else None
    account = await get_customer(session, customer_id, lock=True)
    if data.name is not None:
        account.name = data.name
    if data.contact_name is not None:
        account.contact_name = data.contact_name
    if data.contact_phone is not None:
        account.contact_phone = data.contact_phone
    if credit is not None and data.credit_limit_minor is not None:
        _change_credit_limit(session, credit, data.credit_limit_minor, now=now, actor=actor)
    await session.flush()
    return account


def _change_credit_limit(
    session: AsyncSession, credit: CreditAccount, limit_minor: int, *, now: datetime, actor: Principal
) -> None:
    """A new limit on the customer's credit account (money), with its event and its audit record."""
    before = credit.credit_limit_minor
    if limit_minor == before:
        return
    ledger.set_credit_limit(credit, limit_minor, now=now)
    record_event(
        session,
        subject_type="customer",
        subject_id=credit.customer_id,
        customer_id=credit.customer_id,
        type="credit_limit_changed",
        at=now,
        actor=actor,
        data={"from": before, "to": limit_minor},
    )
    record_audit(
        session,
        actor=actor,
        subject_type="customer",
        subject_id=credit.customer_id,
        customer_id=credit.customer_id,
        action="credit_limit_changed",
        at=now,
        before={"credit_limit_minor": before},
        after={"credit_limit_minor": limit_minor},
    )


async def record_payment(
    session: AsyncSession,
    *,
    customer_id: uuid.UUID,
    data: s.PaymentIn,
    now: datetime,
    actor: Principal,
    tz: ZoneInfo,
) -> CustomerAccount:
    """The older way to record a payment (`POST /customers/{id}/payments`), kept for its clients: money records it
    as `POST /payments` does (the ledger, allocation oldest first, held orders re-checked). At most what the
    customer owes and has open (balance + open orders), as this endpoint always allowed."""
    credit = await ledger.get_account(session, customer_id)
    open_amount = credit.open_orders_minor + credit.balance_minor
    if data.amount_minor > open_amount:
        raise InvalidInput(
            f"the payment ({data.amount_minor}) is larger than the open amount ({open_amount})",
            code="overpayment",
            field="amount_minor",
        )
    received = NewPayment(
        customer_id=customer_id,
        amount_minor=data.amount_minor,
        received_on=now.astimezone(tz).date(),
        method="bank_transfer",
        reference=data.reference,
    )
    await payments.record_payment(session, data=received, actor=actor, now=now, tz=tz)
    return await get_customer(session, customer_id)


# --- account managers --------------------------------------------------------------------------------------


async def active_manager(session: AsyncSession, user_id: uuid.UUID, *, field: str = "user_id") -> User:
    """A user who may own customers: active, staff, flagged as an account manager."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("no such user", code="user_not_found", field=field)
    if not (user.manager and user.is_active and user.role != Role.CUSTOMER):
        raise InvalidInput("this user is not an active account manager", code="not_a_manager", field=field)
    return user


async def assign_manager(
    session: AsyncSession,
    *,
    account: CustomerAccount,
    manager_id: uuid.UUID | None,
    now: datetime,
    actor: Principal | None,
    reason: str,
    data: dict[str, object] | None = None,
) -> bool:
    """Give the customer (row locked by the caller) another account manager (None: nobody). Both managers are told
    by a `customer_reassigned` event (notifications read it); the change is audited. False when nothing changed.

    `reason`: manual | application | ladder | unmanaged."""
    if manager_id is not None:
        await active_manager(session, manager_id)
    previous = account.manager_id
    if previous == manager_id:
        return False
    account.manager_id = manager_id
    details = {"from_manager_id": previous, "to_manager_id": manager_id, "reason": reason, **(data or {})}
    plain = {key: str(value) if isinstance(value, uuid.UUID) else value for key, value in details.items()}
    record_event(
        session,
        subject_type="customer",
        subject_id=account.id,
        customer_id=account.id,
        type="customer_reassigned",
        at=now,
        actor=actor,
        reason=reason,
        data=plain,
    )
    record_audit(
        session,
        actor=actor,
        subject_type="customer",
        subject_id=account.id,
        customer_id=account.id,
        action="manager_changed",
        at=now,
        before={"manager_id": previous},
        after={"manager_id": manager_id, "reason": reason},
    )
    await session.flush()
    return True


# --- sites -------------------------------------------------------------------------------------------------


def site_out(site: Site) -> s.SiteOut:
    return s.SiteOut(
        id=site.id,
        customer_id=site.customer_id,
        name=site.name,
        address=site.address,
        lat=site.lat,
        lon=site.lon,
        timezone=site.timezone,
        tank_capacity_litres=site.tank_capacity_litres,
        receiving_hours=msgspec.convert(site.receiving_hours, list[HoursEntry]),
        max_vehicle_class=site.max_vehicle_class,
        created_at=site.created_at,
    )


def new_site(data: s.SiteIn, *, customer_id: uuid.UUID, default_tz: str, now: datetime) -> Site:
    tz = data.timezone or default_tz
    zone(tz)
    validate_hours(data.receiving_hours, field="receiving_hours")
    return Site(
        customer_id=customer_id,
        name=data.name,
        address=data.address,
        lat=data.lat,
        lon=data.lon,
        timezone=tz,
        tank_capacity_litres=data.tank_capacity_litres,
        receiving_hours=msgspec.to_builtins(data.receiving_hours),
        max_vehicle_class=data.max_vehicle_class,
        created_at=now,
    )


def _own_account(actor: Principal, customer_id: uuid.UUID | None) -> uuid.UUID:
    if actor.role == Role.CUSTOMER:
        assert actor.customer_id is not None
        return actor.customer_id
    if customer_id is None:
        raise InvalidInput("staff must say for which customer (customer_id)", code="customer_required")
    return customer_id


async def create_site(
    session: AsyncSession,
    *,
    data: s.SiteIn,
    actor: Principal,
    customer_id: uuid.UUID | None,
    default_tz: str,
    now: datetime,
) -> Site:
    owner = _own_account(actor, customer_id)
    await get_customer(session, owner)
    site = new_site(data, customer_id=owner, default_tz=default_tz, now=now)
    session.add(site)
    await session.flush()
    return site


def _audited_site(site: Site) -> dict[str, object]:
    return {
        "name": site.name,
        "address": site.address,
        "lat": site.lat,
        "lon": site.lon,
        "timezone": site.timezone,
        "tank_capacity_litres": site.tank_capacity_litres,
        "receiving_hours": site.receiving_hours,
        "max_vehicle_class": site.max_vehicle_class,
    }


async def update_site(
    session: AsyncSession, *, site_id: uuid.UUID, data: s.SiteIn, actor: Principal, now: datetime
) -> Site:
    """Replace a site's name, address, pin, hours, tank and vehicle limit (its time zone stays unless given).
    Audited. Orders placed before keep their price and window; new orders and the next plans use the new values."""
    stmt = select(Site).where(Site.id == site_id).with_for_update()
    site = (await session.execute(stmt)).scalar_one_or_none()
    if site is None or (actor.role == Role.CUSTOMER and site.customer_id != actor.customer_id):
        raise NotFound("no such site", code="site_not_found")
    changed = new_site(data, customer_id=site.customer_id, default_tz=site.timezone, now=now)
    before = _audited_site(site)
    for name in before:
        setattr(site, name, getattr(changed, name))
    after = _audited_site(site)
    if after != before:
        record_audit(
            session,
            actor=actor,
            subject_type="site",
            subject_id=site.id,
            action="site_changed",
            at=now,
            before={k: v for k, v in before.items() if after[k] != v},
            after={k: v for k, v in after.items() if before[k] != v},
            customer_id=site.customer_id,
        )
        cache.invalidate(session, "sites")  # this process's order path; the others within the cache's TTL
    await session.flush()
    return site


async def site_info(session: AsyncSession, site_id: uuid.UUID, *, customer_id: uuid.UUID) -> SiteInfo:
    """The customer's own site as a snapshot, from the per-process cache (orders/cache.py)."""
    sites = cache.for_session(session).sites
    found, info = sites.get(site_id)
    if not found:
        site = await session.get(Site, site_id)
        info = None
        if site is not None:
            info = SiteInfo(
                id=site.id,
                customer_id=site.customer_id,
                lat=site.lat,
                lon=site.lon,
                timezone=site.timezone,
                tank_capacity_litres=site.tank_capacity_litres,
                receiving_hours=[HoursEntry(**h) for h in site.receiving_hours],
            )
            sites.put(site_id, info)  # only what exists: an unknown id may be a site created meanwhile
    if info is None or info.customer_id != customer_id:
        raise NotFound("no such site", code="site_not_found", field="site_id")
    assert isinstance(info, SiteInfo)
    return info


async def list_sites(
    session: AsyncSession, *, actor: Principal, customer_id: uuid.UUID | None, limit: int, offset: int
) -> tuple[Sequence[Site], int]:
    conditions = []
    if actor.role == Role.CUSTOMER:
        conditions.append(Site.customer_id == actor.customer_id)
    elif customer_id is not None:
        conditions.append(Site.customer_id == customer_id)
    total = await session.scalar(select(func.count()).select_from(Site).where(*conditions)) or 0
    stmt = select(Site).where(*conditions).order_by(Site.created_at, Site.id).limit(limit).offset(offset)
    return (await session.scalars(stmt)).all(), total


async def get_site(session: AsyncSession, site_id: uuid.UUID, *, viewer: Principal) -> Site:
    site = await session.get(Site, site_id)
    if site is None or (viewer.role == Role.CUSTOMER and site.customer_id != viewer.customer_id):
        raise NotFound("no such site", code="site_not_found", field="site_id")
    return site


# --- users and referrals -----------------------------------------------------------------------------------


async def ensure_username_free(session: AsyncSession, username: str, *, pending_applications: bool = True) -> None:
    """Staff only ever hear this answer (POST /users, approving an application): anonymous applicants never do."""
    taken = await session.scalar(select(User.id).where(func.lower(User.username) == username.lower()))
    pending = None
    if pending_applications:
        pending = await session.scalar(
            select(Application.id).where(
                func.lower(Application.username) == username.lower(), Application.status == ApplicationStatus.PENDING
            )
        )
    if taken is not None or pending is not None:
        raise username_taken(username)


def username_taken(username: str) -> Conflict:
    return Conflict(f"the username '{username}' is taken", code="username_taken", field="username")


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str | None = None,
    password_hash: str | None = None,
    role: Role,
    customer_id: uuid.UUID | None = None,
    display_name: str | None = None,
    now: datetime,
    actor: Principal | None = None,
    pending_applications: bool = True,
    customer_role: CustomerRole | None = None,
    approval_limit_minor: int | None = None,
    phone: str | None = None,
    user_id: uuid.UUID | None = None,
) -> User:
    """`pending_applications`: also refuse a username a pending application asked for. The new user is audited
    (`actor` None: the system, as the CLI and the demo are). `user_id`: chosen up front (an idempotency record
    names it)."""
    await ensure_username_free(session, username, pending_applications=pending_applications)
    if role == Role.CUSTOMER:
        if customer_id is None:
            raise InvalidInput("a customer user needs a customer account", code="customer_required")
        await get_customer(session, customer_id)
    elif customer_id is not None:
        raise InvalidInput("only customer users belong to a customer account", code="customer_not_allowed")
    if password_hash is None:
        if not password:
            raise InvalidInput("a password is required", code="password_required", field="password")
        password_hash = await hash_password_async(password)
    user = User(
        id=user_id or new_id(),
        username=username,
        password_hash=password_hash,
        role=str(role),
        customer_id=customer_id,
        # The account's first users (an admin's, an approved application's) run the account.
        customer_role=str(customer_role or CustomerRole.ACCOUNT_ADMIN) if role == Role.CUSTOMER else None,
        approval_limit_minor=approval_limit_minor if role == Role.CUSTOMER else None,
        display_name=display_name,
        phone=phone,
        created_at=now,
    )
    try:
        async with session.begin_nested():  # two requests for one username at once: its unique index decides
            session.add(user)
            await session.flush()
    except IntegrityError:
        raise username_taken(username) from None
    record_audit(
        session,
        actor=actor,
        subject_type="user",
        subject_id=user.id,
        customer_id=user.customer_id,
        action="user_created",
        at=now,
        after=audited_user(user),
    )
    return user


def audited_user(user: User) -> dict[str, object]:
    """What the audit trail keeps of a user (never its password hash)."""
    return {
        "username": user.username,
        "role": user.role,
        "customer_id": user.customer_id,
        "display_name": user.display_name,
        "phone": user.phone,
        "is_active": user.is_active,
        "customer_role": user.customer_role,
        "approval_limit_minor": user.approval_limit_minor,
    }


async def referral_code_for(session: AsyncSession, user_id: uuid.UUID) -> str:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("no such user", code="user_not_found")
    if user.role not in (Role.ADMIN, Role.DISPATCHER) and not (user.manager and user.role != Role.CUSTOMER):
        raise Forbidden("only account managers have a referral code", code="forbidden")
    if user.referral_code is None:
        user.referral_code = secrets.token_hex(4).upper()
        await session.flush()
    return user.referral_code
