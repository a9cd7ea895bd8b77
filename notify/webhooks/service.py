"""Use cases of webhook registrations: validate, create, list, delete, rotate the secret, read the delivery log."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import idempotency
from core.auth import Principal
from core.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceUnavailable
from core.ids import new_id
from notify.webhooks import schemas as s
from notify.webhooks.addresses import IPNetwork, is_numeric_host, literal_address, refusal
from notify.webhooks.crypto import SecretCipher, SecretUnreadable, webhook_context
from notify.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery
from notify.webhooks.states import DeliveryStatus
from orders.rules import OrderStatus, PickupStatus

log = logging.getLogger("diesel.webhooks")

ALL_EVENTS = "*"
# The customer-visible events of orders and pickups (the event log's `type` values).
EVENT_TYPES: frozenset[str] = frozenset(
    {f"order_{status}" for status in OrderStatus}
    | {"order_unscheduled", "order_delayed", "tanker_arrived"}
    | {f"pickup_{status}" for status in PickupStatus}
    | {"pickup_booked", "pickup_pass_sent", "pickup_checked_in"}
)
WEBHOOK_SUBJECTS = ("order", "pickup")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")


def customer_of(principal: Principal) -> uuid.UUID:
    if principal.customer_id is None:
        raise Forbidden("webhooks belong to a customer account", code="forbidden")
    return principal.customer_id


def check_url(url: str, *, allowed_networks: Sequence[IPNetwork]) -> str:
    """http(s) only, no credentials, an IP address only in its plain spelling, and no internal address unless the
    operator allowed its network (`WEBHOOK_ALLOWED_NETWORKS`).

    A host name is not resolved here: every address it has is checked each time a delivery is sent
    (`notify.webhooks.pinning`). Names that are local by convention (`localhost`, `*.local`, …) are refused now,
    unless the operator allowed some network (on-premise receivers often have such names).
    """
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
    if "@" in parts.netloc:  # even an empty user (`https://@host/`): some parsers disagree on where the host starts
        raise InvalidInput("credentials in the URL are not allowed", code="webhook_url_invalid", field="url")
    _check_host(host.rstrip("."), allowed_networks=allowed_networks)
    return url.strip()


def _check_host(host: str, *, allowed_networks: Sequence[IPNetwork]) -> None:
    address = literal_address(host)
    if address is None and is_numeric_host(host):
        raise InvalidInput(
            "the host is an IP address in an unusual spelling (decimal, hex, octal or shortened); "
            "write an IPv4 address as four decimal numbers",
            code="webhook_url_ip_spelling",
            field="url",
        )
    if address is not None:
        reason = refusal(address, allowed=allowed_networks)
        if reason is not None:
            raise InvalidInput(
                f"the URL points at an internal address ({address}: {reason})", code="webhook_url_private", field="url"
            )
    elif not allowed_networks and (host == "localhost" or host.endswith(_LOCAL_SUFFIXES)):
        raise InvalidInput("the URL points at a local host name", code="webhook_url_private", field="url")


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
    """One signature: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_header(live_secrets: Sequence[str], body: bytes) -> str:
    """The `X-Diesel-Signature` header: one signature per live secret, the newest first, comma-separated."""
    return ",".join(sign(secret, body) for secret in live_secrets)


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signing_secrets(webhook: Webhook, *, cipher: SecretCipher, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one during its grace period.

    Raises `SecretUnreadable` when the configured keys cannot open them.
    """
    context = webhook_context(webhook.id)
    found = [cipher.decrypt(webhook.secret_encrypted, context=context)]
    expires = webhook.previous_secret_expires_at
    if webhook.previous_secret_encrypted is not None and expires is not None and now < expires:
        found.append(cipher.decrypt(webhook.previous_secret_encrypted, context=context))
    return found


async def create_webhook(
    session: AsyncSession,
    *,
    data: s.WebhookIn,
    actor: Principal,
    allowed_networks: Sequence[IPNetwork],
    max_per_customer: int,
    cipher: SecretCipher,
    now: datetime,
) -> tuple[Webhook, str]:
    """The new webhook and its secret in plain text (to be shown once)."""
    customer_id = customer_of(actor)
    url = check_url(data.url, allowed_networks=allowed_networks)
    events = check_events(data.events)
    count = await session.scalar(select(func.count()).select_from(Webhook).where(Webhook.customer_id == customer_id))
    if (count or 0) >= max_per_customer:
        raise Conflict(f"at most {max_per_customer} webhooks per account", code="too_many_webhooks")
    webhook_id, secret = new_id(), _new_secret()
    webhook = Webhook(
        id=webhook_id,
        customer_id=customer_id,
        url=url,
        events=events,
        secret_encrypted=cipher.encrypt(secret, context=webhook_context(webhook_id)),
        secret_id=new_id(),
        created_by=actor.id,
        created_at=now,
    )
    session.add(webhook)
    await session.flush()
    return webhook, secret


async def list_webhooks(session: AsyncSession, *, viewer: Principal) -> Sequence[Webhook]:
    stmt = select(Webhook).where(Webhook.customer_id == customer_of(viewer)).order_by(Webhook.created_at, Webhook.id)
    return (await session.scalars(stmt)).all()


async def get_webhook(
    session: AsyncSession, webhook_id: uuid.UUID, *, viewer: Principal, lock: bool = False
) -> Webhook:
    webhook = await session.get(Webhook, webhook_id, with_for_update=lock, populate_existing=lock)
    if webhook is None or webhook.customer_id != customer_of(viewer):
        raise NotFound("no such webhook", code="webhook_not_found")
    return webhook


async def delete_webhook(session: AsyncSession, webhook_id: uuid.UUID, *, viewer: Principal) -> None:
    """Deleting stops pending deliveries too (they and their log go with it)."""
    webhook = await get_webhook(session, webhook_id, viewer=viewer)
    await session.delete(webhook)
    await session.flush()


async def rotate_secret(
    session: AsyncSession,
    webhook_id: uuid.UUID,
    *,
    actor: Principal,
    idempotency_key: str | None,
    cipher: SecretCipher,
    grace_s: int,
    now: datetime,
) -> tuple[Webhook, str]:
    """A new secret for the webhook; the current one becomes the previous one and keeps signing for `grace_s`.

    A retry with the same Idempotency-Key returns the secret the first request made, as long as it is still the
    current one (409 `secret_rotated_again` once a later rotation replaced it).
    """
    # The row lock serialises rotations of one webhook (and makes a concurrent retry wait for the first).
    webhook = await get_webhook(session, webhook_id, viewer=actor, lock=True)
    context = webhook_context(webhook.id)
    secret_id = new_id()
    if idempotency_key is not None:
        first = await idempotency.claim_for(
            session,
            scope=f"webhook-secrets:{webhook.customer_id}",
            key=idempotency_key,
            digest=hashlib.sha256(f"rotate-secret {webhook.id}".encode()).hexdigest(),
            resource_id=secret_id,
            status_code=200,
        )
        if first is not None:
            if first != webhook.secret_id:
                raise Conflict(
                    "the secret made with this Idempotency-Key was replaced by a later rotation; "
                    "rotate again with a new key",
                    code="secret_rotated_again",
                )
            return webhook, _open(cipher, webhook.secret_encrypted, context=context)
    previous: str | None = None
    if grace_s > 0:
        try:
            # Re-sealed, so it moves to the current key along with the new secret.
            previous = cipher.encrypt(cipher.decrypt(webhook.secret_encrypted, context=context), context=context)
        except SecretUnreadable as error:
            # A lost key is what a rotation repairs: the new secret alone signs from now on.
            log.warning("webhook %s: the replaced secret cannot be opened (%s); no grace period", webhook.id, error)
    secret = _new_secret()
    webhook.secret_encrypted = cipher.encrypt(secret, context=context)
    webhook.secret_id = secret_id
    webhook.previous_secret_encrypted = previous
    webhook.previous_secret_expires_at = now + timedelta(seconds=grace_s) if previous is not None else None
    await session.flush()
    return webhook, secret


def _open(cipher: SecretCipher, sealed: str, *, context: bytes) -> str:
    try:
        return cipher.decrypt(sealed, context=context)
    except SecretUnreadable as error:
        log.error("a webhook secret cannot be opened: %s", error)
        raise ServiceUnavailable(
            "the webhook secret cannot be read with the configured keys", code="webhook_secret_unreadable"
        ) from error


async def list_deliveries(
    session: AsyncSession, *, webhook: Webhook, status: str | None, limit: int, offset: int
) -> list[s.DeliveryOut]:
    conditions = [WebhookDelivery.webhook_id == webhook.id]
    if status is not None:
        if status not in DeliveryStatus.__members__.values():
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


def webhook_created_out(webhook: Webhook, secret: str) -> s.WebhookCreatedOut:
    return s.WebhookCreatedOut(
        id=webhook.id,
        url=webhook.url,
        events=list(webhook.events),
        secret=secret,
        created_at=webhook.created_at,
    )


def secret_out(webhook: Webhook, secret: str) -> s.WebhookSecretOut:
    return s.WebhookSecretOut(
        id=webhook.id, secret=secret, previous_secret_expires_at=webhook.previous_secret_expires_at
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
        next_attempt_at=delivery.next_attempt_at if delivery.status == DeliveryStatus.PENDING else None,
        delivered_at=delivery.delivered_at,
        created_at=delivery.created_at,
        attempt_log=attempts,
    )
