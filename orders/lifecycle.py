"""The life of orders, pickup bookings and online applications: the one module that moves them from one status to
the next (with the event, and for orders the version), fixes and re-prices their amounts, and calls money for them.

Dispatch (publishing a plan) and tracking (the rack, the driver) call these functions; they never assign a status,
a price or a balance themselves, and `make lint` fails when a module does (tests/unit/test_ownership.py).

Money follows the status (money.ledger, always under the credit account's row lock):
* confirmed (an order) or booked (a pickup): its amount is reserved, if the available credit covers it; an order
  that does not fit is held, a booking that does not fit is refused;
* cancelled, expired or failed: the reservation is released and nothing is charged;
* delivered, or loaded at the rack: the reservation is released and what left the tanker or the rack is charged:
  net litres at the standard temperature x the price fixed at confirmation - the discounts fixed with it, through
  `orders.pricing.amounts` (`_charge_line`), so the driver and the rack price alike.

Locks, so that two flows never wait for each other: an order's credit account is locked before the order by the
flows that decide on credit (the order path's statement, the re-check of held orders, a cancellation), while the
road locks the order first (a cancellation refuses an order on the road before it takes any lock); a booking is
locked before its credit account by every flow.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.errors import Conflict
from core.events import record_event
from core.models import Event
from core.units import litres_to_kg
from money import ledger
from money.models import Charge, CreditAccount
from orders import promise_port
from orders import schemas as s
from orders.models import Application, Order, PickupBooking, Product
from orders.pricing import amounts
from orders.repository import DECIDED_VERSION, PlacedOrder
from orders.rules import (
    HOLD_EVENT_REASON,
    HOLD_REASON,
    ORDER_HOLDS_CREDIT,
    ApplicationStatus,
    OrderStatus,
    PickupStatus,
    application_transition,
    order_transition,
    pickup_transition,
)

_O = OrderStatus
# Moves that plans and the road make: they leave a plan computed before them current (the order's version stays).
_MADE_BY_PLANS_AND_THE_ROAD = frozenset({_O.SCHEDULED, _O.LOADED, _O.EN_ROUTE, _O.DELIVERED, _O.FAILED})


async def lock_credit(session: AsyncSession, customer_id: uuid.UUID) -> CreditAccount:
    """The customer's credit account, row-locked: taken first by callers that lock an order or booking after it."""
    return await ledger.get_account(session, customer_id, lock=True)


# --- orders ----------------------------------------------------------------------------------------------------


def _move_order(
    session: AsyncSession,
    order: Order,
    target: OrderStatus,
    *,
    at: datetime,
    actor: Principal | None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
    event_type: str | None = None,
) -> Event:
    order_transition(order.status, target)
    previous = order.status
    order.status, order.updated_at = str(target), at
    unscheduled = previous == _O.SCHEDULED and target == _O.CONFIRMED
    if target not in _MADE_BY_PLANS_AND_THE_ROAD and not unscheduled:
        order.version += 1  # a plan computed before this change is stale
    return record_event(
        session,
        subject_type="order",
        subject_id=order.id,
        customer_id=order.customer_id,
        type=event_type or f"order_{target}",
        at=at,
        actor=actor,
        from_status=previous,
        to_status=str(target),
        reason=reason,
        data=data,
    )


async def take_place(session: AsyncSession, request: promise_port.PlaceRequest, *, actor: Principal) -> None:
    """Before a new order is written: its place in the fleet's day (promise/, through `orders.promise_port`). One that
    does not fit is refused (409 `window_full`, nothing written) or, when the promise only flags, taken with an
    `order_window_at_risk` event. Serialised per depot and day until the unit of work ends, so two orders racing for
    the last place get one yes and one `window_full`."""
    promise = promise_port.current()
    if promise is None:
        return
    reason = await promise.place(session, request)
    if reason is None:
        return
    if promise.refuses:
        raise Conflict(
            f"the fleet cannot deliver in this window any more ({reason}); ask GET /availability for the windows "
            "it can still serve",
            code="window_full",
            field="window_start",
        )
    record_event(
        session,
        subject_type="order",
        subject_id=request.order_id,
        customer_id=actor.customer_id,
        type="order_window_at_risk",
        at=request.now,
        actor=actor,
        reason=reason,
    )


def fix_price(order: Order | PlacedOrder, breakdown: s.PriceBreakdown) -> None:
    """The price the order is confirmed (or held) at: what it reserves, and the unit price and discounts its
    delivery is charged at."""
    order.price_per_litre_minor = breakdown.price_per_litre_minor
    order.gross_minor = breakdown.gross_minor
    order.tier = breakdown.tier
    order.discount_bps = breakdown.discount_bps
    order.discount_per_litre_minor = breakdown.discount_per_litre_minor
    order.discount_minor = breakdown.discount_minor
    order.amount_minor = breakdown.amount_minor


def confirm_or_hold(
    session: AsyncSession,
    order: Order,
    *,
    credit: CreditAccount,
    breakdown: s.PriceBreakdown,
    now: datetime,
    actor: Principal | None,
) -> Event | None:
    """Fix the price and confirm when the available credit covers it (reserving it); otherwise hold. The caller
    holds `credit`'s row lock. Returns the event of the status change (None when a held order stays held)."""
    fix_price(order, breakdown)
    if ledger.reserve(credit, order.amount_minor, now=now):
        order.hold_reason, order.confirmed_at = None, now
        return _move_order(session, order, _O.CONFIRMED, at=now, actor=actor)
    if order.status != _O.ON_HOLD:
        order.hold_reason = HOLD_REASON
        return _move_order(session, order, _O.ON_HOLD, at=now, actor=actor, reason=HOLD_EVENT_REASON)
    return None


def decided_in_one_statement(order: PlacedOrder, *, confirmed: bool, event_id: uuid.UUID, now: datetime) -> Event:
    """The answer's copy of what the order path's one statement decided (orders/repository.py: it reserved the
    amount, or not, under the credit account's lock, and wrote the order and this event): the order as it now
    stands, and the event of the decision."""
    target = _O.CONFIRMED if confirmed else _O.ON_HOLD
    order_transition(_O.PLACED, target)
    order.status, order.version = str(target), DECIDED_VERSION
    order.hold_reason = None if confirmed else HOLD_REASON
    order.confirmed_at = now if confirmed else None
    return Event(
        id=event_id,
        subject_type="order",
        subject_id=order.id,
        customer_id=order.customer_id,
        type=f"order_{target}",
        at=now,
        actor_role="system",
        from_status=str(_O.PLACED),
        to_status=str(target),
        reason=None if confirmed else HOLD_EVENT_REASON,
    )


APPROVAL_REASON = "approval_limit"


def await_approval(
    session: AsyncSession,
    order: Order,
    *,
    breakdown: s.PriceBreakdown,
    limit_minor: int,
    now: datetime,
) -> Event:
    """Above its orderer's approval limit: priced (what the approvers see), but no credit is taken until an
    approver approves it (`approve`)."""
    fix_price(order, breakdown)
    return _move_order(
        session,
        order,
        _O.AWAITING_APPROVAL,
        at=now,
        actor=None,
        reason=f"{APPROVAL_REASON}: the order is above its orderer's approval limit",
        data={"approval_limit_minor": limit_minor, "amount_minor": order.amount_minor},
    )


def check_awaiting(order: Order) -> None:
    if order.status != _O.AWAITING_APPROVAL:
        raise Conflict(
            f"the order is {order.status}, not awaiting approval: it was decided already",
            code="order_not_awaiting_approval",
        )


def approve(
    session: AsyncSession,
    order: Order,
    *,
    credit: CreditAccount,
    breakdown: s.PriceBreakdown,
    now: datetime,
    actor: Principal,
) -> Event | None:
    """Approved: from here on as a new order, priced on the day (`breakdown`) and confirmed when the available
    credit covers it, otherwise held. The caller holds `credit`'s row lock, then the order's: of two approvers
    at once, the second finds it decided (409 `order_not_awaiting_approval`)."""
    check_awaiting(order)
    record_event(
        session,
        subject_type="order",
        subject_id=order.id,
        customer_id=order.customer_id,
        type="order_approved",
        at=now,
        actor=actor,
        from_status=order.status,
        to_status=order.status,
    )
    return confirm_or_hold(session, order, credit=credit, breakdown=breakdown, now=now, actor=actor)


def reject(session: AsyncSession, order: Order, *, reason: str, now: datetime, actor: Principal) -> Event:
    """Rejected by an approver: cancelled, with the reason; it never took credit."""
    check_awaiting(order)
    event = _move_order(session, order, _O.CANCELLED, at=now, actor=actor, reason=reason, event_type="order_rejected")
    order.cancel_reason = reason
    return event


async def cancel_order(session: AsyncSession, order: Order, *, reason: str, actor: Principal, now: datetime) -> Event:
    """Cancelled (until loading): its reservation is released, nothing is charged. The caller locked the credit
    account (`lock_credit`) before the order."""
    held_credit = order.status in ORDER_HOLDS_CREDIT
    event = _move_order(session, order, _O.CANCELLED, at=now, actor=actor, reason=reason)
    order.cancel_reason = reason
    # Off its trip: no tanker, driver or ETA to show (tracking and share links show nothing of the tanker).
    order.tanker_id, order.driver_id, order.eta = None, None, None
    if held_credit:
        ledger.release(await lock_credit(session, order.customer_id), order.amount_minor, now=now)
    return event


def schedule(
    session: AsyncSession,
    order: Order,
    *,
    tanker_id: uuid.UUID,
    driver_id: uuid.UUID | None,
    eta: datetime,
    at: datetime,
    actor: Principal | None,
    data: dict[str, Any],
) -> Event:
    """On a published plan's trip (again, when a newer plan carries it). Publishing is not a change the customer
    made: the plan's own fingerprint of the order stays valid."""
    event = _move_order(session, order, _O.SCHEDULED, at=at, actor=actor, data=data)
    order.tanker_id, order.driver_id, order.eta = tanker_id, driver_id, eta
    return event


def unschedule(session: AsyncSession, order: Order, *, at: datetime, actor: Principal, reason: str) -> Event:
    """Back to confirmed: a newer plan for the day does not carry it."""
    event = _move_order(session, order, _O.CONFIRMED, at=at, actor=actor, reason=reason, event_type="order_unscheduled")
    order.tanker_id, order.driver_id, order.eta = None, None, None
    return event


def load(session: AsyncSession, order: Order, *, at: datetime, actor: Principal | None, data: dict[str, Any]) -> Event:
    """Its trip was loaded at the rack. Its credit stays reserved until it is delivered or fails."""
    return _move_order(session, order, _O.LOADED, at=at, actor=actor, data=data)


def depart(session: AsyncSession, order: Order, *, at: datetime, actor: Principal | None) -> Event:
    return _move_order(session, order, _O.EN_ROUTE, at=at, actor=actor)


@dataclass(frozen=True, slots=True)
class Measured:
    """What left the tanker at one stop, or the rack into one truck: the meter's litres at the observed
    temperature, and the net litres at the standard temperature."""

    document_number: str  # the delivery's id, or the loading ticket's number
    observed_litres: int
    temperature_c: float
    net_litres: int


def _combined(parts: Sequence[Measured]) -> Measured:
    """The parts of an order split over several stops, as one: litres added up, the temperature their mean
    weighted by litres, the document of the last part."""
    observed = sum(p.observed_litres for p in parts)
    mean = sum(p.temperature_c * p.observed_litres for p in parts) / observed if observed else parts[-1].temperature_c
    return Measured(
        document_number=parts[-1].document_number,
        observed_litres=observed,
        temperature_c=round(mean, 1),
        net_litres=sum(p.net_litres for p in parts),
    )


async def _charge_line(session: AsyncSession, subject: Order | PickupBooking, measured: Measured) -> ledger.ChargeLine:
    """What was measured, at the unit price and discounts fixed when `subject` was confirmed or booked: the one
    re-pricing of deliveries and loadings."""
    product = await session.get(Product, subject.product_code)
    assert product is not None  # a foreign key
    gross, discount, amount = amounts(
        price_per_litre_minor=subject.price_per_litre_minor,
        litres=measured.net_litres,
        discount_bps=subject.discount_bps,
        discount_per_litre_minor=subject.discount_per_litre_minor,
    )
    return ledger.ChargeLine(
        order_id=subject.id if isinstance(subject, Order) else None,
        pickup_id=subject.id if isinstance(subject, PickupBooking) else None,
        reference=subject.reference,
        document_number=measured.document_number,
        depot_id=subject.depot_id,
        product_code=product.code,
        product_name=product.name,
        observed_litres=measured.observed_litres,
        temperature_c=measured.temperature_c,
        net_litres=measured.net_litres,
        net_kg=litres_to_kg(measured.net_litres, product.density_kg_m3),
        unit_price_minor=subject.price_per_litre_minor,
        gross_minor=gross,
        discount_minor=discount,
        amount_minor=amount,
    )


async def _release_and_charge(
    session: AsyncSession,
    subject: Order | PickupBooking,
    measured: Measured,
    *,
    at: datetime,
    actor: Principal | None,
) -> Charge | None:
    """Give back the reservation and charge what was measured; the subject shows what it was charged."""
    credit = await lock_credit(session, subject.customer_id)
    ledger.release(credit, subject.amount_minor, now=at)
    line = await _charge_line(session, subject, measured)
    subject.gross_minor, subject.discount_minor, subject.amount_minor = (
        line.gross_minor,
        line.discount_minor,
        line.amount_minor,
    )
    if line.amount_minor == 0:  # nothing measured (or given away): nothing to charge
        return None
    return await ledger.charge(session, credit, line, at=at, actor_id=actor.id if actor else None)


async def deliver(
    session: AsyncSession,
    order: Order,
    *,
    parts: Sequence[Measured],
    at: datetime,
    actor: Principal | None,
    data: dict[str, Any],
) -> Charge | None:
    """Delivered (every stop of the order done, `parts` those that delivered): its reservation is released and
    what was delivered is charged."""
    _move_order(session, order, _O.DELIVERED, at=at, actor=actor, data=data)
    return await _release_and_charge(session, order, _combined(parts), at=at, actor=actor)


async def fail(session: AsyncSession, order: Order, *, reason: str, at: datetime, actor: Principal | None) -> Event:
    """Not delivered: its reservation is released; nothing delivered, nothing owed."""
    event = _move_order(session, order, _O.FAILED, at=at, actor=actor, reason=reason)
    ledger.release(await lock_credit(session, order.customer_id), order.amount_minor, now=at)
    return event


# --- pickup bookings ---------------------------------------------------------------------------------------------


def _move_pickup(
    session: AsyncSession,
    booking: PickupBooking,
    target: PickupStatus,
    *,
    at: datetime,
    actor: Principal | None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    pickup_transition(booking.status, target)
    previous, booking.status, booking.updated_at = booking.status, str(target), at
    return record_event(
        session,
        subject_type="pickup",
        subject_id=booking.id,
        customer_id=booking.customer_id,
        type=f"pickup_{target}",
        at=at,
        actor=actor,
        from_status=previous,
        to_status=str(target),
        reason=reason,
        data=data,
    )


async def book(
    session: AsyncSession,
    booking: PickupBooking,
    *,
    breakdown: s.PriceBreakdown,
    now: datetime,
    actor: Principal,
) -> PickupBooking:
    """A new booking at its price, its amount reserved: refused (409 `credit_limit`) when the available credit
    does not cover it. `booking` is not yet in the session."""
    credit = await lock_credit(session, booking.customer_id)
    if not ledger.reserve(credit, breakdown.amount_minor, now=now):
        raise Conflict(
            "this booking would take the account over its credit limit", code="credit_limit", field="quantity_litres"
        )
    booking.price_per_litre_minor = breakdown.price_per_litre_minor
    booking.gross_minor = breakdown.gross_minor
    booking.tier = breakdown.tier
    booking.discount_bps = breakdown.discount_bps
    booking.discount_per_litre_minor = breakdown.discount_per_litre_minor
    booking.discount_minor = breakdown.discount_minor
    booking.amount_minor = breakdown.amount_minor
    booking.currency = breakdown.currency
    booking.status = str(PickupStatus.BOOKED)
    session.add(booking)
    await session.flush()
    record_event(
        session,
        subject_type="pickup",
        subject_id=booking.id,
        customer_id=booking.customer_id,
        type="pickup_booked",
        at=now,
        actor=actor,
        to_status=str(PickupStatus.BOOKED),
    )
    return booking


async def release_pickup(
    session: AsyncSession,
    booking: PickupBooking,
    target: PickupStatus,
    *,
    now: datetime,
    actor: Principal | None,
    reason: str,
) -> Event:
    """Cancelled or expired (a no-show): its reservation is released, nothing is charged."""
    if target not in (PickupStatus.CANCELLED, PickupStatus.EXPIRED):
        raise ValueError(f"a booking is released as cancelled or expired, not {target}")
    event = _move_pickup(session, booking, target, at=now, actor=actor, reason=reason)
    if target == PickupStatus.CANCELLED:
        booking.cancel_reason = reason
    ledger.release(await lock_credit(session, booking.customer_id), booking.amount_minor, now=now)
    return event


async def loaded_at_the_rack(
    session: AsyncSession,
    booking: PickupBooking,
    measured: Measured,
    *,
    at: datetime,
    now: datetime,
    actor: Principal | None,
    data: dict[str, Any],
) -> Charge | None:
    """Loaded (`measured.document_number`: the loading ticket): its reservation is released and what was
    loaded is charged."""
    _move_pickup(session, booking, PickupStatus.COMPLETED, at=at, actor=actor, data=data)
    booking.loaded_litres_observed, booking.loaded_litres_net = measured.observed_litres, measured.net_litres
    booking.ticket_number, booking.updated_at = measured.document_number, now
    return await _release_and_charge(session, booking, measured, at=at, actor=actor)


# --- applications ------------------------------------------------------------------------------------------------


def decide_application(
    app: Application,
    target: ApplicationStatus,
    *,
    now: datetime,
    actor: Principal,
    customer_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> None:
    """Approved (with the account it opened) or rejected (with the reason)."""
    application_transition(app.status, target)
    app.status, app.decided_at, app.decided_by = str(target), now, actor.id
    if customer_id is not None:
        app.customer_id = customer_id
    if reason is not None:
        app.reason = reason
