"""Sending one delivery: claim it, POST the signed body, record the attempt and schedule the next one.

A delivery is claimed with a conditional UPDATE (pending, due, not claimed by another worker), so duplicate
messages for it do nothing; one that was delivered is never sent again. A receiver may see the same delivery
twice only if we crashed between its answer and our record of it, and then with the same delivery id.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
import msgspec
from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Event
from notify.webhooks.config import WebhookSettings
from notify.webhooks.crypto import SecretCipher, SecretUnreadable
from notify.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery
from notify.webhooks.pinning import PinnedTransport, Refused, Resolver, resolve_target, system_resolver
from notify.webhooks.schemas import event_payload
from notify.webhooks.service import signature_header, signing_secrets
from notify.webhooks.states import DeliveryStatus, move_delivery

log = logging.getLogger("diesel.webhooks")
USER_AGENT = "DieselDirect-Webhooks/1"


@dataclass(frozen=True, slots=True)
class Outgoing:
    delivery_id: uuid.UUID
    number: int  # this attempt's number, from 1
    url: str
    # The current secret first, then the previous one during its grace period (kept out of reprs and logs).
    secrets: tuple[str, ...] = field(repr=False)
    body: bytes
    unreadable: str | None = None  # why the secrets could not be opened (then nothing is sent)


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int
    permanent: bool = False  # no point retrying (e.g. the host resolves to a forbidden address)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_for(delivery_id: uuid.UUID, event: Event) -> bytes:
    """The same bytes on every attempt: `{delivery_id, event}`."""
    return msgspec.json.encode({"delivery_id": delivery_id, "event": event_payload(event)})


async def claim(
    session: AsyncSession, delivery_id: uuid.UUID, *, now: datetime, lease_s: float, cipher: SecretCipher
) -> Outgoing | None:
    """Reserve a due delivery for this worker and count the attempt; None when it is not ours to send now."""
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == DeliveryStatus.PENDING,
                WebhookDelivery.next_attempt_at <= now + timedelta(seconds=1),
                or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
            )
            .values(claimed_until=now + timedelta(seconds=lease_s), attempts=WebhookDelivery.attempts + 1)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        return None
    row = (
        await session.execute(
            select(WebhookDelivery, Webhook, Event)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .join(Event, Event.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.id == delivery_id)
        )
    ).one()
    delivery, webhook, event = row
    unreadable = None
    try:
        live_secrets = tuple(signing_secrets(webhook, cipher=cipher, now=now))
    except SecretUnreadable as error:
        # A key configuration problem, not the receiver's: logged and retried like a failed attempt.
        log.error("webhook %s: its secret cannot be opened: %s", webhook.id, error)
        live_secrets, unreadable = (), f"the webhook secret cannot be opened: {error}"[:300]
    return Outgoing(
        delivery_id=delivery.id,
        number=delivery.attempts,
        url=webhook.url,
        secrets=live_secrets,
        body=body_for(delivery.id, event),
        unreadable=unreadable,
    )


async def seconds_until_due(session: AsyncSession, delivery_id: uuid.UUID, *, now: datetime) -> float | None:
    """For a message that arrived early: how long until the delivery is due (None: nothing to wait for)."""
    delivery = await session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != DeliveryStatus.PENDING or delivery.next_attempt_at is None:
        return None
    wait = (delivery.next_attempt_at - now).total_seconds()
    return wait if wait > 1 else None


async def post(outgoing: Outgoing, *, settings: WebhookSettings, resolver: Resolver = system_resolver) -> Outcome:
    """POST the body with its signature to the address checked for it; any 2xx is accepted. Redirects are not
    followed. Nothing is sent when the host resolves to an internal address or cannot be resolved."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    if outgoing.unreadable is not None:
        return Outcome(None, outgoing.unreadable, elapsed())
    try:
        target = await resolve_target(
            outgoing.url, resolver=resolver, allowed=settings.allowed_networks, timeout_s=settings.timeout_s
        )
    except Refused as refused:
        log.warning("webhook delivery %s not sent: %s", outgoing.delivery_id, refused.detail)
        return Outcome(None, f"refused: {refused.reason}", elapsed(), permanent=refused.permanent)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Diesel-Delivery": str(outgoing.delivery_id),
        "X-Diesel-Attempt": str(outgoing.number),
        "X-Diesel-Signature": signature_header(outgoing.secrets, outgoing.body),
    }
    try:
        async with (
            httpx.AsyncClient(
                transport=PinnedTransport(target), timeout=settings.timeout_s, follow_redirects=False, trust_env=False
            ) as client,
            client.stream("POST", outgoing.url, content=outgoing.body, headers=headers) as response,
        ):
            status = response.status_code
    except httpx.TimeoutException:
        return Outcome(None, f"timed out after {settings.timeout_s:g} s", elapsed())
    except httpx.HTTPError as error:
        return Outcome(None, f"{type(error).__name__}: {error}"[:300], elapsed())
    return Outcome(status, None if 200 <= status < 300 else f"HTTP {status}", elapsed())


async def record(
    session: AsyncSession,
    outgoing: Outgoing,
    outcome: Outcome,
    *,
    now: datetime,
    settings: WebhookSettings,
) -> float | None:
    """Log the attempt and move the delivery on; returns the delay before the next attempt, if any."""
    delivery = await session.get(WebhookDelivery, outgoing.delivery_id, with_for_update=True)
    if delivery is None:  # the webhook was deleted meanwhile
        return None
    session.add(
        WebhookAttempt(
            delivery_id=outgoing.delivery_id,
            number=outgoing.number,
            at=now,
            status_code=outcome.status_code,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
    )
    delivery.claimed_until = None
    delivery.last_status_code, delivery.last_error = outcome.status_code, outcome.error
    retry_in: float | None = None
    if outcome.ok:
        move_delivery(delivery, DeliveryStatus.DELIVERED)
        delivery.delivered_at, delivery.next_attempt_at = now, None
    elif outcome.permanent or delivery.attempts >= settings.max_attempts:
        move_delivery(delivery, DeliveryStatus.FAILED)
        delivery.next_attempt_at = None
    else:
        retry_in = settings.backoff(delivery.attempts)
        delivery.next_attempt_at = now + timedelta(seconds=retry_in)
    log.info(
        "webhook delivery %s attempt %d: %s -> %s%s",
        outgoing.delivery_id,
        outgoing.number,
        outcome.status_code or outcome.error,
        delivery.status,
        f" (next in {retry_in:g} s)" if retry_in is not None else "",
    )
    await session.flush()
    return retry_in
