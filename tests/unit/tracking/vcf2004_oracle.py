"""A second, independent implementation of the API MPMS 11.1-2004 metric path (refined products), used only as a
test oracle for tracking.volume.

Written separately and kept deliberately plain: 60 °F constants applied to the density at 60 °F, the ITS-90 ->
IPTS-68 temperature conversion and the delta60 shift, rho15 -> rho60 by fixed-point iteration, and the 15 °C
base reached by dividing two 60 °F CTLs. No rounding, no range checks.
"""

import math

DELTA60 = 0.01374979547  # °F
_A = (-0.148759, -0.267408, 1.080760, 1.269056, -4.089591, -1.871251, 7.438081, -3.536296)


def _k(rho60: float) -> tuple[float, float, float]:
    if rho60 < 770.3520:
        return 192.4571, 0.2438, 0.0
    if rho60 < 787.5195:
        return 1489.0670, 0.0, -0.00186840
    if rho60 < 838.3127:
        return 330.3010, 0.0, 0.0
    return 103.8720, 0.2701, 0.0


def _t68_f(t_c90: float) -> float:
    tau = t_c90 / 630.0
    poly = 0.0
    for a in reversed(_A):
        poly = poly * tau + a
    return 1.8 * (t_c90 - poly * tau) + 32.0


def ctl60(rho60: float, t_c: float) -> float:
    k0, k1, k2 = _k(rho60)
    a = DELTA60 / 2 * ((k0 / rho60 + k1) / rho60 + k2)
    b = (2 * k0 + k1 * rho60) / (k0 + (k1 + k2 * rho60) * rho60)
    rho_star = rho60 * (1 + (math.exp(a * (1 + 0.8 * a)) - 1) / (1 + a * (1 + 1.6 * a) * b))
    alpha = (k0 / rho_star + k1) / rho_star + k2
    dt = _t68_f(t_c) - 60.0068749
    return math.exp(-alpha * dt * (1 + 0.8 * alpha * (dt + DELTA60)))


def ctl15(rho15: float, t_c: float) -> float:
    rho60 = rho15
    for _ in range(100):
        nxt = rho15 / ctl60(rho60, 15.0)
        if abs(nxt - rho60) < 1e-10:
            rho60 = nxt
            break
        rho60 = nxt
    return ctl60(rho60, t_c) / ctl60(rho60, 15.0)
