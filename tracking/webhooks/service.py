"""Use cases of webhook registrations: validate, create, list, delete, and read the delivery log."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from orders.rules import OrderStatus, PickupStatus
from tracking.webhooks import schemas as s
from tracking.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery

ALL_EVENTS = "*"
# The customer-visible events of orders and pickups (the event log's `type` values).
EVENT_TYPES: frozenset[str] = frozenset(
    {f"order_{status}" for status in OrderStatus}
    | {"order_unscheduled", "order_delayed", "tanker_arrived"}
    | {f"pickup_{status}" for status in PickupStatus}
    | {"pickup_booked"}
)
WEBHOOK_SUBJECTS = ("order", "pickup")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")


def customer_of(principal: Principal) -> uuid.UUID:
    if principal.customer_id is None:
        raise Forbidden("webhooks belong to a customer account", code="forbidden")
    return principal.customer_id


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_private: bool) -> str:
    """http(s) only, no credentials in the URL, and (unless allowed) no loopback, private or link-local target."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        _ = parts.port  # raises on a bad port
    except ValueError as error:
        raise InvalidInput(f"not a valid URL: {error}", code="webhook_url_invalid", field="url") from error
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("the URL must start with http:// or https://", code="webhook_url_scheme", field="url")
    if not host:
        raise InvalidInput("the URL has no host", code="webhook_url_invalid", field="url")
    if parts.username or parts.password:
        raise InvalidInput("credentials in the URL are not allowed", code="webhook_url_invalid", field="url")
    if not allow_private and _is_private_host(host):
        raise InvalidInput(
            "the URL points at a private, loopback or link-local address", code="webhook_url_private", field="url"
        )
    return url.strip()


def _is_private_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(_LOCAL_SUFFIXES):
        return True
    try:
        return not is_public_address(host)
    except ValueError:
        return False  # a name: its addresses are checked again when sending


def check_events(events: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(e.strip() for e in events))
    if ALL_EVENTS in wanted:
        return [ALL_EVENTS]
    unknown = [e for e in wanted if e not in EVENT_TYPES]
    if unknown:
        raise InvalidInput(
            f"unknown event type(s) {', '.join(unknown)}; use '*' or some of: {', '.join(sorted(EVENT_TYPES))}",
            code="unknown_event_type",
            field="events",
        )
    return wanted


def wants(webhook: Webhook, event_type: str) -> bool:
    return ALL_EVENTS in webhook.events or event_type in webhook.events


def sign(secret: str, body: bytes) -> str:
    """The `X-Diesel-Signature` header: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def create_webhook(
    session: AsyncSession,
    *,
    data: s.WebhookIn,
    actor: Principal,
    allow_private: bool,
    max_per_customer: int,
    now: datetime,
) -> Webhook:
    customer_id = customer_of(actor)
    url = check_url(data.url, allow_private=allow_private)
    events = check_events(data.events)
    count = await session.scalar(select(func.count()).select_from(Webhook).where(Webhook.customer_id == customer_id))
    if (count or 0) >= max_per_customer:
        raise Conflict(f"at most {max_per_customer} webhooks per account", code="too_many_webhooks")
    webhook = Webhook(
        customer_id=customer_id,
        url=url,
        events=events,
        secret="whsec_" + secrets.token_urlsafe(32),
        created_by=actor.id,
        created_at=now,
    )
    session.add(webhook)
    await session.flush()
    return webhook


async def list_webhooks(session: AsyncSession, *, viewer: Principal) -> Sequence[Webhook]:
    stmt = select(Webhook).where(Webhook.customer_id == customer_of(viewer)).order_by(Webhook.created_at, Webhook.id)
    return (await session.scalars(stmt)).all()


async def get_webhook(session: AsyncSession, webhook_id: uuid.UUID, *, viewer: Principal) -> Webhook:
    webhook = await session.get(Webhook, webhook_id)
    if webhook is None or webhook.customer_id != customer_of(viewer):
        raise NotFound("no such webhook", code="webhook_not_found")
    return webhook


async def delete_webhook(session: AsyncSession, webhook_id: uuid.UUID, *, viewer: Principal) -> None:
    """Deleting stops pending deliveries too (they and their log go with it)."""
    webhook = await get_webhook(session, webhook_id, viewer=viewer)
    await session.delete(webhook)
    await session.flush()


async def list_deliveries(
    session: AsyncSession, *, webhook: Webhook, status: str | None, limit: int, offset: int
) -> list[s.DeliveryOut]:
    conditions = [WebhookDelivery.webhook_id == webhook.id]
    if status is not None:
        if status not in ("pending", "delivered", "failed"):
            raise InvalidInput(f"unknown status '{status}'", code="invalid_status", field="status")
        conditions.append(WebhookDelivery.status == status)
    deliveries = (
        await session.scalars(
            select(WebhookDelivery).where(*conditions).order_by(WebhookDelivery.id.desc()).limit(limit).offset(offset)
        )
    ).all()
    attempts: dict[uuid.UUID, list[s.AttemptOut]] = {d.id: [] for d in deliveries}
    if deliveries:
        rows = await session.scalars(
            select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(list(attempts))).order_by(WebhookAttempt.number)
        )
        for a in rows:
            attempts[a.delivery_id].append(
                s.AttemptOut(
                    number=a.number, at=a.at, status_code=a.status_code, error=a.error, duration_ms=a.duration_ms
                )
            )
    return [delivery_out(d, attempts[d.id]) for d in deliveries]


def webhook_out(webhook: Webhook) -> s.WebhookOut:
    return s.WebhookOut(id=webhook.id, url=webhook.url, events=list(webhook.events), created_at=webhook.created_at)


def webhook_created_out(webhook: Webhook) -> s.WebhookCreatedOut:
    return s.WebhookCreatedOut(
        id=webhook.id,
        url=webhook.url,
        events=list(webhook.events),
        secret=webhook.secret,
        created_at=webhook.created_at,
    )


def delivery_out(delivery: WebhookDelivery, attempts: list[s.AttemptOut]) -> s.DeliveryOut:
    return s.DeliveryOut(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        status=delivery.status,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
        delivered_at=delivery.delivered_at,
        created_at=delivery.created_at,
        attempt_log=attempts,
    )
