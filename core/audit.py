"""The audit trail: every change of prices, contract prices, credit limits, users, roles, rack operators' depots,
invoices and payments is recorded with its actor, time, and the values before and after, in the caller's unit of
work (so a change and its record commit or roll back together). Rows are only ever inserted."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.models import AuditEntry


def _plain(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """JSON-safe values (uuids, dates and decimals as text), so every database stores the same thing."""
    return None if values is None else msgspec.json.decode(msgspec.json.encode(values))


def record_audit(
    session: AsyncSession,
    *,
    actor: Principal | None,
    subject_type: str,
    subject_id: uuid.UUID | None,
    action: str,
    at: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    customer_id: uuid.UUID | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=at,
        actor_id=actor.id if actor else None,
        actor_role=str(actor.role) if actor else "system",
        subject_type=subject_type,
        subject_id=subject_id,
        customer_id=customer_id,
        action=action,
        before=_plain(before),
        after=_plain(after),
    )
    session.add(entry)
    return entry


async def list_audit(
    session: AsyncSession,
    *,
    subject_type: str | None = None,
    subject_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int,
    offset: int,
) -> tuple[Sequence[AuditEntry], int]:
    conditions = []
    if subject_type is not None:
        conditions.append(AuditEntry.subject_type == subject_type)
    if subject_id is not None:
        conditions.append(AuditEntry.subject_id == subject_id)
    if actor_id is not None:
        conditions.append(AuditEntry.actor_id == actor_id)
    if customer_id is not None:
        conditions.append(AuditEntry.customer_id == customer_id)
    if since is not None:
        conditions.append(AuditEntry.at >= since)
    if until is not None:
        conditions.append(AuditEntry.at < until)
    total = await session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions)) or 0
    rows = (
        await session.scalars(
            select(AuditEntry)
            .where(*conditions)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return rows, total
