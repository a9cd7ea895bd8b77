"""`GET /audit`: who changed what, when, before and after (admin)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter

from core import audit
from core.auth import Role, roles_guard
from core.errors import InvalidInput
from core.models import AuditEntry
from core.schemas import Page
from orders.controllers import Db, Limit, Offset

Since = Annotated[datetime | None, QueryParameter(name="from", description="at or after (ISO 8601, with offset)")]
Until = Annotated[datetime | None, QueryParameter(name="to", description="before (ISO 8601, with offset)")]


class AuditEntryOut(msgspec.Struct):
    id: uuid.UUID
    at: datetime
    actor_id: uuid.UUID | None
    actor_role: str
    subject_type: str
    subject_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def entry_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=entry.id,
        at=entry.at,
        actor_id=entry.actor_id,
        actor_role=entry.actor_role,
        subject_type=entry.subject_type,
        subject_id=entry.subject_id,
        customer_id=entry.customer_id,
        action=entry.action,
        before=entry.before,
        after=entry.after,
    )


class AuditController(Controller):
    tags = ["audit"]

    @get("/audit", guards=[roles_guard(Role.ADMIN)], summary="The audit trail, newest first (admin)")
    async def list_audit(
        self,
        db_session: Db,
        subject_type: FromQuery[str | None] = None,
        subject_id: FromQuery[uuid.UUID | None] = None,
        actor_id: FromQuery[uuid.UUID | None] = None,
        customer_id: FromQuery[uuid.UUID | None] = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[AuditEntryOut]:
        if since is not None and until is not None and until < since:
            raise InvalidInput("`to` is before `from`", code="invalid_range", field="to")
        rows, total = await audit.list_audit(
            db_session,
            subject_type=subject_type,
            subject_id=subject_id,
            actor_id=actor_id,
            customer_id=customer_id,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
        return Page(items=[entry_out(e) for e in rows], total=total, limit=limit, offset=offset)
