"""Per-process caches of reference data for the order hot path: products, depots, prices, contract prices, the
tier table, serving depots.

Each server process keeps its own copy for at most `TTL_S` seconds. A write in this process (a new product or
depot, new prices, a customer's contract prices, the tier table) clears the affected cache at once and again after
its commit, so this process never serves stale data after its own writes; another process sees the change within
`TTL_S`. In particular a price change reaches new orders and quotes on every worker within `TTL_S` seconds
(prices are fixed at confirmation, so an order confirmed in that interval keeps the previous price, like an order
confirmed just before the change).

The caches hold immutable snapshots (frozen dataclasses), never ORM objects, and belong to one engine (one
database): tests that use several databases in one process never see each other's data.
"""

from __future__ import annotations

import time
import uuid
import weakref
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import after_commit
from core.hours import WeeklyHours

TTL_S = 5.0
MAX_ENTRIES = 100_000  # a bound, not a tuning knob: reference data is small


@dataclass(frozen=True, slots=True)
class ProductInfo:
    code: str
    density_kg_m3: float


@dataclass(frozen=True, slots=True)
class DepotInfo:
    id: uuid.UUID
    code: str
    name: str
    lat: float
    lon: float
    products: frozenset[str]


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """What an order needs of a site. A site edited (PUT /sites/{id}) reaches this process's orders at once and the
    other processes' within `TTL_S`, as prices do."""

    id: uuid.UUID
    customer_id: uuid.UUID
    lat: float
    lon: float
    timezone: str
    tank_capacity_litres: int
    receiving_hours: WeeklyHours


@dataclass(frozen=True, slots=True)
class PriceInfo:
    """The list price in force on a day: the one with the latest `valid_from` not after it."""

    depot_id: uuid.UUID
    product_code: str
    valid_from: date
    price_per_litre_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class ContractInfo:
    """One of a customer's contract prices (orders.models.ContractPrice): a fixed price or a discount per litre."""

    product_code: str
    depot_id: uuid.UUID | None  # None: at every depot
    valid_from: date
    valid_to: date | None  # the last day, included; None: until replaced
    price_per_litre_minor: int | None
    discount_per_litre_minor: int | None

    def applies(self, *, depot_id: uuid.UUID, product_code: str, day: date) -> bool:
        return (
            self.product_code == product_code
            and self.depot_id in (None, depot_id)
            and self.valid_from <= day
            and (self.valid_to is None or day <= self.valid_to)
        )


@dataclass(frozen=True, slots=True)
class TierTable:
    """The volume tier bands, ascending: (from tonnes, discount in basis points); the first starts at 0 t."""

    bands: tuple[tuple[int, int], ...]

    def tier_for(self, yearly_kg: int) -> int:
        """The index of the band the yearly volume falls in."""
        tier = 0
        for index, (from_tonnes, _) in enumerate(self.bands):
            if yearly_kg >= from_tonnes * 1000:
                tier = index
        return tier

    def discount_bps(self, tier: int) -> int:
        """The band's discount; a tier beyond the table (stored before it shrank) gets the last band's."""
        return self.bands[min(tier, len(self.bands) - 1)][1]


class TTLCache:
    """A dict whose entries expire `ttl` seconds after they were stored (monotonic clock)."""

    def __init__(self, ttl: float = TTL_S) -> None:
        self.ttl = ttl
        self._data: dict[Hashable, tuple[float, Any]] = {}

    def get(self, key: Hashable) -> tuple[bool, Any]:
        entry = self._data.get(key)
        if entry is None:
            return False, None
        expires, value = entry
        if expires < time.monotonic():
            self._data.pop(key, None)
            return False, None
        return True, value

    def put(self, key: Hashable, value: Any) -> None:
        if len(self._data) >= MAX_ENTRIES:
            self._data.clear()
        self._data[key] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        self._data.clear()


@dataclass
class ReferenceCache:
    products: TTLCache = field(default_factory=TTLCache)  # code -> ProductInfo | None
    depots: TTLCache = field(default_factory=TTLCache)  # None -> tuple[DepotInfo, ...]
    prices: TTLCache = field(default_factory=TTLCache)  # (depot id, product, day) -> PriceInfo | None
    contracts: TTLCache = field(default_factory=TTLCache)  # customer id -> tuple[ContractInfo, ...]
    tier_table: TTLCache = field(default_factory=TTLCache)  # None -> TierTable
    # (lat, lon, product) -> (DepotInfo, km) | None. Derived from the depots alone, so it lives as long as the
    # depots do not change: `depot_snapshot` clears it whenever a refreshed list of depots differs.
    serving: TTLCache = field(default_factory=lambda: TTLCache(ttl=float("inf")))
    sites: TTLCache = field(default_factory=TTLCache)  # site id -> SiteInfo
    # (customer id, UTC day, tier bands) -> the discount tier stored on the account for that day, which never
    # changes once stored under those bands (orders.accounts.tier_of_the_day): learnt when this process places
    # the day's first order. A new tier table makes a new key, so the tier is looked up again.
    tiers: TTLCache = field(default_factory=lambda: TTLCache(ttl=float("inf")))
    last_depots: tuple[DepotInfo, ...] | None = None

    def depot_snapshot(self, depots: tuple[DepotInfo, ...]) -> None:
        if depots != self.last_depots:
            self.serving.clear()
            self.last_depots = depots


_caches: weakref.WeakKeyDictionary[Any, ReferenceCache] = weakref.WeakKeyDictionary()


def for_session(session: AsyncSession) -> ReferenceCache:
    """The caches of the database this session talks to."""
    bind = session.sync_session.get_bind()
    engine = getattr(bind, "engine", bind)
    cache = _caches.get(engine)
    if cache is None:
        cache = _caches[engine] = ReferenceCache()
    return cache


def invalidate(session: AsyncSession, *names: str) -> None:
    """Forget the named caches now and once more after the session commits (a concurrent request in this
    process may have refilled them from the not yet committed state in between)."""
    cache = for_session(session)

    def clear() -> None:
        for name in names:
            getattr(cache, name).clear()

    clear()
    after_commit(session, clear)
