"""Customer accounts, credit, sites, online applications and referrals."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

import msgspec
from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, hash_password_async
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.events import record_event
from core.hours import HoursEntry, validate_hours, zone
from core.models import User
from core.settings import OrderRules
from money import ledger
from money.models import Payment
from orders import cache
from orders import schemas as s
from orders.cache import SiteInfo
from orders.models import Application, CustomerAccount, Order, Product, Site
from orders.rules import ORDER_HOLDS_CREDIT, OrderStatus, tier_for

COUNTS_FOR_VOLUME = frozenset(ORDER_HOLDS_CREDIT | {OrderStatus.DELIVERED})


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
    """Kilograms ordered in the 365 days before `now` (orders that hold credit or were delivered)."""
    conditions = [
        Order.customer_id == customer_id,
        Order.created_at >= now - timedelta(days=365),
        Order.status.in_([str(x) for x in COUNTS_FOR_VOLUME]),
    ]
    if until is not None:
        conditions.append(Order.created_at < until)
    kg = await session.scalar(
        select(func.coalesce(func.sum(Order.quantity_litres * Product.density_kg_m3 / 1000), 0))
        .join(Product, Product.code == Order.product_code)
        .where(*conditions)
    )
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

    It comes from the yearly volume as it stood at the start of the day: orders of the 365 days before today's
    00:00 UTC. The first order of a day computes it and stores it on the account (`tier`, `tier_day`), so every
    later one reads it from the account row instead of summing the customer's orders again; a customer who
    crosses a tier boundary gets the new discount from the next day on. Pass `account` only when the caller
    holds its row lock (the stored tier is written with it); otherwise the row is only read.
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
    tier = tier_for(await yearly_volume_kg(session, customer_id, now=start, until=start), rules)
    if account is not None:
        account.tier, account.tier_day = tier, day
    return tier


async def customer_out(
    session: AsyncSession, account: CustomerAccount, *, now: datetime, rules: OrderRules
) -> s.CustomerOut:
    volume = await yearly_volume_kg(session, account.id, now=now)
    return s.CustomerOut(
        id=account.id,
        name=account.name,
        tax_id=account.tax_id,
        contact_name=account.contact_name,
        contact_phone=account.contact_phone,
        credit_limit_minor=account.credit_limit_minor,
        open_amount_minor=account.open_amount_minor,
        available_credit_minor=max(0, account.credit_limit_minor - account.open_amount_minor),
        currency=account.currency,
        # The tier that prices today's orders (from the volume at the start of the day), next to the live volume.
        tier=await tier_of_the_day(session, account.id, now=now, rules=rules),
        yearly_volume_kg=volume,
        created_at=account.created_at,
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
        credit_limit_minor=data.credit_limit_minor,
        open_amount_minor=0,
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
    account = await get_customer(session, customer_id, lock=True)
    if data.name is not None:
        account.name = data.name
    if data.contact_name is not None:
        account.contact_name = data.contact_name
    if data.contact_phone is not None:
        account.contact_phone = data.contact_phone
    if data.credit_limit_minor is not None and data.credit_limit_minor != account.credit_limit_minor:
        record_event(
            session,
            subject_type="customer",
            subject_id=account.id,
            customer_id=account.id,
            type="credit_limit_changed",
            at=now,
            actor=actor,
            data={"from": account.credit_limit_minor, "to": data.credit_limit_minor},
        )
        account.credit_limit_minor = data.credit_limit_minor
    await session.flush()
    return account


async def record_payment(
    session: AsyncSession, *, customer_id: uuid.UUID, data: s.PaymentIn, now: datetime, actor: Principal
) -> CustomerAccount:
    account = await get_customer(session, customer_id, lock=True)
    if data.amount_minor > account.open_amount_minor:
        raise InvalidInput(
            f"the payment ({data.amount_minor}) is larger than the open amount ({account.open_amount_minor})",
            code="overpayment",
            field="amount_minor",
        )
    session.add(
        Payment(
            customer_id=account.id,
            amount_minor=data.amount_minor,
            currency=account.currency,
            received_on=now.date(),
            method="bank_transfer",
            reference=data.reference,
            recorded_by=actor.id,
            recorded_at=now,
        )
    )
    account.open_amount_minor -= data.amount_minor
    record_event(
        session,
        subject_type="customer",
        subject_id=account.id,
        customer_id=account.id,
        type="payment_recorded",
        at=now,
        actor=actor,
        data={"amount_minor": data.amount_minor, "reference": data.reference},
    )
    await session.flush()
    return account


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
                func.lower(Application.username) == username.lower(), Application.status == "pending"
            )
        )
    if taken is not None or pending is not None:
        raise Conflict(f"the username '{username}' is taken", code="username_taken", field="username")


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
    pending_applications: bool = True,
) -> User:
    """`pending_applications`: also refuse a username a pending application asked for."""
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
        username=username,
        password_hash=password_hash,
        role=str(role),
        customer_id=customer_id,
        display_name=display_name,
        created_at=now,
    )
    session.add(user)
    await session.flush()
    return user


async def referral_code_for(session: AsyncSession, user_id: uuid.UUID) -> str:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("no such user", code="user_not_found")
    if user.role not in (Role.ADMIN, Role.DISPATCHER):
        raise Forbidden("only account managers have a referral code", code="no_referral_code")
    if user.referral_code is None:
        user.referral_code = secrets.token_hex(4).upper()
        await session.flush()
    return user.referral_code


# --- applications ------------------------------------------------------------------------------------------


def application_out(app: Application) -> s.ApplicationOut:
    return s.ApplicationOut(
        id=app.id,
        status=app.status,
        company_name=app.company_name,
        tax_id=app.tax_id,
        contact_name=app.contact_name,
        contact_phone=app.contact_phone,
        username=app.username,
        site=msgspec.convert(app.site, s.SiteIn),
        referred_by_id=app.referred_by_id,
        reason=app.reason,
        customer_id=app.customer_id,
        created_at=app.created_at,
    )


async def submit_application(
    session: AsyncSession, *, data: s.ApplicationIn, default_tz: str, now: datetime
) -> Application:
    """Accepted whether or not the username is free: telling an anonymous caller would let anybody list the staff's
    usernames. A clash shows when an admin approves (409 `username_taken`, to the admin), who rejects with a reason."""
    # Validate the site now, so the applicant hears about bad hours before an admin looks at it.
    new_site(data.site, customer_id=uuid.uuid4(), default_tz=default_tz, now=now)
    referred_by = None
    if data.referral_code:
        referred_by = await session.scalar(select(User.id).where(User.referral_code == data.referral_code.upper()))
        if referred_by is None:
            raise InvalidInput("unknown referral code", code="unknown_referral_code", field="referral_code")
    app = Application(
        company_name=data.company_name,
        tax_id=data.tax_id.upper(),
        contact_name=data.contact_name,
        contact_phone=data.contact_phone,
        username=data.username,
        password_hash=await hash_password_async(data.password),
        site=msgspec.to_builtins(data.site),
        referral_code=data.referral_code.upper() if data.referral_code else None,
        referred_by_id=referred_by,
        status="pending",
        created_at=now,
    )
    session.add(app)
    await session.flush()
    return app


async def get_application(session: AsyncSession, application_id: uuid.UUID) -> Application:
    app = await session.get(Application, application_id)
    if app is None:
        raise NotFound("no such application", code="application_not_found")
    return app


async def _pending_application(session: AsyncSession, application_id: uuid.UUID) -> Application:
    stmt = select(Application).where(Application.id == application_id).with_for_update()
    app = (await session.execute(stmt)).scalar_one_or_none()
    if app is None:
        raise NotFound("no such application", code="application_not_found")
    if app.status != "pending":
        raise Conflict(f"the application is already {app.status}", code="application_decided")
    return app


async def approve_application(
    session: AsyncSession,
    *,
    application_id: uuid.UUID,
    credit_limit_minor: int,
    currency: str,
    default_tz: str,
    now: datetime,
    actor: Principal,
) -> Application:
    app = await _pending_application(session, application_id)
    account = await create_customer(
        session,
        data=s.CustomerIn(
            name=app.company_name,
            credit_limit_minor=credit_limit_minor,
            tax_id=app.tax_id,
            contact_name=app.contact_name,
            contact_phone=app.contact_phone,
        ),
        currency=currency,
        now=now,
        actor=actor,
        referred_by_id=app.referred_by_id,
    )
    session.add(new_site(msgspec.convert(app.site, s.SiteIn), customer_id=account.id, default_tz=default_tz, now=now))
    # Against users only: of two pending applications for one username, the first approved gets it.
    await create_user(
        session,
        username=app.username,
        password_hash=app.password_hash,
        role=Role.CUSTOMER,
        customer_id=account.id,
        display_name=app.contact_name,
        now=now,
        pending_applications=False,
    )
    app.status, app.customer_id, app.decided_at, app.decided_by = "approved", account.id, now, actor.id
    await session.flush()
    return app


async def reject_application(
    session: AsyncSession, *, application_id: uuid.UUID, reason: str, now: datetime, actor: Principal
) -> Application:
    app = await _pending_application(session, application_id)
    app.status, app.reason, app.decided_at, app.decided_by = "rejected", reason, now, actor.id
    await session.flush()
    return app


async def list_applications(
    session: AsyncSession, *, status: str | None, limit: int, offset: int
) -> tuple[Sequence[Application], int]:
    stmt = select(Application)
    count = select(func.count()).select_from(Application)
    if status:
        stmt, count = stmt.where(Application.status == status), count.where(Application.status == status)
    rows = (await session.scalars(stmt.order_by(Application.created_at).limit(limit).offset(offset))).all()
    return rows, await session.scalar(count) or 0
