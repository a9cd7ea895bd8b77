"""Opening hours, unit conversions, references, the idempotency body hash."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import msgspec
import pytest

from core.errors import InvalidInput
from core.hours import HoursEntry, local_windows, validate_hours, within
from core.idempotency import check_key, request_hash
from core.ids import new_id, new_reference
from core.units import apply_bps, kg_to_litres, litres_to_kg

TZ = ZoneInfo("Asia/Shanghai")


def test_windows_on_a_day_follow_the_weekday() -> None:
    hours = [
        HoursEntry(days=[1, 2, 3, 4, 5], open="07:00", close="12:00"),
        HoursEntry(days=[1, 2, 3, 4, 5], open="13:00", close="24:00"),
    ]
    monday = local_windows(hours, date(2030, 1, 7), TZ)
    assert [(a.hour, b.isoformat()) for a, b in monday] == [
        (7, "2030-01-07T12:00:00+08:00"),
        (13, "2030-01-08T00:00:00+08:00"),
    ]
    assert local_windows(hours, date(2030, 1, 12), TZ) == []  # Saturday
    assert within(hours, datetime(2030, 1, 7, 13, tzinfo=TZ), datetime(2030, 1, 7, 23, tzinfo=TZ), TZ)
    assert not within(hours, datetime(2030, 1, 7, 11, tzinfo=TZ), datetime(2030, 1, 7, 14, tzinfo=TZ), TZ)


@pytest.mark.parametrize(
    "hours",
    [
        [],
        [HoursEntry(days=[1], open="10:00", close="09:00")],
        [HoursEntry(days=[1, 1], open="08:00", close="09:00")],
        [HoursEntry(days=[2], open="08:00", close="12:00"), HoursEntry(days=[2, 3], open="11:59", close="13:00")],
    ],
)
def test_hours_that_make_no_sense_are_refused(hours: list[HoursEntry]) -> None:
    with pytest.raises(InvalidInput) as error:
        validate_hours(hours, field="opening_hours")
    assert error.value.code == "invalid_hours"


def test_hhmm_format_is_enforced_by_the_schema() -> None:
    for bad in ("7:00", "24:01", "12:60", "noon"):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert({"days": [1], "open": bad, "close": "23:00"}, HoursEntry)


def test_unit_conversions_round_to_the_litre_and_fen() -> None:
    assert kg_to_litres(8350, 835.0) == 10_000
    assert litres_to_kg(10_000, 835.0) == 8350
    assert kg_to_litres(1, 835.0) == 1
    assert apply_bps(10_000, 100) == 100
    assert apply_bps(50, 100) == 1  # 0.5 fen rounds half up


def test_ids_are_time_ordered_and_references_readable() -> None:
    first, second = new_id(), new_id()
    assert first.version == 7 and first < second
    reference = new_reference("DO", date(2030, 1, 8))
    assert reference.startswith("DO-300108-") and len(reference) == 16
    assert not set(reference[10:]) & set("ILOU")


def test_request_hash_ignores_key_order_and_checks_keys() -> None:
    class Body(msgspec.Struct):
        a: int
        b: str

    assert request_hash(Body(a=1, b="x")) == request_hash(msgspec.convert({"b": "x", "a": 1}, Body))
    assert request_hash(Body(a=1, b="x")) != request_hash(Body(a=2, b="x"))
    assert check_key("abc") == "abc" and check_key(None) is None
    for bad in ("", "   ", "x" * 256, "tab\there"):
        with pytest.raises(InvalidInput):
            check_key(bad)
