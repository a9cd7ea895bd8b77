"""The promise's API shapes."""

from __future__ import annotations

from datetime import datetime

import msgspec


class WindowOut(msgspec.Struct, omit_defaults=True):
    window_start: str  # HH:MM, the site's local time, as POST /orders takes it
    window_end: str
    window_start_at: datetime
    window_end_at: datetime
    feasible: bool
    # site_closed | cut_off | no_tanker_free | compartments_full | shift_ends | no_vehicle_class | too_large |
    # unreachable | depot_closed
    reason: str | None = None
    marginal_cost_minor: int | None = None
