"""HTTP handlers of webhooks (customers): register, list, delete, rotate the secret, and read the delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, roles_guard
from core.idempotency import check_key
from core.settings import Settings
from notify.webhooks import schemas as s
from notify.webhooks import service
from notify.webhooks.config import webhook_settings
from notify.webhooks.crypto import cipher_for
from orders.controllers import Limit, Offset

Db = NamedDependency[AsyncSession]
Now = NamedDependency[datetime]
Conf = NamedDependency[Settings]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        max_length=255,
        description="Client-chosen key: a retry with the same key returns the first answer.",
    ),
]
Req = Request[Principal, Any, Any]
CUSTOMER = roles_guard(Role.CUSTOMER)


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
        "only in this answer. After a rotation (`POST /webhooks/{id}/rotate-secret`) the header carries one "
        "signature per live secret, the new one first, comma-separated (`sha256=<new>,sha256=<previous>`): "
        "accept the delivery when any of them matches. The URL must be http(s), without credentials, and reach a "
        "public address (or one in the operator's `WEBHOOK_ALLOWED_NETWORKS`); an IPv4 address is written as four "
        "decimal numbers: else 422 `webhook_url_scheme`, `webhook_url_invalid`, `webhook_url_private` or "
        "`webhook_url_ip_spelling`. A host name is resolved at every delivery attempt, and an attempt whose host "
        "resolves to an internal address is refused and logged.",
    )
    async def create(
        self, data: JSONBody[s.WebhookIn], request: Req, db_session: Db, now: Now, settings: Conf
    ) -> s.WebhookCreatedOut:
        hooks = webhook_settings()
        webhook, secret = await service.create_webhook(
            db_session,
            data=data,
            actor=request.user,
            allowed_networks=hooks.allowed_networks,
            max_per_customer=hooks.max_per_customer,
            cipher=cipher_for(settings.auth),
            now=now,
        )
        return service.webhook_created_out(webhook, secret)

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

    @post(
        "/{webhook_id:uuid}/rotate-secret",
        status_code=HTTP_200_OK,
        summary="Replace the signing secret (the old one keeps signing during a grace period)",
        description="Answers `{id, secret, previous_secret_expires_at}`; the new secret is shown only here. Until "
        "`previous_secret_expires_at` (24 h by default) every delivery carries two signatures, "
        "`X-Diesel-Signature: sha256=<with the new secret>,sha256=<with the previous one>`, so the receiver can "
        "switch over at its own pace; after it only the new one. Rotating again within the grace period retires "
        "the older secret at once. Send an `Idempotency-Key`: a retry with the same key returns the same secret "
        "(409 `secret_rotated_again` if a later rotation has replaced it).",
    )
    async def rotate_secret(
        self,
        webhook_id: FromPath[uuid.UUID],
        request: Req,
        db_session: Db,
        now: Now,
        settings: Conf,
        idempotency_key: IdempotencyKey = None,
    ) -> s.WebhookSecretOut:
        webhook, secret = await service.rotate_secret(
            db_session,
            webhook_id,
            actor=request.user,
            idempotency_key=check_key(idempotency_key),
            cipher=cipher_for(settings.auth),
            grace_s=webhook_settings().secret_grace_s,
            now=now,
        )
        return service.secret_out(webhook, secret)

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
