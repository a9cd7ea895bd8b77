"""Shared-kernel tables: users, the append-only event log, idempotency records."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, utcnow


class User(IdMixin, Base):
    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    # A customer user belongs to one customer account; the FK is declared by orders (which owns accounts).
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customer_accounts.id", ondelete="CASCADE"), index=True
    )
    # A customer user's role in its account (core.auth.CustomerRole; orders/people.py) and, for orderers and
    # approvers, its approval limit: an orderer's order above it waits for an approver, an approver approves up
    # to it (None: no limit).
    customer_role: Mapped[str | None] = mapped_column(String(20))
    approval_limit_minor: Mapped[int | None]
    display_name: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(32))
    referral_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    # An account manager (any staff role may be one) owns customers; its level on the responsibility ladder
    # (station_employee | station | area | city | region) decides which customers the ladder gives it (insight/).
    manager: Mapped[bool] = mapped_column(default=False, server_default=false())
    manager_level: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserDepot(Base):
    """A rack operator's depots: the only racks where the operator may verify, redeem and upload loadings."""

    __tablename__ = "user_depots"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # The FK to depots (owned by orders) is declared by name, as users.customer_id is.
    depot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("depots.id", ondelete="CASCADE"), primary_key=True)


class AuthSession(IdMixin, Base):
    """One login: a bearer token names its session (`sid`), and a token whose session has ended is refused.

    Logout ends one session; deactivating a user, changing its role or its password ends all of them."""

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_user_open", "user_id", "ended_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # logout, deactivated, role_changed or password_changed
    ended_reason: Mapped[str | None] = mapped_column(String(40))


class Event(IdMixin, Base):
    """Who did what to which subject, when and why. Rows are only ever inserted."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_subject", "subject_type", "subject_id", "at"),)

    subject_type: Mapped[str] = mapped_column(String(20))  # order | pickup | trip | customer | plan
    subject_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    type: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    actor_id: Mapped[uuid.UUID | None]
    actor_role: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None]
    at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyRecord(IdMixin, Base):
    """The first answer to a client-chosen key, replayed on retries of the same request."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    scope: Mapped[str] = mapped_column(String(80))  # e.g. "orders:<user id>"
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[uuid.UUID | None]
    status_code: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(IdMixin, Base):
    """Who changed what, when, with the values before and after: prices, contract prices, credit limits, users,
    roles, rack operators' depots, invoices, payments. Rows are only ever inserted (core.audit)."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_subject", "subject_type", "subject_id", "at"),
        Index("ix_audit_entries_actor", "actor_id", "at"),
        Index("ix_audit_entries_customer", "customer_id", "at"),
    )

    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[uuid.UUID | None]
    actor_role: Mapped[str] = mapped_column(String(20))  # a role, or "system"
    subject_type: Mapped[str] = mapped_column(String(30))  # price | contract_price | customer | user | invoice | …
    subject_id: Mapped[uuid.UUID | None]
    customer_id: Mapped[uuid.UUID | None]  # the customer account concerned, for its trail
    action: Mapped[str] = mapped_column(String(40))  # e.g. credit_limit_changed, role_changed, price_published
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
