"""HTTP handlers of webhooks (customers): register, list, delete, and read the delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, roles_guard
from tracking.webhooks import schemas as s
from tracking.webhooks import service
from tracking.webhooks.config import webhook_settings

Db = NamedDependency[AsyncSession]
Now = NamedDependency[datetime]
Req = Request[Principal, Any, Any]
CUSTOMER = roles_guard(Role.CUSTOMER)
Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0, le=10**9)]


class WebhooksController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]
    guards = [CUSTOMER]

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Register a URL for status events",
        description="Every delivery is a POST of `{delivery_id, event}` signed with the returned `secret` in "
        "`X-Diesel-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, with `X-Diesel-Delivery: <id>`; a 2xx "
        "answer within 5 s accepts it, anything else is retried with exponential backoff. The secret is shown "
        "only in this answer.",
    )
    async def create(self, data: JSONBody[s.WebhookIn], request: Req, db_session: Db, now: Now) -> s.WebhookCreatedOut:
        settings = webhook_settings()
        webhook = await service.create_webhook(
            db_session,
            data=data,
            actor=request.user,
            allow_private=settings.allow_private,
            max_per_customer=settings.max_per_customer,
            now=now,
        )
        return service.webhook_created_out(webhook)

    @get("/", summary="My webhooks (secrets are not shown again)")
    async def list_webhooks(self, request: Req, db_session: Db) -> list[s.WebhookOut]:
        return [service.webhook_out(w) for w in await service.list_webhooks(db_session, viewer=request.user)]

    @get("/event-types", summary="The event types a webhook may ask for ('*' for all)")
    async def event_types(self) -> list[str]:
        return sorted(service.EVENT_TYPES)

    @get("/{webhook_id:uuid}", summary="One webhook")
    async def get_webhook(self, webhook_id: FromPath[uuid.UUID], request: Req, db_session: Db) -> s.WebhookOut:
        return service.webhook_out(await service.get_webhook(db_session, webhook_id, viewer=request.user))

    @delete("/{webhook_id:uuid}", status_code=HTTP_204_NO_CONTENT, summary="Remove a webhook and stop its deliveries")
    async def delete_webhook(self, webhook_id: FromPath[uuid.UUID], request: Req, db_session: Db) -> None:
        await service.delete_webhook(db_session, webhook_id, viewer=request.user)

    @get("/{webhook_id:uuid}/deliveries", summary="Deliveries, newest first, with every attempt")
    async def deliveries(
        self,
        webhook_id: FromPath[uuid.UUID],
        request: Req,
        db_session: Db,
        status: Annotated[str | None, QueryParameter(description="pending | delivered | failed")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> list[s.DeliveryOut]:
        webhook = await service.get_webhook(db_session, webhook_id, viewer=request.user)
        return await service.list_deliveries(db_session, webhook=webhook, status=status, limit=limit, offset=offset)
