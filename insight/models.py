"""Insight tables: visits to customers' sites, and the ladder's memory of each customer's volume band."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, utcnow
from money.models import Charge

# The reports read charges by time across every customer (sales of the last days): money indexes them by customer.
Index("ix_charges_at", Charge.at)


class Visit(IdMixin, Base):
    """An account manager at a customer's site, proved by the signed code printed there. One per manager, site
    and local day (scanning twice is the same visit)."""

    __tablename__ = "visits"
    __table_args__ = (
        UniqueConstraint("manager_id", "site_id", "day"),
        Index("ix_visits_manager_at", "manager_id", "at"),
        Index("ix_visits_customer_at", "customer_id", "at"),
    )

    manager_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer_accounts.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)  # in the deployment's time zone
    at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(String(64))
    # The customer as the visit found it: quiet since this moment (None: it was not dormant) and its last order.
    # A dormant customer that orders within WON_BACK_DAYS after the visit is won back (insight.radar).
    dormant_since: Mapped[datetime | None]
    last_order_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerBand(Base):
    """The ladder's memory: the volume band a customer was last seen in, so that crossing a band is noticed once."""

    __tablename__ = "customer_bands"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customer_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    band: Mapped[str] = mapped_column(String(10))
    net_kg: Mapped[int]
    since: Mapped[datetime]
    checked_at: Mapped[datetime]


class SalesMonth(IdMixin, Base):
    """Charges summed per local month, customer, depot and product (insight.rollup): the sales report's months and
    the volume windows' whole months read these instead of every charge. Holds the months before
    `RollupState.through`; later charges are read live."""

    __tablename__ = "sales_months"
    __table_args__ = (Index("ix_sales_months_month_customer", "month", "customer_id"),)

    month: Mapped[date] = mapped_column(Date)  # its first day, in the deployment's time zone
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer_accounts.id", ondelete="CASCADE"))
    depot_id: Mapped[uuid.UUID | None]
    product_code: Mapped[str] = mapped_column(String(32))
    product_name: Mapped[str] = mapped_column(String(120))
    net_litres: Mapped[int]
    net_kg: Mapped[int]
    amount_minor: Mapped[int]
    charges: Mapped[int]


class RollupState(Base):
    """How far a rollup goes: `sales_months` holds every month before `through` (a month's first day)."""

    __tablename__ = "rollup_state"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    through: Mapped[date] = mapped_column(Date)
    refreshed_at: Mapped[datetime]
