"""Pure pricing rules: prices per tonne, quantities in kilograms, the tier table, contract terms and amounts."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from core.errors import InvalidInput
from core.units import per_tonne
from orders.cache import ContractInfo, TierTable
from orders.pricing import UnitPrice, amounts, breakdown
from orders.rules import check_tier_bands, litres_from

DEFAULT = TierTable(bands=((0, 0), (20, 100), (50, 200), (100, 300), (500, 400)))


@pytest.mark.parametrize(
    ("per_litre", "density", "expected"),
    [
        (780, 835.0, 934_132),  # 934,131.74 -> up
        (800, 800.0, 1_000_000),  # exact
        (1, 800.0, 1_250),  # 1,250 exactly
        (1, 1_000_000 / 2.5, 3),  # 2.5 -> half up, never to even
        (3, 1_000_000 / 0.5, 2),  # 1.5 -> 2
    ],
)
def test_price_per_tonne_rounds_half_up(per_litre: int, density: float, expected: int) -> None:
    assert per_tonne(per_litre, density) == expected


def test_a_quantity_comes_in_litres_or_in_kilograms_never_both() -> None:
    assert litres_from(quantity_litres=10_000, quantity_kg=None, density_kg_m3=835.0) == 10_000
    assert litres_from(quantity_litres=None, quantity_kg=8_350, density_kg_m3=835.0) == 10_000
    for litres, kg in ((None, None), (1000, 835)):
        with pytest.raises(InvalidInput) as refused:
            litres_from(quantity_litres=litres, quantity_kg=kg, density_kg_m3=835.0)
        assert refused.value.code == "quantity_required"


def test_tier_bands_are_found_by_their_lower_bound_and_a_lost_band_takes_the_last_discount() -> None:
    table = TierTable(bands=((0, 0), (10, 150)))
    assert [table.tier_for(kg) for kg in (0, 9_999, 10_000, 10**9)] == [0, 0, 1, 1]
    assert table.discount_bps(1) == 150
    assert table.discount_bps(4) == 150  # a tier stored under a longer table


@pytest.mark.parametrize(
    ("bands", "code"),
    [
        ([], "empty_request"),
        ([(5, 0), (20, 100)], "tiers_start_at_zero"),
        ([(0, 0), (50, 100), (50, 200)], "tiers_not_ascending"),
        ([(0, 0), (50, 100), (20, 200)], "tiers_not_ascending"),
        ([(t, 0) for t in range(21)], "too_many_items"),
    ],
)
def test_a_tier_table_starts_at_zero_and_goes_up(bands: list[tuple[int, int]], code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_tier_bands(bands)
    assert refused.value.code == code
    check_tier_bands(list(DEFAULT.bands))


def test_a_contract_applies_to_its_product_depot_and_days_only() -> None:
    depot, other = uuid.uuid4(), uuid.uuid4()
    contract = ContractInfo(
        product_code="diesel-0",
        depot_id=depot,
        valid_from=date(2030, 1, 7),
        valid_to=date(2030, 1, 11),
        price_per_litre_minor=None,
        discount_per_litre_minor=20,
    )
    assert contract.applies(depot_id=depot, product_code="diesel-0", day=date(2030, 1, 7))
    assert contract.applies(depot_id=depot, product_code="diesel-0", day=date(2030, 1, 11))  # valid_to included
    assert not contract.applies(depot_id=depot, product_code="diesel-0", day=date(2030, 1, 12))
    assert not contract.applies(depot_id=depot, product_code="diesel-0", day=date(2030, 1, 6))
    assert not contract.applies(depot_id=other, product_code="diesel-0", day=date(2030, 1, 8))
    assert not contract.applies(depot_id=depot, product_code="diesel-m10", day=date(2030, 1, 8))
    everywhere = ContractInfo(
        product_code="diesel-0",
        depot_id=None,
        valid_from=date(2030, 1, 7),
        valid_to=None,
        price_per_litre_minor=700,
        discount_per_litre_minor=None,
    )
    assert everywhere.applies(depot_id=other, product_code="diesel-0", day=date(2031, 1, 1))


def test_a_breakdown_shows_both_units_and_both_discounts() -> None:
    unit = UnitPrice(price_per_litre_minor=780, discount_per_litre_minor=20, currency="CNY", density_kg_m3=835.0)
    shown = breakdown(unit=unit, litres=10_000, tier=2, table=DEFAULT)
    gross, discount, amount = amounts(
        price_per_litre_minor=780, litres=10_000, discount_bps=200, discount_per_litre_minor=20
    )
    assert (shown.gross_minor, shown.discount_minor, shown.amount_minor) == (gross, discount, amount)
    assert gross == 7_800_000 and discount == 200_000 + 156_000
    assert shown.price_per_tonne_minor == 934_132 and shown.quantity_kg == 8_350 and shown.quantity_litres == 10_000
    assert shown.discount_bps == 200 and shown.discount_per_litre_minor == 20
