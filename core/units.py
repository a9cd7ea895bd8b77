"""Unit conversions. Volumes are integer litres at the standard temperature, masses integer kilograms,
money integer minor units (fen)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def kg_to_litres(kg: int, density_kg_m3: float) -> int:
    """Mass to standard litres with the product's density at the standard temperature, rounded to the litre."""
    return round(kg * 1000 / density_kg_m3)


def litres_to_kg(litres: int, density_kg_m3: float) -> int:
    return round(litres * density_kg_m3 / 1000)


def apply_bps(amount_minor: int, bps: int) -> int:
    """`bps` basis points of an amount, rounded half up to the minor unit."""
    return (amount_minor * bps + 5_000) // 10_000


def per_tonne(per_litre_minor: int, density_kg_m3: float) -> int:
    """A price per standard litre as a price per tonne (1,000 kg are 1,000,000 / density litres), rounded half up
    to the minor unit. Decimal arithmetic: a float would round 0.5 either way."""
    exact = Decimal(per_litre_minor) * 1_000_000 / Decimal(str(density_kg_m3))
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
