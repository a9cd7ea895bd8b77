"""From committed events to facts worth telling a customer account: the kind, the values its texts show, the link.

Each builder reads what it needs for a whole batch of events at once (orders, bookings, charges, credit accounts,
prices), so a pass costs a few queries whatever the number of events. Pure reads: nothing is written here.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Event
from money.models import Charge, CreditAccount
from notify.links import repeat_link, repeat_token
from orders.models import Depot, Order, PickupBooking, Product
from orders.pricing import net_prices
from orders.rules import sms_number

ORDER_KINDS = {
    "order_confirmed": "order_confirmed",
    "order_on_hold": "order_on_hold",
    "order_scheduled": "order_scheduled",
    "order_delayed": "order_delayed",
    "order_delivered": "order_delivered",
    "order_failed": "order_failed",
    "order_awaiting_approval": "approval_requested",  # to the account's approvers (notify.recipients)
    "order_rejected": "order_rejected",
}
# Every event type the outbox reads, and the kind it becomes (a price publication becomes one fact per customer).
EVENT_KINDS = {
    **ORDER_KINDS,
    "pickup_booked": "pickup_code_issued",
    "invoice_issued": "invoice_issued",
    "payment_received": "payment_received",  # money's payments (and bank statement lines)
    "payment_recorded": "payment_received",  # the account page's payment (orders.accounts.record_payment)
    "prices_published": "daily_price",
    "standing_order_refused": "standing_order_refused",  # orders/standing.py: an occurrence not placed
    "pickup_pass_sent": "pickup_pass",  # tracking/passes.py: to the driver's phone, not to the account's people
}
CHUNK = 500


@dataclass(frozen=True, slots=True)
class Context:
    """What the facts need besides the database: where links point, how to sign them, the fallback time zone, and
    below which share of its limit an account's available credit is worth a word."""

    public_base_url: str | None
    secret_key: str
    default_timezone: str
    credit_alert_bps: int
    now: datetime


@dataclass(frozen=True, slots=True)
class Fact:
    source_key: str  # with the user and the channel, what makes a notification unique
    event_id: uuid.UUID | None
    customer_id: uuid.UUID
    kind: str
    values: dict[str, str] = field(default_factory=dict)  # `<name>_zh` overrides `<name>` in Chinese
    link: str | None = None
    # A phone number that is nobody's login (a pickup pass to the truck's driver): the one recipient, by SMS, in
    # `language`; None: the account's people (notify.recipients), each in its own.
    phone: str | None = None
    language: str | None = None


def money(minor: int, currency: str) -> str:
    sign, minor = ("-", -minor) if minor < 0 else ("", minor)
    amount = f"{sign}{minor // 100:,}.{minor % 100:02d}"
    return f"¥{amount}" if currency == "CNY" else f"{amount} {currency}"


def litres(value: int) -> str:
    return f"{value:,}"


def local(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def hhmm(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%H:%M")


def _link(context: Context, path: str) -> str:
    return f"{context.public_base_url or ''}{path}"


def _parsed(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


async def _by_id[T](session: AsyncSession, model: type[T], ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, T]:
    found: dict[uuid.UUID, T] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), CHUNK):
        rows = await session.scalars(select(model).where(model.id.in_(unique[start : start + CHUNK])))  # type: ignore[attr-defined]
        found.update({row.id: row for row in rows})  # type: ignore[attr-defined]
    return found


async def _products(session: AsyncSession) -> dict[str, Product]:
    return {p.code: p for p in await session.scalars(select(Product))}


async def order_facts(session: AsyncSession, events: Sequence[Event], context: Context) -> list[Fact]:
    orders = await _by_id(session, Order, [e.subject_id for e in events])
    products = await _products(session)
    delivered = [e.subject_id for e in events if e.type == "order_delivered"]
    charges = {}
    for start in range(0, len(delivered), CHUNK):
        rows = await session.scalars(select(Charge).where(Charge.order_id.in_(delivered[start : start + CHUNK])))
        charges.update({c.order_id: c for c in rows})
    facts = []
    for event in events:
        order = orders.get(event.subject_id)
        if order is None:
            continue
        product = products.get(order.product_code)
        values = {
            "reference": order.reference,
            "product": product.name if product else order.product_code,
            "product_zh": (product.name_zh or product.name) if product else order.product_code,
            "litres": litres(order.quantity_litres),
            "date": order.delivery_date.isoformat(),
            "window": f"{hhmm(order.window_start, order.timezone)}-{hhmm(order.window_end, order.timezone)}",
            "window_end": local(order.window_end, order.timezone),
            "amount": money(order.amount_minor, order.currency),
            "reason": event.reason or order.hold_reason or "",
        }
        data = event.data or {}
        eta = _parsed(data.get("eta")) or order.eta
        if eta is not None:
            values["eta"] = local(eta, order.timezone)
        if data.get("tanker"):
            values["tanker"] = str(data["tanker"])
        charge = charges.get(order.id)
        if charge is not None:  # what was delivered, not what was ordered
            values["litres"], values["amount"] = litres(charge.net_litres), money(charge.amount_minor, order.currency)
        facts.append(
            Fact(
                source_key=str(event.id),
                event_id=event.id,
                customer_id=order.customer_id,
                kind=ORDER_KINDS[event.type],
                values=values,
                link=_link(context, f"/app/customer/orders/{order.id}"),
            )
        )
    return facts


async def pickup_facts(session: AsyncSession, events: Sequence[Event], context: Context) -> list[Fact]:
    bookings = await _by_id(session, PickupBooking, [e.subject_id for e in events])
    depots = await _by_id(session, Depot, [b.depot_id for b in bookings.values()])
    facts = []
    for event in events:
        booking = bookings.get(event.subject_id)
        if booking is None:
            continue
        depot = depots.get(booking.depot_id)
        facts.append(
            Fact(
                source_key=str(event.id),
                event_id=event.id,
                customer_id=booking.customer_id,
                kind="pickup_code_issued",
                values={
                    "reference": booking.reference,
                    "depot": depot.name if depot else "-",
                    "slot": f"{local(booking.slot_start, booking.timezone)}-{hhmm(booking.slot_end, booking.timezone)}",
                },
                link=_link(context, f"/app/customer/pickups/{booking.id}/qr"),
            )
        )
    return facts


async def pass_facts(session: AsyncSession, events: Sequence[Event], context: Context) -> list[Fact]:
    """A pickup pass sent to a driver's phone: the link (signed, absolute: it was built when the pass was made)
    and what the driver needs to find the pickup. One per (pass, phone), whatever the events' reading."""
    bookings = await _by_id(session, PickupBooking, [e.subject_id for e in events])
    depots = await _by_id(session, Depot, [b.depot_id for b in bookings.values()])
    facts = []
    for event in events:
        data = event.data or {}
        booking = bookings.get(event.subject_id)
        number = sms_number(str(data.get("phone") or ""))
        if booking is None or number is None or not data.get("url") or not data.get("pass_id"):
            continue
        depot = depots.get(booking.depot_id)
        facts.append(
            Fact(
                source_key=f"pass:{data['pass_id']}",
                event_id=event.id,
                customer_id=booking.customer_id,
                kind="pickup_pass",
                values={
                    "reference": booking.reference,
                    "plate": booking.vehicle_plate,
                    "depot": depot.name if depot else "-",
                    "slot": f"{local(booking.slot_start, booking.timezone)}-{hhmm(booking.slot_end, booking.timezone)}",
                    "link": str(data["url"]),
                },
                link=str(data["url"]),
                phone=number,
                language=str(data.get("language") or ""),
            )
        )
    return facts


def money_facts(events: Sequence[Event], context: Context) -> list[Fact]:
    """Invoices and payments carry what their message says in the event itself."""
    facts = []
    for event in events:
        data = event.data or {}
        if event.customer_id is None:
            continue
        currency = str(data.get("currency") or "CNY")
        if event.type == "invoice_issued":
            values = {
                "number": str(data.get("number", "")),
                "amount": money(int(data.get("total_minor", 0)), currency),
                "due_date": str(data.get("due_date", "")),
            }
        else:
            values = {
                "amount": money(int(data.get("amount_minor", 0)), currency),
                "received_on": str(data.get("received_on") or event.at.date().isoformat()),
            }
        facts.append(Fact(str(event.id), event.id, event.customer_id, EVENT_KINDS[event.type], values, None))
    return facts


async def credit_facts(session: AsyncSession, confirmations: Sequence[Event], context: Context) -> list[Fact]:
    """After a confirmation, an account whose available credit is below the alert share of its limit hears of it,
    once a day (the source key is the account and the day). The credit is read when the outbox tells of the
    confirmation (seconds later): a payment recorded meanwhile spares the warning."""
    customers = list(dict.fromkeys(e.customer_id for e in confirmations if e.customer_id is not None))
    facts = []
    for start in range(0, len(customers), CHUNK):
        accounts = await session.scalars(
            select(CreditAccount).where(CreditAccount.customer_id.in_(customers[start : start + CHUNK]))
        )
        for account in accounts:
            limit = account.credit_limit_minor
            available = max(0, limit - account.open_orders_minor - account.balance_minor)
            if limit <= 0 or available * 10_000 >= limit * context.credit_alert_bps:
                continue
            day = context.now.astimezone(ZoneInfo(context.default_timezone)).date()
            facts.append(
                Fact(
                    source_key=f"credit:{account.customer_id}:{day.isoformat()}",
                    event_id=None,
                    customer_id=account.customer_id,
                    kind="credit_nearly_used",
                    values={
                        "available": money(available, account.currency),
                        "limit": money(limit, account.currency),
                        "percent": str(available * 100 // limit),
                    },
                )
            )
    return facts


async def _last_orders(session: AsyncSession, pairs: set[tuple[uuid.UUID, str]], *, before: uuid.UUID) -> list[Order]:
    """Each customer's most recent order placed before the event `before` (uuid7 ids are time-ordered), where it
    was for one of the (depot, product) pairs."""
    latest = (
        select(Order.customer_id, func.max(Order.created_at).label("created_at"))
        .where(Order.id < before)
        .group_by(Order.customer_id)
        .subquery()
    )
    rows = await session.scalars(
        select(Order)
        .join(latest, (Order.customer_id == latest.c.customer_id) & (Order.created_at == latest.c.created_at))
        .where(
            Order.id < before,
            Order.depot_id.in_({d for d, _ in pairs}),
            Order.product_code.in_({p for _, p in pairs}),
        )
    )
    newest: dict[uuid.UUID, Order] = {}
    for order in rows:  # two orders at the very same instant: the larger id
        if (order.depot_id, order.product_code) in pairs and (
            order.customer_id not in newest or order.id > newest[order.customer_id].id
        ):
            newest[order.customer_id] = order
    return list(newest.values())


async def price_facts(session: AsyncSession, event: Event, context: Context) -> list[Fact]:
    """The day's price, to every account whose last order was for a product and depot just priced: its own net
    price (list or contract price, less contract and tier discounts) per tonne and per litre, and a link to order
    the same again."""
    published = {(uuid.UUID(p["depot_id"]), str(p["product_code"])): p for p in (event.data or {}).get("prices", [])}
    if not published:
        return []
    last = await _last_orders(session, set(published), before=event.id)
    products = await _products(session)
    depots = await _by_id(session, Depot, [d for d, _ in published])
    days = {key: date.fromisoformat(str(p["valid_from"])) for key, p in published.items()}
    wanted_by_day: dict[date, list[tuple[uuid.UUID, uuid.UUID, str]]] = defaultdict(list)
    for order in last:
        wanted_by_day[days[(order.depot_id, order.product_code)]].append(
            (order.customer_id, order.depot_id, order.product_code)
        )
    prices = {}
    for day, wanted in wanted_by_day.items():
        prices.update(await net_prices(session, wanted=wanted, day=day, now=context.now))
    facts = []
    for order in last:
        price = prices.get((order.customer_id, order.depot_id, order.product_code))
        if price is None:
            continue
        product, depot = products.get(order.product_code), depots.get(order.depot_id)
        token = repeat_token(
            order_id=order.id, customer_id=order.customer_id, now=context.now, secret_key=context.secret_key
        )
        link = repeat_link(token, base_url=context.public_base_url)
        facts.append(
            Fact(
                source_key=str(event.id),
                event_id=event.id,
                customer_id=order.customer_id,
                kind="daily_price",
                values={
                    "product": product.name if product else order.product_code,
                    "product_zh": (product.name_zh or product.name) if product else order.product_code,
                    "depot": depot.name if depot else "-",
                    "date": days[(order.depot_id, order.product_code)].isoformat(),
                    "per_tonne": money(price.price_per_tonne_minor, price.currency),
                    "per_litre": money(price.price_per_litre_minor, price.currency),
                    "link": link,
                },
                link=link,
            )
        )
    return facts


async def standing_facts(session: AsyncSession, events: Sequence[Event], context: Context) -> list[Fact]:
    """A standing order's occurrence that could not be placed: what, when, and why (the event carries it)."""
    products = await _products(session)
    facts = []
    for event in events:
        data = event.data or {}
        if event.customer_id is None:
            continue
        product = products.get(str(data.get("product_code", "")))
        values = {
            "site": str(data.get("site", "-")),
            "date": str(data.get("delivery_date", "")),
            "litres": litres(int(data.get("quantity_litres", 0))),
            "product": product.name if product else str(data.get("product_code", "")),
            "product_zh": (product.name_zh or product.name) if product else str(data.get("product_code", "")),
            "reason": event.reason or "",
        }
        link = _link(context, f"/app/customer/standing-orders/{event.subject_id}")
        facts.append(Fact(str(event.id), event.id, event.customer_id, "standing_order_refused", values, link))
    return facts


async def facts_of(session: AsyncSession, events: Sequence[Event], context: Context) -> list[Fact]:
    """Every fact the events make, in the events' order."""
    by_type: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        by_type[event.type].append(event)
    orders = [e for e in events if e.type in ORDER_KINDS]
    facts = await order_facts(session, orders, context) if orders else []
    if by_type["pickup_booked"]:
        facts += await pickup_facts(session, by_type["pickup_booked"], context)
    facts += money_facts(by_type["invoice_issued"] + by_type["payment_received"] + by_type["payment_recorded"], context)
    if by_type["order_confirmed"]:
        facts += await credit_facts(session, by_type["order_confirmed"], context)
    if by_type["pickup_pass_sent"]:
        facts += await pass_facts(session, by_type["pickup_pass_sent"], context)
    if by_type["standing_order_refused"]:
        facts += await standing_facts(session, by_type["standing_order_refused"], context)
    for event in by_type["prices_published"]:
        facts += await price_facts(session, event, context)
    return facts
