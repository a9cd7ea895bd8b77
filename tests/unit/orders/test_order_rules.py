"""Pure rules: state machines, credit, tiers, quantities, windows, plates and phones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.errors import Conflict, InvalidInput, InvalidTransition
from core.hours import HoursEntry
from core.settings import OrderRules
from money.ledger import available_minor, credit_allows
from money.models import CreditAccount
from orders.cache import TierTable
from orders.rules import (
    ORDER_TRANSITIONS,
    OrderStatus,
    PickupStatus,
    check_delivery_window,
    check_phone,
    check_plate,
    check_quantity,
    check_slot_free,
    order_transition,
    pickup_transition,
)

RULES = OrderRules()
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2030, 1, 7, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
OPEN_6_TO_22 = [HoursEntry(days=[1, 2, 3, 4, 5, 6, 7], open="06:00", close="22:00")]


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 1, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("placed", OrderStatus.CONFIRMED),
        ("placed", OrderStatus.ON_HOLD),
        ("on_hold", OrderStatus.CONFIRMED),
        ("confirmed", OrderStatus.SCHEDULED),
        ("scheduled", OrderStatus.LOADED),
        ("loaded", OrderStatus.EN_ROUTE),
        ("en_route", OrderStatus.DELIVERED),
        ("en_route", OrderStatus.FAILED),
        ("scheduled", OrderStatus.CANCELLED),
    ],
)
def test_allowed_order_moves(current: str, target: OrderStatus) -> None:
    order_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("loaded", OrderStatus.CANCELLED),  # cancellation only until loading
        ("delivered", OrderStatus.CANCELLED),
        ("cancelled", OrderStatus.CONFIRMED),
        ("placed", OrderStatus.DELIVERED),
        ("on_hold", OrderStatus.SCHEDULED),
    ],
)
def test_forbidden_order_moves_raise_a_named_error(current: str, target: OrderStatus) -> None:
    with pytest.raises(InvalidTransition) as error:
        order_transition(current, target)
    assert error.value.code == "invalid_transition" and current in error.value.detail


def test_terminal_order_states_lead_nowhere() -> None:
    for state in (OrderStatus.DELIVERED, OrderStatus.FAILED, OrderStatus.CANCELLED):
        assert ORDER_TRANSITIONS[state] == frozenset()
    assert set(ORDER_TRANSITIONS) == set(OrderStatus)


def test_pickup_moves() -> None:
    pickup_transition("booked", PickupStatus.COMPLETED)
    pickup_transition("booked", PickupStatus.EXPIRED)
    with pytest.raises(InvalidTransition):
        pickup_transition("completed", PickupStatus.CANCELLED)
    with pytest.raises(InvalidTransition):
        pickup_transition("expired", PickupStatus.BOOKED)


def test_credit_boundary_is_inclusive() -> None:
    account = CreditAccount(credit_limit_minor=100, open_orders_minor=50, balance_minor=10)
    assert credit_allows(account, 40)
    assert not credit_allows(account, 41)


def test_a_prepaid_account_orders_against_what_was_paid_in() -> None:
    prepaid = CreditAccount(kind="prepaid", credit_limit_minor=0, open_orders_minor=30, balance_minor=-100)
    assert available_minor(prepaid) == 70
    assert credit_allows(prepaid, 70) and not credit_allows(prepaid, 71)
    assert not credit_allows(
        CreditAccount(kind="prepaid", credit_limit_minor=0, open_orders_minor=0, balance_minor=0), 1
    )


@pytest.mark.parametrize(
    ("kg", "tier"), [(0, 0), (19_999, 0), (20_000, 1), (49_999, 1), (50_000, 2), (100_000, 3), (500_000, 4)]
)
def test_yearly_volume_tiers(kg: int, tier: int) -> None:
    table = TierTable(bands=((0, 0), (20, 100), (50, 200), (100, 300), (500, 400)))  # the seeded bands
    assert table.tier_for(kg) == tier


def test_quantity_bounds_and_tank_capacity() -> None:
    check_quantity(500, rules=RULES, tank_capacity_litres=500)
    for litres, tank, code in [
        (499, None, "quantity_too_small"),
        (60_001, None, "quantity_too_large"),
        (5001, 5000, "exceeds_tank_capacity"),
    ]:
        with pytest.raises(InvalidInput) as error:
            check_quantity(litres, rules=RULES, tank_capacity_litres=tank)
        assert error.value.code == code


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        (local(8, 9), local(8, 12), None),
        (local(7, 12, 59), local(7, 15), "lead_time"),  # 3 h 59 min ahead
        (local(7, 13), local(7, 15), None),  # exactly the 4 h lead time
        (local(7, 8), local(7, 10), "window_in_past"),
        (local(8, 5), local(8, 8), "outside_receiving_hours"),
        (local(8, 20), local(8, 23), "outside_receiving_hours"),
        (local(8, 12), local(8, 9), "invalid_window"),
        (local(8, 9), local(8, 9, 20), "window_too_short"),
        (local(8, 9) + timedelta(days=40), local(8, 12) + timedelta(days=40), "too_far_ahead"),
    ],
)
def test_delivery_window_rules(start: datetime, end: datetime, code: str | None) -> None:
    def run() -> None:
        check_delivery_window(start=start, end=end, now=NOW, receiving_hours=OPEN_6_TO_22, tz=SHANGHAI, rules=RULES)

    if code is None:
        run()
    else:
        with pytest.raises(InvalidInput) as error:
            run()
        assert error.value.code == code


@pytest.mark.parametrize(
    ("raw", "normal"), [("沪A·12345", "沪A12345"), ("粤b d12345", "粤BD12345"), ("ab-1234", "AB1234")]
)
def test_plates_are_normalised(raw: str, normal: str) -> None:
    assert check_plate(raw) == normal


@pytest.mark.parametrize("raw", ["", "!", "沪", "ABCDEFGHIJKLMNOP", "沪A1234567"])
def test_bad_plates_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput):
        check_plate(raw)


def test_phones() -> None:
    assert check_phone("+86 138-0013-8000") == "+8613800138000"
    with pytest.raises(InvalidInput):
        check_phone("12345")


def test_slot_capacity() -> None:
    check_slot_free(taken=1, capacity=2)
    with pytest.raises(Conflict) as error:
        check_slot_free(taken=2, capacity=2)
    assert error.value.code == "slot_full"
