"""Volume correction of refined products to the standard temperature (net litres).

Method: ASTM D1250 / API MPMS Ch. 11.1 / ISO 91-1, Table 54B "generalized products" (correction of volume to
15 °C against density at 15 °C), in its closed form

    alpha15 = K0 / rho15**2 + K1 / rho15            (transition zone: alpha15 = A + B / rho15**2)
    VCF     = exp(-alpha15 * dt * (1 + 0.8 * alpha15 * dt)),   dt = t - 15 °C

Which variant, exactly (the choices a metrologist will ask about):
- Constants and density classes are the 1980 metric Table 54B ones (API Std 2540 / ISO 91-1:1992), in
  kg/m³ at 15 °C. They are the 2004 Adjunct's 60 °F constants times 1.8 (103.8720 * 1.8 = 186.9696), but
  the Adjunct applies them to the density at 60 °F, after converting temperatures to IPTS-68 and shifting
  by delta60 = 0.01374979547 °F. We do NOT apply that ITS-90/delta60 step: for diesel (800-880 kg/m³,
  -20..50 °C) it moves the VCF by at most 2e-5 (the tests compare with an independent 2004-style
  computation); in the transition zone (770-788) the two differ by up to 3e-4. The 1980 form is also
  what the Chinese national tables (GB/T 1885, equivalent to ISO 91-2) are built on.
- Class boundaries (rho15, kg/m³): gasolines < 770.5 <= transition <= 787.5 < jet <= 838.5 < fuel oils.
  Diesel (820-860) straddles jet and fuel oils; the standard classifies by density, not by name.
- The density input is the density at 15 °C (vacuum), not the observed density.
- No intermediate rounding; the VCF is rounded once, half to even, to 5 decimals (the 2004 convention;
  the 1980 printed tables show 4). Net litres = observed litres * rounded VCF, half to even, whole litres.
- 20 °C standard (Table 60B style, ISO 91-2): rho15 is found from rho20 by iterating
  rho20 = rho15 * VCF15(rho15, 20), then VCF20(t) = VCF15(t) / VCF15(20) before rounding.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

import msgspec

__all__ = [
    "ProductClass",
    "VolumeCorrection",
    "correct_volume",
    "density_15_from_20",
    "product_class",
    "thermal_expansion_15",
    "vcf",
    "vcf_15",
    "vcf_20",
]

# Range of the 1980 Table 54B (kg/m³ at 15 °C). Outside it the correlation was not fitted: refuse, not guess.
MIN_DENSITY_15 = 653.0
MAX_DENSITY_15 = 1075.0
# The 1980 tables start at -18 °C; the 2004 Adjunct extends the same correlation down to -50 °C (-58 °F).
MIN_TEMPERATURE_C = -50.0
MAX_TEMPERATURE_C = 150.0
SUPPORTED_BASES_C = (15, 20)

_VCF_PLACES = Decimal("0.00001")


class ProductClass(StrEnum):
    GASOLINE = "gasoline"
    TRANSITION = "transition"
    JET = "jet"
    FUEL_OIL = "fuel_oil"


class VolumeCorrection(msgspec.Struct, frozen=True, kw_only=True):
    observed_litres: float
    temperature_c: float
    density_kg_m3: float  # at the base temperature
    base_temperature_c: int
    vcf: Decimal  # 5 decimals
    net_litres: int
    product_class: ProductClass


def product_class(density_15: float) -> ProductClass:
    if density_15 < 770.5:
        return ProductClass.GASOLINE
    if density_15 <= 787.5:
        return ProductClass.TRANSITION
    if density_15 <= 838.5:
        return ProductClass.JET
    return ProductClass.FUEL_OIL


def thermal_expansion_15(density_15: float) -> float:
    """alpha15 (1/°C) for a refined product of this density at 15 °C."""
    _check_density(density_15)
    rho = density_15
    match product_class(rho):
        case ProductClass.GASOLINE:
            return 346.4228 / rho**2 + 0.4388 / rho
        case ProductClass.TRANSITION:
            return -0.00336312 + 2680.3206 / rho**2
        case ProductClass.JET:
            return 594.5418 / rho**2
        case ProductClass.FUEL_OIL:
            return 186.9696 / rho**2 + 0.4862 / rho


def _ctl_15(density_15: float, temperature_c: float) -> float:
    alpha = thermal_expansion_15(density_15)
    dt = temperature_c - 15.0
    return math.exp(-alpha * dt * (1.0 + 0.8 * alpha * dt))


def _round_vcf(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(_VCF_PLACES, rounding=ROUND_HALF_EVEN)


def vcf_15(density_15: float, temperature_c: float) -> Decimal:
    """Volume correction factor to 15 °C (Table 54B), rounded to 5 decimals."""
    _check_temperature(temperature_c)
    return _round_vcf(_ctl_15(density_15, temperature_c))


def density_15_from_20(density_20: float) -> float:
    """Density at 15 °C of a product whose density at 20 °C is given (the Table 59B direction)."""
    if not math.isfinite(density_20) or density_20 <= 0:
        raise ValueError(f"density must be a positive number, got {density_20!r}")
    rho15 = density_20
    for _ in range(50):
        # Clamp so a density near the range edge can still iterate; the final value is range-checked below.
        guess = min(max(rho15, MIN_DENSITY_15), MAX_DENSITY_15)
        nxt = density_20 / _ctl_15(guess, 20.0)
        if abs(nxt - rho15) < 1e-9:
            rho15 = nxt
            break
        rho15 = nxt
    _check_density(rho15)
    return rho15


def vcf_20(density_20: float, temperature_c: float) -> Decimal:
    """VCF to 20 °C (Table 60B style, via the density at 15 °C), rounded to 5 decimals."""
    _check_temperature(temperature_c)
    rho15 = density_15_from_20(density_20)
    return _round_vcf(_ctl_15(rho15, temperature_c) / _ctl_15(rho15, 20.0))


def vcf(density_kg_m3: float, temperature_c: float, *, base_temperature_c: int = 15) -> Decimal:
    """VCF to the base temperature; the density is the density at that base temperature."""
    if base_temperature_c == 15:
        return vcf_15(density_kg_m3, temperature_c)
    if base_temperature_c == 20:
        return vcf_20(density_kg_m3, temperature_c)
    raise ValueError(f"base temperature must be one of {SUPPORTED_BASES_C} °C, got {base_temperature_c!r}")


def correct_volume(
    observed_litres: float,
    temperature_c: float,
    *,
    density_kg_m3: float,
    base_temperature_c: int = 15,
) -> VolumeCorrection:
    """Observed litres at the product temperature -> net litres at the base temperature."""
    if not math.isfinite(observed_litres) or observed_litres < 0:
        raise ValueError(f"observed litres must be a non-negative number, got {observed_litres!r}")
    factor = vcf(density_kg_m3, temperature_c, base_temperature_c=base_temperature_c)
    # Multiply in Decimal so a ticket shows exactly observed x VCF; a float product could round the other way.
    net = (Decimal(repr(float(observed_litres))) * factor).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    rho15 = density_kg_m3 if base_temperature_c == 15 else density_15_from_20(density_kg_m3)
    return VolumeCorrection(
        observed_litres=float(observed_litres),
        temperature_c=float(temperature_c),
        density_kg_m3=float(density_kg_m3),
        base_temperature_c=base_temperature_c,
        vcf=factor,
        net_litres=int(net),
        product_class=product_class(rho15),
    )


def _check_density(density_15: float) -> None:
    if not (math.isfinite(density_15) and MIN_DENSITY_15 <= density_15 <= MAX_DENSITY_15):
        raise ValueError(
            f"density at 15 °C {density_15!r} kg/m³ is outside Table 54B ({MIN_DENSITY_15}-{MAX_DENSITY_15})"
        )


def _check_temperature(temperature_c: float) -> None:
    if not (math.isfinite(temperature_c) and MIN_TEMPERATURE_C <= temperature_c <= MAX_TEMPERATURE_C):
        raise ValueError(f"temperature {temperature_c!r} °C is outside {MIN_TEMPERATURE_C}..{MAX_TEMPERATURE_C} °C")
