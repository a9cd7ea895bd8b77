"""The lifecycle of a webhook delivery: pending until the receiver accepts it (delivered) or the attempts run out or
the address is refused for good (failed). A retry keeps it pending with a later `next_attempt_at`."""

from __future__ import annotations

from enum import StrEnum

from core.statemachine import check_transition
from notify.webhooks.models import WebhookDelivery


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


_D = DeliveryStatus
DELIVERY_TRANSITIONS: dict[DeliveryStatus, frozenset[DeliveryStatus]] = {
    _D.PENDING: frozenset({_D.DELIVERED, _D.FAILED}),
    _D.DELIVERED: frozenset(),
    _D.FAILED: frozenset(),
}


def move_delivery(delivery: WebhookDelivery, target: DeliveryStatus) -> None:
    check_transition(DELIVERY_TRANSITIONS, DeliveryStatus(delivery.status), target, subject="webhook delivery")
    delivery.status = str(target)
