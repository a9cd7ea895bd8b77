"""Webhook settings, read once from the environment (only entry points and handlers call `webhook_settings()`)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cache

from notify.webhooks.addresses import IPNetwork, parse_networks

log = logging.getLogger("diesel.webhooks")


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def _networks(name: str) -> tuple[IPNetwork, ...]:
    try:
        return parse_networks(os.environ.get(name, ""))
    except ValueError as error:
        raise ValueError(f"{name}: {error} (write networks as 10.1.2.0/24, comma-separated)") from error


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    # WEBHOOK_ALLOWED_NETWORKS: internal networks webhooks may reach (on-premise receivers); all others are refused.
    allowed_networks: tuple[IPNetwork, ...] = ()
    timeout_s: float = 5.0  # WEBHOOK_TIMEOUT_S: one delivery attempt
    backoff_s: float = 5.0  # WEBHOOK_BACKOFF_S: first retry delay, doubled per attempt ...
    backoff_max_s: float = 3600.0  # WEBHOOK_BACKOFF_MAX_S: ... up to this
    max_attempts: int = 8  # WEBHOOK_MAX_ATTEMPTS: then the delivery is `failed`
    outbox_overlap_s: int = 60  # WEBHOOK_OUTBOX_OVERLAP_S: re-scan window for transactions that committed late
    outbox_batch: int = 500  # new events read per outbox pass
    stale_after_s: int = 60  # a due delivery untouched this long lost its message: it is queued again
    max_per_customer: int = 10
    secret_grace_s: int = 24 * 3600  # WEBHOOK_SECRET_GRACE_S: after a rotation the old secret signs too, this long

    def backoff(self, attempts: int) -> float:
        """The delay after the `attempts`-th failed attempt: backoff_s, 2×, 4×, … capped."""
        return float(min(self.backoff_s * 2 ** max(0, attempts - 1), self.backoff_max_s))

    @property
    def lease_s(self) -> float:
        """How long a claimed delivery is reserved for the worker sending it."""
        return self.timeout_s + 30.0


def load_webhook_settings() -> WebhookSettings:
    if _flag("WEBHOOK_ALLOW_PRIVATE"):
        # Removed: it let webhooks reach every internal address (cloud metadata included). Not honoured silently.
        log.warning(
            "WEBHOOK_ALLOW_PRIVATE is no longer read: name the receivers' networks in WEBHOOK_ALLOWED_NETWORKS "
            "(e.g. 10.1.2.0/24); webhooks to other internal addresses are refused"
        )
    return WebhookSettings(
        allowed_networks=_networks("WEBHOOK_ALLOWED_NETWORKS"),
        timeout_s=_number("WEBHOOK_TIMEOUT_S", 5.0),
        backoff_s=_number("WEBHOOK_BACKOFF_S", 5.0),
        backoff_max_s=_number("WEBHOOK_BACKOFF_MAX_S", 3600.0),
        max_attempts=int(_number("WEBHOOK_MAX_ATTEMPTS", 8)),
        outbox_overlap_s=int(_number("WEBHOOK_OUTBOX_OVERLAP_S", 60)),
        stale_after_s=int(_number("WEBHOOK_STALE_AFTER_S", 60)),
        secret_grace_s=int(_number("WEBHOOK_SECRET_GRACE_S", 24 * 3600)),
    )


@cache
def webhook_settings() -> WebhookSettings:
    return load_webhook_settings()
