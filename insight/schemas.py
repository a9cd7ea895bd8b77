"""Request and response bodies of insight (msgspec)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import msgspec


class Input(msgspec.Struct, forbid_unknown_fields=True):
    """Base for request bodies: unknown fields are refused rather than silently dropped."""


class ManagerIn(Input):
    user_id: uuid.UUID | None  # null: the customer has no account manager


class CustomerManagerOut(msgspec.Struct):
    customer_id: uuid.UUID
    manager_id: uuid.UUID | None


class VisitIn(Input):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    # The site the manager meant (when the app knows it): a code of another site is then refused.
    site_id: uuid.UUID | None = None


class VisitOut(msgspec.Struct):
    id: uuid.UUID
    manager_id: uuid.UUID
    manager_name: str  # the manager's display name, else its username
    site_id: uuid.UUID
    site_name: str
    customer_id: uuid.UUID
    customer_name: str
    day: date
    at: datetime
    note: str | None
    dormant_since: datetime | None  # the customer was quiet when visited
    last_order_at: datetime | None
    # A visit to a quiet customer: won_back (it ordered within 60 days), pending (not yet, still within 60 days) or
    # not_won_back; null when the customer was not quiet.
    outcome: str | None = None


class Trend(msgspec.Struct):
    quarter: str  # e.g. 2030-Q1: this quarter so far ...
    this_quarter_kg: int
    last_year_kg: int  # ... against the same part of the same quarter a year earlier
    this_quarter_t: float
    last_year_t: float
    change_pct: float | None  # None when last year had nothing


class Dormant(msgspec.Struct):
    since: datetime
    reasons: list[str]


class CustomerInsightOut(msgspec.Struct):
    customer_id: uuid.UUID
    name: str
    manager_id: uuid.UUID | None
    band: str  # <20t | 20-50t | 50-100t | 100-500t | >500t
    level: str  # the ladder's level for that band
    net_kg: int  # delivered and loaded over the last 365 days
    net_tonnes: float
    trend: Trend
    last_order_at: datetime | None
    usual_interval_days: float | None  # median gap between its last orders
    dormant: Dormant | None


class BandOut(msgspec.Struct):
    band: str
    level: str
    customers: int
    net_kg: int
    net_tonnes: float
    trend: Trend


class VisitDue(msgspec.Struct):
    customer_id: uuid.UUID
    name: str
    band: str
    net_kg: int
    net_tonnes: float
    last_visit_at: datetime | None
    visited_this_quarter: bool


class Reactivation(msgspec.Struct):
    """Quiet customers this manager visited (in the last 365 days): won back when they ordered within 60 days."""

    dormant_visited: int
    won_back: int
    pending: int  # visited less than 60 days ago and no order yet
    rate: float | None  # won_back / dormant_visited


class ManagerOut(msgspec.Struct):
    id: uuid.UUID
    username: str
    display_name: str | None
    level: str | None


class DashboardOut(msgspec.Struct):
    manager: ManagerOut
    quarter: str
    customers: int
    net_kg: int
    net_tonnes: float
    bands: list[BandOut]
    top: list[VisitDue]  # the 10 largest customers by yearly volume
    due_visits: list[VisitDue]  # the top 10 of each band not yet visited this quarter
    dormant: int
    reactivation: Reactivation


class ReferralRow(msgspec.Struct):
    manager_id: uuid.UUID
    username: str
    display_name: str | None
    sign_ups: int  # customers opened with its referral code in the period
    sign_ups_ordering_in_app: int  # of those, ordering through the app
    customers: int  # customers it manages
    app_customers: int  # of those, with at least one order placed through the app
    app_adoption: float | None


class ReferralsOut(msgspec.Struct):
    date_from: date = msgspec.field(name="from")
    date_to: date = msgspec.field(name="to")
    managers: list[ReferralRow] = msgspec.field(default_factory=list)


class SalesRow(msgspec.Struct):
    period_start: date
    key: str | None  # customer id, depot id, product code or manager id (None: no depot / no manager)
    label: str | None
    net_litres: int
    net_kg: int
    net_tonnes: float
    amount_minor: int
    charges: int


class SalesTotals(msgspec.Struct):
    net_litres: int
    net_kg: int
    net_tonnes: float
    amount_minor: int
    charges: int


class SalesOut(msgspec.Struct):
    group_by: str
    period: str
    date_from: date = msgspec.field(name="from")
    date_to: date = msgspec.field(name="to")
    timezone: str = ""
    rows: list[SalesRow] = msgspec.field(default_factory=list)
    totals: SalesTotals | None = None


class Punctuality(msgspec.Struct):
    deliveries: int
    on_time: int
    on_time_share: float | None
    lateness: dict[str, int]  # on_time, <=15m, 15-30m, 30-60m, 1-2h, >2h
    early: int = 0  # of the on-time ones, arrived before the window opened


class PunctualityRow(msgspec.Struct):
    key: str
    label: str | None
    punctuality: Punctuality


class DeliveriesOut(msgspec.Struct):
    date_from: date = msgspec.field(name="from")
    date_to: date = msgspec.field(name="to")
    summary: Punctuality | None = None
    by_day: list[PunctualityRow] = msgspec.field(default_factory=list)
    by_depot: list[PunctualityRow] = msgspec.field(default_factory=list)
    by_customer: list[PunctualityRow] = msgspec.field(default_factory=list)


class LadderOut(msgspec.Struct):
    checked: int
    crossed: int
    reassigned: int
