"""Issued codes (only their hashes), loading tickets, and conflicts found in offline redemptions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, utcnow


class IssuedCode(IdMixin, Base):
    """A signed code we handed out. The token itself is never stored, only its SHA-256."""

    __tablename__ = "issued_codes"
    __table_args__ = (Index("ix_issued_codes_subject", "kind", "subject_id"),)

    kind: Mapped[str] = mapped_column(String(10))  # pickup | trip | receipt
    subject_id: Mapped[uuid.UUID]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kid: Mapped[str] = mapped_column(String(16))
    not_before: Mapped[datetime]
    expires_at: Mapped[datetime]
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoadingTicket(IdMixin, Base):
    """The bill of lading of one loading at a rack. One per code: the unique code id spends the code."""

    __tablename__ = "loading_tickets"

    ticket_number: Mapped[str] = mapped_column(String(32), unique=True)
    code_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("issued_codes.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    subject_id: Mapped[uuid.UUID] = mapped_column(index=True)
    depot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("depots.id"))
    vehicle_plate: Mapped[str] = mapped_column(String(16))
    product_code: Mapped[str] = mapped_column(String(32))
    loaded_litres_observed: Mapped[int]
    temperature_c: Mapped[float]
    base_temperature_c: Mapped[int]
    density_kg_m3: Mapped[float]
    vcf: Mapped[str] = mapped_column(String(12))  # the factor as printed on the ticket, e.g. "0.98749"
    net_litres: Mapped[int]
    redeemed_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    redeemed_by: Mapped[uuid.UUID | None]
    offline: Mapped[bool] = mapped_column(default=False)
    offline_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class OfflineConflict(IdMixin, Base):
    """A redemption made while a rack was offline that could not be accepted: for a human to resolve."""

    __tablename__ = "offline_conflicts"

    offline_id: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    depot_id: Mapped[uuid.UUID]
    reasons: Mapped[list[Any]]
    upload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | resolved
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Position(IdMixin, Base):
    """A tanker's reported position (history; the latest per tanker is also kept in Redis or memory)."""

    __tablename__ = "positions"
    __table_args__ = (Index("ix_positions_tanker_time", "tanker_id", "recorded_at"),)

    tanker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tankers.id", ondelete="CASCADE"))
    driver_id: Mapped[uuid.UUID | None]
    lat: Mapped[float]
    lon: Mapped[float]
    speed_kmh: Mapped[float | None]
    heading: Mapped[float | None]
    recorded_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(IdMixin, Base):
    """What was delivered at a stop: metered litres, temperature, net litres and the proof."""

    __tablename__ = "deliveries"

    stop_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan_stops.id"), unique=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    delivered_litres_observed: Mapped[int]
    temperature_c: Mapped[float]
    vcf: Mapped[str] = mapped_column(String(12))
    net_litres: Mapped[int]
    meter_start: Mapped[int | None]
    meter_end: Mapped[int | None]
    proof: Mapped[str] = mapped_column(String(12))  # receipt | reason
    receipt_token_hash: Mapped[str | None] = mapped_column(String(64))
    no_receipt_reason: Mapped[str | None] = mapped_column(String(500))
    evidence: Mapped[str | None] = mapped_column(String(200_000))  # photo or signature as a data URL
    delivered_at: Mapped[datetime]
    driver_id: Mapped[uuid.UUID | None]


class ShareLink(IdMixin, Base):
    """A read-only tracking link of one order; its token names this row, so it can be revoked before it expires."""

    __tablename__ = "share_links"

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[uuid.UUID | None]


class PickupPass(IdMixin, Base):
    """A no-login link for the truck driver of one pickup booking, sent to a phone. Its token names this row, the
    booking and a hash of the booking's plate; a newer pass of the booking replaces it (`revoked_at`)."""

    __tablename__ = "pickup_passes"

    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pickup_bookings.id", ondelete="CASCADE"), index=True)
    phone: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class PickupCheckIn(IdMixin, Base):
    """A truck arrived at the depot's gate for its booking (once per booking), and the loading bay it was given
    (none while every bay is taken: it waits in the queue)."""

    __tablename__ = "pickup_check_ins"
    __table_args__ = (Index("ix_pickup_check_ins_depot_time", "depot_id", "checked_in_at"),)

    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pickup_bookings.id", ondelete="CASCADE"), unique=True)
    depot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("depots.id"))
    method: Mapped[str] = mapped_column(String(8))  # gate (the driver scanned the gate code) | rack (an operator)
    checked_in_at: Mapped[datetime]
    checked_in_by: Mapped[uuid.UUID | None]  # the rack operator; none when the driver checked in at the gate
    bay: Mapped[int | None]
    bay_assigned_at: Mapped[datetime | None]
