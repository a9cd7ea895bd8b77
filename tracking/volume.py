"""Volume correction of refined products to the standard temperature (net litres).

Method: API MPMS Chapter 11.1-2004 (adjunct to ASTM D1250-04 / IP 200/04), refined products ("generalized
products", the 6B / 54B / 60B family), computed from the standard's equations. Inputs are not rounded;
nothing is rounded until the final factor.

60 °F basis, `ctpl_60f` (§11.1.6.1, density at 60 °F known):
 1. Class and K0, K1, K2 from rho60 (kg/m³, at 60 °F): gasolines [610.6, 770.3520), transition zone
    [770.3520, 787.5195), jet fuels [787.5195, 838.3127), fuel oils [838.3127, 1163.5]. Diesel (820-860 kg/m³)
    straddles jet and fuel oils: the standard classifies by density, not by name.
 2. The ITS-90 temperature is converted to IPTS-68 (8-term polynomial in t/630, t in °C).
 3. rho60 is shifted to the IPTS-68 basis (delta60 = 0.01374979547 °F).
 4. alpha60 = K0/rho68² + K1/rho68 + K2 (1/°F).
 5. CTL = exp(-alpha60·dt·(1 + 0.8·alpha60·(dt + delta60))), dt = t68 - 60.0068749 °F.
 6. Fp = exp(-1.9947 + 0.00013427·t68 + (793920 + 2326·t68) / rho68²).
 7. CPL = 1 / (1 - 1e-5·Fp·P), P in psig; Pe = 0 for these products, and a negative gauge pressure counts as 0.
 8. CTPL = CTL·CPL, rounded once to 5 decimals.

Metric bases (§11.1.7; the 2004 standard builds its 54B/60B results on the 60 °F procedure):
- rho15 -> rho60 by iterating rho60 = rho15 / CTL60(rho60, 15 °C), the class and K re-chosen from the current
  estimate at every step, to |Δrho60| < 1e-9 kg/m³ (tighter than needed for 5 decimals). alpha60 is not exactly
  continuous at the class boundaries, so a few densities (windows of at most ~2e-6 kg/m³) have no self-consistent
  rho60 and the iteration flips between two classes: it then settles on the denser class, which holds the boundary.
- VCF(t) = CTL60(rho60, t) / CTL60(rho60, 15 °C), t in °C taken to °F (15 °C = 59 °F), rounded to 5 decimals.
- 20 °C base: the same with 20 °C (68 °F) in place of 15 °C; `density_15_from_20` = rho60 · CTL60(rho60, 15 °C).
- The rack and the delivery meter work at ambient pressure: CPL = 1 for `vcf_15`, `vcf_20` and `correct_volume`.

Rounding: factors are rounded once to 5 decimals, exact halves to even (on the shortest decimal repr).
Net litres = observed litres x rounded VCF, in Decimal, half to even, whole litres.

Ranges (the 2004 standard's, refined products): rho60 610.6-1163.5 kg/m³, -58..302 °F (-50..150 °C),
0..1500 psig. Outside them: ValueError, no extrapolation.

Evidence (tests/unit/tracking/test_tracking_volume.py):
- Worked examples 3-6 of API MPMS 11.1-2004 §11.1.6.1 (fuel oil, jet, transition zone, gasoline), as
  transcribed in the open-source repository m2b/API11_1VCF, file API11_1VCF.Test/CTPLFromAPIDegFPsigTests.cs:
  class and K0-K2 exactly, t68, rho68, alpha60, Fp, CTL and CPL within 1e-9 (they agree to about 5e-13),
  and the rounded CTPL exactly.
- The metric path has no published example at hand: it is tied to the same examples (CTL15(t)·CTL60(15 °C) =
  CTL60(t)), checked against an independent re-implementation, and bounded against the 1980 metric Table 54B
  closed form this module used before (the same K times 1.8 applied to rho15, 1980 class boundaries on rho15,
  no ITS-90/delta60 step): for diesel (800-880 kg/m³ at 15 °C, -20..50 °C, jet/fuel-oil boundary included) the
  rounded VCF moved by at most 2e-5 (unrounded: 1.7e-5), i.e. about 2 L per 100,000 L.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

import msgspec

__all__ = [
    "Ctpl60F",
    "ProductClass",
    "VolumeCorrection",
    "correct_volume",
    "ctpl_60f",
    "density_15_from_20",
    "density_60_from_15",
    "density_60_from_api",
    "product_class",
    "thermal_expansion_15",
    "vcf",
    "vcf_15",
    "vcf_20",
]

MIN_DENSITY_60 = 610.6  # kg/m³
MAX_DENSITY_60 = 1163.5
MIN_TEMPERATURE_F = -58.0
MAX_TEMPERATURE_F = 302.0
MIN_TEMPERATURE_C = -50.0
MAX_TEMPERATURE_C = 150.0
MAX_PRESSURE_PSIG = 1500.0
SUPPORTED_BASES_C = (15, 20)

WATER_DENSITY_60 = 999.016  # kg/m³ at 60 °F, the standard's factor between API gravity and density
DELTA_60 = 0.01374979547  # °F
T60_IPTS68_F = 60.0068749  # 60 °F (ITS-90) on IPTS-68
# ITS-90 -> IPTS-68: t68 = t90 - sum(a_i·tau^i), tau = t90 / 630, t in °C.
_IPTS68_COEFFS = (-0.148759, -0.267408, 1.080760, 1.269056, -4.089591, -1.871251, 7.438081, -3.536296)

_VCF_PLACES = Decimal("0.00001")
_MAX_ITERATIONS = 50


class ProductClass(StrEnum):
    GASOLINE = "gasoline"
    TRANSITION = "transition"
    JET = "jet"
    FUEL_OIL = "fuel_oil"


_K: dict[ProductClass, tuple[float, float, float]] = {
    ProductClass.GASOLINE: (192.4571, 0.2438, 0.0),
    ProductClass.TRANSITION: (1489.0670, 0.0, -0.0018684),
    ProductClass.JET: (330.3010, 0.0, 0.0),
    ProductClass.FUEL_OIL: (103.8720, 0.2701, 0.0),
}


class VolumeCorrection(msgspec.Struct, frozen=True, kw_only=True):
    observed_litres: float
    temperature_c: float
    density_kg_m3: float  # at the base temperature
    base_temperature_c: int
    vcf: Decimal  # 5 decimals
    net_litres: int
    product_class: ProductClass


class Ctpl60F(msgspec.Struct, frozen=True, kw_only=True):
    """Every step of §11.1.6.1, unrounded except `ctpl`."""

    density_60: float  # kg/m³, ITS-90 basis
    temperature_f: float
    pressure_psig: float  # as used: a negative gauge pressure counts as 0
    product_class: ProductClass
    k0: float
    k1: float
    k2: float
    temperature_68_f: float
    density_68: float
    alpha_60: float  # 1/°F
    ctl: float
    fp: float  # scaled compressibility factor, 1/psi (x 1e5)
    cpl: float
    ctpl: Decimal  # CTL·CPL rounded to 5 decimals


def _class_60(rho60: float) -> ProductClass:
    if rho60 < 770.3520:
        return ProductClass.GASOLINE
    if rho60 < 787.5195:
        return ProductClass.TRANSITION
    if rho60 < 838.3127:
        return ProductClass.JET
    return ProductClass.FUEL_OIL


def _t68_f(t90_c: float) -> float:
    tau = t90_c / 630.0
    poly = 0.0
    for a in reversed(_IPTS68_COEFFS):
        poly = (poly + a) * tau
    return 1.8 * (t90_c - poly) + 32.0


def _density_68(rho60: float, k: tuple[float, float, float]) -> float:
    k0, k1, k2 = k
    a = DELTA_60 / 2.0 * ((k0 / rho60 + k1) / rho60 + k2)
    b = (2.0 * k0 + k1 * rho60) / (k0 + (k1 + k2 * rho60) * rho60)
    return rho60 * (1.0 + (math.exp(a * (1.0 + 0.8 * a)) - 1.0) / (1.0 + a * (1.0 + 1.6 * a) * b))


def _alpha_60(rho68: float, k: tuple[float, float, float]) -> float:
    k0, k1, k2 = k
    return (k0 / rho68 + k1) / rho68 + k2


def _ctl(alpha60: float, t68_f: float) -> float:
    dt = t68_f - T60_IPTS68_F
    return math.exp(-alpha60 * dt * (1.0 + 0.8 * alpha60 * (dt + DELTA_60)))


def _ctl_60(rho60: float, t68_f: float) -> float:
    k = _K[_class_60(rho60)]
    return _ctl(_alpha_60(_density_68(rho60, k), k), t68_f)


def _round_vcf(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(_VCF_PLACES, rounding=ROUND_HALF_EVEN)


def density_60_from_api(api_60: float) -> float:
    """Density at 60 °F (kg/m³) of a product of this API gravity at 60 °F."""
    if not math.isfinite(api_60) or api_60 <= -131.5:
        raise ValueError(f"API gravity must be a number above -131.5, got {api_60!r}")
    return 141.5 / (131.5 + api_60) * WATER_DENSITY_60


def ctpl_60f(
    temperature_f: float,
    pressure_psig: float = 0.0,
    *,
    density_60: float | None = None,
    api_60: float | None = None,
) -> Ctpl60F:
    """API MPMS 11.1-2004 §11.1.6.1 for refined products: base density (at 60 °F, 0 psig) known, give either
    `density_60` (kg/m³) or `api_60`; returns CTL, CPL and the rounded CTPL to 60 °F with every step."""
    if density_60 is not None and api_60 is None:
        rho60 = density_60
    elif api_60 is not None and density_60 is None:
        rho60 = density_60_from_api(api_60)
    else:
        raise ValueError("give exactly one of density_60 and api_60")
    _check_density_60(rho60)
    if not (math.isfinite(temperature_f) and MIN_TEMPERATURE_F <= temperature_f <= MAX_TEMPERATURE_F):
        raise ValueError(f"temperature {temperature_f!r} °F is outside {MIN_TEMPERATURE_F}..{MAX_TEMPERATURE_F} °F")
    if not (math.isfinite(pressure_psig) and pressure_psig <= MAX_PRESSURE_PSIG):
        raise ValueError(f"pressure {pressure_psig!r} psig is outside 0..{MAX_PRESSURE_PSIG} psig")
    pressure = max(pressure_psig, 0.0)
    cls = _class_60(rho60)
    k = _K[cls]
    t68 = _t68_f((temperature_f - 32.0) / 1.8)
    rho68 = _density_68(rho60, k)
    alpha60 = _alpha_60(rho68, k)
    ctl = _ctl(alpha60, t68)
    fp = math.exp(-1.9947 + 0.00013427 * t68 + (793920.0 + 2326.0 * t68) / rho68**2)
    cpl = 1.0 / (1.0 - 1e-5 * fp * pressure)
    return Ctpl60F(
        density_60=rho60,
        temperature_f=float(temperature_f),
        pressure_psig=pressure,
        product_class=cls,
        k0=k[0],
        k1=k[1],
        k2=k[2],
        temperature_68_f=t68,
        density_68=rho68,
        alpha_60=alpha60,
        ctl=ctl,
        fp=fp,
        cpl=cpl,
        ctpl=_round_vcf(ctl * cpl),
    )


def _density_60_at(density: float, base_c: float) -> float:
    """rho60 of a product whose density at base_c °C is given (§11.1.7: iterate on the 60 °F CTL)."""
    if not math.isfinite(density) or density <= 0:
        raise ValueError(f"density must be a positive number, got {density!r}")
    t68 = _t68_f(base_c)
    rho60 = density
    previous = math.nan
    for _ in range(_MAX_ITERATIONS):
        # Clamp so a density near the range edge can still iterate; the result is range-checked below.
        guess = min(max(rho60, MIN_DENSITY_60), MAX_DENSITY_60)
        nxt = density / _ctl_60(guess, t68)
        if abs(nxt - rho60) < 1e-9:
            rho60 = nxt
            break
        if abs(nxt - previous) < 1e-9:
            # Flipping between two classes at a boundary (alpha60 is not exactly continuous there): the root
            # is the boundary itself to within ~2e-6 kg/m³; take the denser side, whose class includes it.
            rho60 = max(nxt, rho60)
            break
        previous, rho60 = rho60, nxt
    else:
        raise ValueError(f"density {density!r} kg/m³ at {base_c:g} °C: no density at 60 °F found")
    if not (MIN_DENSITY_60 <= rho60 <= MAX_DENSITY_60):
        raise ValueError(
            f"density {density!r} kg/m³ at {base_c:g} °C is {rho60:.4f} kg/m³ at 60 °F, outside API MPMS 11.1-2004"
            f" for refined products ({MIN_DENSITY_60}-{MAX_DENSITY_60} kg/m³ at 60 °F)"
        )
    return rho60


def density_60_from_15(density_15: float) -> float:
    """Density at 60 °F (kg/m³) of a product whose density at 15 °C is given."""
    return _density_60_at(density_15, 15.0)


def product_class(density_15: float) -> ProductClass:
    """The 2004 class of a product whose density at 15 °C is given (the boundaries are on rho60)."""
    return _class_60(density_60_from_15(density_15))


def thermal_expansion_15(density_15: float) -> float:
    """alpha60 of the 2004 standard, per °C (x 1.8), for a product of this density at 15 °C.

    The successor of the 1980 metric alpha15 (the same K0, K1 times 1.8, applied to rho68 instead of rho15)."""
    rho60 = density_60_from_15(density_15)
    k = _K[_class_60(rho60)]
    return 1.8 * _alpha_60(_density_68(rho60, k), k)


def _metric_ctl(rho60: float, temperature_c: float, base_c: float) -> float:
    return _ctl_60(rho60, _t68_f(temperature_c)) / _ctl_60(rho60, _t68_f(base_c))


def vcf_15(density_15: float, temperature_c: float) -> Decimal:
    """VCF to 15 °C (Table 54B, 2004 procedure, atmospheric pressure), rounded to 5 decimals."""
    _check_temperature(temperature_c)
    return _round_vcf(_metric_ctl(density_60_from_15(density_15), temperature_c, 15.0))


def density_15_from_20(density_20: float) -> float:
    """Density at 15 °C of a product whose density at 20 °C is given (the Table 59B direction)."""
    rho60 = _density_60_at(density_20, 20.0)
    return rho60 * _ctl_60(rho60, _t68_f(15.0))


def vcf_20(density_20: float, temperature_c: float) -> Decimal:
    """VCF to 20 °C (Table 60B, 2004 procedure, atmospheric pressure), rounded to 5 decimals."""
    _check_temperature(temperature_c)
    return _round_vcf(_metric_ctl(_density_60_at(density_20, 20.0), temperature_c, 20.0))


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
    return VolumeCorrection(
        observed_litres=float(observed_litres),
        temperature_c=float(temperature_c),
        density_kg_m3=float(density_kg_m3),
        base_temperature_c=base_temperature_c,
        vcf=factor,
        net_litres=int(net),
        product_class=_class_60(_density_60_at(density_kg_m3, float(base_temperature_c))),
    )


def _check_density_60(rho60: float) -> None:
    if not (math.isfinite(rho60) and MIN_DENSITY_60 <= rho60 <= MAX_DENSITY_60):
        raise ValueError(
            f"density at 60 °F {rho60!r} kg/m³ is outside API MPMS 11.1-2004 for refined products"
            f" ({MIN_DENSITY_60}-{MAX_DENSITY_60})"
        )


def _check_temperature(temperature_c: float) -> None:
    if not (math.isfinite(temperature_c) and MIN_TEMPERATURE_C <= temperature_c <= MAX_TEMPERATURE_C):
        raise ValueError(f"temperature {temperature_c!r} °C is outside {MIN_TEMPERATURE_C}..{MAX_TEMPERATURE_C} °C")
