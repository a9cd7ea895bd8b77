"""Catalogue, customer accounts, sites, delivery orders and pickup bookings."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, IdMixin, utcnow

depot_products = Table(
    "depot_products",
    Base.metadata,
    Column("depot_id", ForeignKey("depots.id", ondelete="CASCADE"), primary_key=True),
    Column("product_code", ForeignKey("products.code", ondelete="CASCADE"), primary_key=True),
)


class Product(Base):
    __tablename__ = "products"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    name_zh: Mapped[str | None] = mapped_column(String(80))
    density_kg_m3: Mapped[float]  # at the standard temperature


class Depot(IdMixin, Base):
    __tablename__ = "depots"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(String(255))
    lat: Mapped[float]
    lon: Mapped[float]
    timezone: Mapped[str] = mapped_column(String(64))
    opening_hours: Mapped[list[Any]]
    loading_bays: Mapped[int]
    # Loading time = fixed + litres / pump rate (used by routing).
    load_fixed_min: Mapped[int] = mapped_column(default=15)
    pump_rate_l_per_min: Mapped[int] = mapped_column(default=1800)
    products: Mapped[list[Product]] = relationship(secondary=depot_products, lazy="selectin")


class Price(IdMixin, Base):
    """A list price: it holds from `valid_from` until the next price of the same depot and product."""

    __tablename__ = "prices"
    __table_args__ = (UniqueConstraint("depot_id", "product_code", "valid_from"),)

    depot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("depots.id", ondelete="CASCADE"))
    product_code: Mapped[str] = mapped_column(ForeignKey("products.code"))
    valid_from: Mapped[date] = mapped_column(Date)
    price_per_litre_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ContractPrice(IdMixin, Base):
    """A customer's contract for a product (at one depot, or at every depot when `depot_id` is empty) from
    `valid_from` to `valid_to` (both included; open-ended without it): either a fixed price per litre that
    replaces the list price, or a discount per litre off it. The whole list of a customer is replaced at once."""

    __tablename__ = "contract_prices"
    __table_args__ = (
        CheckConstraint(
            "(price_per_litre_minor IS NULL) <> (discount_per_litre_minor IS NULL)", name="price_or_discount"
        ),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_period"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer_accounts.id", ondelete="CASCADE"), index=True)
    product_code: Mapped[str] = mapped_column(ForeignKey("products.code"))
    depot_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("depots.id", ondelete="CASCADE"))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    price_per_litre_minor: Mapped[int | None]
    discount_per_litre_minor: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[uuid.UUID | None]


class TierBand(Base):
    """One band of the volume tier table: customers with at least `from_tonnes` over the last 365 days (and less
    than the next band's) get `discount_bps` off the gross price. Band 0 starts at 0 t."""

    __tablename__ = "tier_bands"

    from_tonnes: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    discount_bps: Mapped[int]


class CustomerAccount(IdMixin, Base):
    """A customer: who it is and its discount tier. Its money (credit limit, open orders, balance) is its
    `money.models.CreditAccount` (same id), written only by money."""

    __tablename__ = "customer_accounts"

    name: Mapped[str] = mapped_column(String(200))
    tax_id: Mapped[str | None] = mapped_column(String(40))
    contact_name: Mapped[str | None] = mapped_column(String(120))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    referred_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", use_alter=True)
    )
    # The account manager who owns the customer (orders.accounts.assign_manager; the ladder in insight/ moves it).
    manager_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", use_alter=True), index=True
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The discount tier of the UTC day `tier_day`, computed from the yearly volume by the day's first order
    # (orders.accounts.tier_of_the_day), so orders do not sum the customer's history every time.
    tier: Mapped[int] = mapped_column(default=0, server_default="0")
    tier_day: Mapped[date | None] = mapped_column(Date)


class QuoteRecord(IdMixin, Base):
    """A price asked for (POST /quotes): quotes that never became orders tell an account manager something."""

    __tablename__ = "quote_log"
    __table_args__ = (Index("ix_quote_log_customer_at", "customer_id", "at"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer_accounts.id", ondelete="CASCADE"))
    site_id: Mapped[uuid.UUID]
    depot_id: Mapped[uuid.UUID]
    product_code: Mapped[str] = mapped_column(String(32))
    quantity_litres: Mapped[int]
    price_per_litre_minor: Mapped[int]
    at: Mapped[datetime]
    user_id: Mapped[uuid.UUID | None]


class Site(IdMixin, Base):
    __tablename__ = "sites"

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer_accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    lat: Mapped[float]
    lon: Mapped[float]
    timezone: Mapped[str] = mapped_column(String(64))
    tank_capacity_litres: Mapped[int]
    receiving_hours: Mapped[list[Any]]
    max_vehicle_class: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Application(IdMixin, Base):
    """A company asking to open an account online; an admin approves or rejects it."""

    __tablename__ = "applications"

    company_name: Mapped[str] = mapped_column(String(200))
    tax_id: Mapped[str] = mapped_column(String(40))
    contact_name: Mapped[str] = mapped_column(String(120))
    contact_phone: Mapped[str] = mapped_column(String(32))
    username: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    site: Mapped[dict[str, Any]]
    referral_code: Mapped[str | None] = mapped_column(String(16))
    referred_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customer_accounts.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[uuid.UUID | None]


class Order(IdMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_customer_created", "customer_id", "created_at"),
        Index("ix_orders_date_status", "delivery_date", "status"),
        CheckConstraint("quantity_litres > 0", name="quantity_positive"),
    )

    reference: Mapped[str] = mapped_column(String(24), unique=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer_accounts.id"))
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id"))
    depot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("depots.id"))
    product_code: Mapped[str] = mapped_column(ForeignKey("products.code"))
    quantity_litres: Mapped[int]
    quantity_kg: Mapped[int | None]  # when the customer ordered by mass
    delivery_date: Mapped[date] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64))  # the site's, for showing the window in local time
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    price_per_litre_minor: Mapped[int]
    gross_minor: Mapped[int]
    tier: Mapped[int] = mapped_column(default=0)
    discount_bps: Mapped[int]
    # A contract's discount per litre, beside the tier's percentage (orders.pricing.amounts applies both).
    discount_per_litre_minor: Mapped[int] = mapped_column(default=0, server_default="0")
    discount_minor: Mapped[int]
    amount_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    hold_reason: Mapped[str | None] = mapped_column(String(40))
    preferred_driver_id: Mapped[uuid.UUID | None]
    note: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    # Set when a published plan schedules the order (dispatch owns these).
    tanker_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tankers.id", use_alter=True))
    driver_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("drivers.id", use_alter=True))
    eta: Mapped[datetime | None]
    # Bumped on every change: a plan built from older versions is stale.
    version: Mapped[int] = mapped_column(default=1)


class PickupBooking(IdMixin, Base):
    __tablename__ = "pickup_bookings"
    __table_args__ = (
        Index("ix_pickup_bookings_slot", "depot_id", "slot_start", "status"),
        CheckConstraint("quantity_litres > 0", name="quantity_positive"),
    )

    reference: Mapped[str] = mapped_column(String(24), unique=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer_accounts.id"), index=True)
    depot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("depots.id"))
    product_code: Mapped[str] = mapped_column(ForeignKey("products.code"))
    quantity_litres: Mapped[int]
    slot_start: Mapped[datetime]
    slot_end: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(String(64))  # the depot's
    vehicle_plate: Mapped[str] = mapped_column(String(16))
    driver_name: Mapped[str] = mapped_column(String(120))
    driver_phone: Mapped[str] = mapped_column(String(32))
    price_per_litre_minor: Mapped[int]
    gross_minor: Mapped[int]
    tier: Mapped[int]
    discount_bps: Mapped[int]
    discount_per_litre_minor: Mapped[int] = mapped_column(default=0, server_default="0")
    discount_minor: Mapped[int]
    amount_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    loaded_litres_observed: Mapped[int | None]
    loaded_litres_net: Mapped[int | None]
    ticket_number: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class StandingOrder(IdMixin, Base):
    """A weekly schedule of one site's deliveries: on each of `weekdays` (ISO, Monday 1) from `starts_on` to
    `ends_on` (open-ended without it) a real order is placed ahead of the cut-off (orders/standing.py), in the
    name of the user who made the schedule. Cancelled, it places nothing more; the orders placed stay."""

    __tablename__ = "standing_orders"

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer_accounts.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    product_code: Mapped[str] = mapped_column(ForeignKey("products.code"))
    quantity_litres: Mapped[int]
    weekdays: Mapped[list[Any]]
    window_start: Mapped[str] = mapped_column(String(5))  # HH:MM in the site's time zone
    window_end: Mapped[str] = mapped_column(String(5))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[uuid.UUID | None]


class StandingOrderRun(IdMixin, Base):
    """One occurrence of a standing order, claimed once (unique per delivery day) before its order is placed: a
    second or late run of the task finds it and places nothing. `order_id` is the order placed; a refusal keeps
    its `code` and `detail` (and was told to the account)."""

    __tablename__ = "standing_order_runs"
    __table_args__ = (UniqueConstraint("standing_order_id", "delivery_date"),)

    standing_order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("standing_orders.id", ondelete="CASCADE"))
    delivery_date: Mapped[date] = mapped_column(Date)
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    code: Mapped[str | None] = mapped_column(String(40))  # why it was refused
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
