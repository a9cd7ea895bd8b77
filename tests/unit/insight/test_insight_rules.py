"""The pure rules of insight: bands, the usual interval and the dormant rule, quarters, the rollup's split, the
visit code's format."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.signing import KeyRing, generate_key
from insight import rollup, rules, visit_codes

TZ = ZoneInfo("Asia/Shanghai")
T = datetime(2030, 1, 7, 1, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("kg", "label", "level"),
    [
        (0, "<20t", "station_employee"),
        (19_999, "<20t", "station_employee"),
        (20_000, "20-50t", "station"),
        (49_999, "20-50t", "station"),
        (50_000, "50-100t", "area"),
        (100_000, "100-500t", "city"),
        (499_999, "100-500t", "city"),
        (500_000, ">500t", "region"),
    ],
)
def test_bands(kg: int, label: str, level: str) -> None:
    band = rules.band_of(kg)
    assert (band.label, str(band.level)) == (label, level)


def test_usual_interval_is_the_median_gap_of_the_last_ten_orders() -> None:
    old = [T - 100 * DAY]  # an eleventh order, 60 days before the others: outside the last ten
    recent = [T - (40 - 4 * i) * DAY for i in range(10)]  # every 4 days
    assert rules.usual_interval(old + recent) == 4 * DAY
    assert rules.usual_interval([T]) is None
    assert rules.usual_interval([T - 3 * DAY, T, T - DAY]) == 1.5 * DAY  # order does not matter


def test_dormant_rule() -> None:
    floor = timedelta(days=30)
    weekly = [T - d * DAY for d in (36, 29, 22, 15)]
    assert rules.dormant_since(weekly, now=T, floor=floor) == T - DAY
    assert rules.dormant_since(weekly, now=T - DAY, floor=floor) is None  # exactly at the threshold: not yet
    assert rules.dormant_since([T - 30 * DAY], now=T, floor=floor) is None
    assert rules.dormant_since([T - 31 * DAY, T - 40 * DAY], now=T, floor=floor) == T - DAY
    assert rules.dormant_since([], now=T, floor=floor) is None
    hourly = [T - timedelta(hours=h) for h in (5, 4, 3, 2)]  # every hour: quiet after a day, not after two hours
    assert rules.dormant_since(hourly, now=T, floor=floor) is None
    assert rules.dormant_since(hourly, now=T + 2 * DAY, floor=floor) == T - timedelta(hours=2) + DAY


def test_quarters_and_a_year_earlier() -> None:
    q = rules.quarter_of(datetime(2029, 12, 31, 16, 30, tzinfo=UTC), TZ)  # 00:30 on 1 January in Shanghai
    assert q.label == "2030-Q1" and q.start == datetime(2029, 12, 31, 16, tzinfo=UTC)
    q4 = rules.quarter_of(datetime(2030, 11, 5, tzinfo=UTC), TZ)
    assert q4.label == "2030-Q4" and q4.end == datetime(2030, 12, 31, 16, tzinfo=UTC)
    leap = datetime(2032, 2, 29, 12, tzinfo=TZ)
    assert rules.year_earlier(leap, TZ) == datetime(2031, 2, 28, 12, tzinfo=TZ)
    assert rules.change_pct(150, 100) == 50.0 and rules.change_pct(5, 0) is None


def test_rollup_split_takes_whole_months_before_through() -> None:
    start, end = datetime(2029, 1, 15, tzinfo=TZ), datetime(2029, 5, 10, tzinfo=TZ)
    parts = rollup.split(start, end, through=date(2029, 4, 1), tz=TZ)
    assert parts.months == (date(2029, 2, 1), date(2029, 3, 1))
    assert parts.live == ((start, datetime(2029, 2, 1, tzinfo=TZ)), (datetime(2029, 4, 1, tzinfo=TZ), end))
    assert rollup.split(start, end, through=None, tz=TZ).live == ((start, end),)
    exact = rollup.split(
        datetime(2029, 2, 1, tzinfo=TZ), datetime(2029, 3, 1, tzinfo=TZ), through=date(2030, 1, 1), tz=TZ
    )
    assert exact.months == (date(2029, 2, 1),) and exact.live == ()


def test_visit_code_round_trip_and_refusals() -> None:
    ring = KeyRing((generate_key(),))
    site = uuid.uuid4()
    token = visit_codes.issue(ring, site_id=site, issued=1_900_000_000)
    check = visit_codes.verify(token + "\n", keyring=ring)  # a scanner's newline is harmless
    assert check.ok and check.site_id == site and check.token_hash
    assert visit_codes.verify(token, keyring=KeyRing((generate_key(),))).reason == "unknown_key"
    for hostile in ("", "x" * 400, 42, None, "::::", token[:-10]):
        assert visit_codes.verify(hostile, keyring=ring).reason == "malformed"
    other = visit_codes.issue(ring, site_id=uuid.uuid4(), issued=1)
    spliced = other[: len(other) // 2] + token[len(token) // 2 :]
    assert not visit_codes.verify(spliced, keyring=ring).ok
