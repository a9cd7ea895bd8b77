"""Online applications for an account: a company applies with its first site, an admin approves (opening the
account, its site and its first user) or rejects it with a reason."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, hash_password_async
from core.errors import Conflict, InvalidInput, NotFound
from core.models import User
from orders import lifecycle
from orders import schemas as s
from orders.accounts import active_manager, assign_manager, create_customer, create_user, new_site
from orders.models import Application
from orders.rules import ApplicationStatus


def application_out(app: Application, *, manager_id: uuid.UUID | None = None) -> s.ApplicationOut:
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
        manager_id=manager_id,
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
        status=str(ApplicationStatus.PENDING),
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
    if app.status != ApplicationStatus.PENDING:
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
    manager_id: uuid.UUID | None = None,
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
        actor=actor,
        pending_applications=False,
    )
    lifecycle.decide_application(app, ApplicationStatus.APPROVED, now=now, actor=actor, customer_id=account.id)
    # Its account manager: the one named, or else the referrer when the referrer is an active account manager.
    if manager_id is not None:
        await active_manager(session, manager_id, field="manager_id")
    elif app.referred_by_id is not None:
        referrer = await session.get(User, app.referred_by_id)
        if referrer is not None and referrer.manager and referrer.is_active:
            manager_id = referrer.id
    if manager_id is not None:
        await assign_manager(
            session, account=account, manager_id=manager_id, now=now, actor=actor, reason="application"
        )
    await session.flush()
    return app


async def reject_application(
    session: AsyncSession, *, application_id: uuid.UUID, reason: str, now: datetime, actor: Principal
) -> Application:
    app = await _pending_application(session, application_id)
    lifecycle.decide_application(app, ApplicationStatus.REJECTED, now=now, actor=actor, reason=reason)
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
