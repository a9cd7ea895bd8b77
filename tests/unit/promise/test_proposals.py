"""When the fleet is full: no window of the day can be served, for a reason of the fleet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from promise.proposals import fleet_full
from promise.schemas import WindowOut

AT = datetime(2030, 1, 8, 0, 0, tzinfo=UTC)


def _windows(*reasons: str | None) -> list[WindowOut]:
    return [
        WindowOut(
            window_start=f"{8 + 2 * i:02d}:00",
            window_end=f"{10 + 2 * i:02d}:00",
            window_start_at=AT + timedelta(hours=2 * i),
            window_end_at=AT + timedelta(hours=2 * i + 2),
            feasible=reason is None,
            reason=reason,
        )
        for i, reason in enumerate(reasons)
    ]


def test_a_day_with_one_window_served_is_not_full() -> None:
    assert not fleet_full(_windows("cut_off", None, "shift_ends"))


def test_a_day_whose_windows_are_refused_by_the_fleet_is_full() -> None:
    assert fleet_full(_windows("cut_off", "compartments_full", "shift_ends", "site_closed"))
    assert fleet_full(_windows("no_tanker_free"))


def test_a_day_only_closed_or_past_its_cut_off_is_not_full() -> None:
    assert not fleet_full(_windows("cut_off", "cut_off", "site_closed"))
    assert not fleet_full([])
