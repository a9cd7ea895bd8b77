"""Which windows of a day the fleet can still serve for an order, and an order's place taken when it is placed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import msgspec
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import routing
from core.auth import Principal
from core.hours import HoursEntry, local_windows, within, zone
from core.settings import OrderRules, PromiseSettings
from dispatch.models import Tanker
from orders import promise_port
from orders import schemas as os_
from orders.accounts import get_site
from orders.catalogue import product_info, serving_depot
from orders.models import Depot, Site
from orders.rules import check_delivery_date, check_quantity
from promise import proposals
from promise.day import Day, load_day, serialise
from promise.schemas import WindowOut
from routing.insertion import Placement, with_window

CANDIDATE = "candidate"
LOOK_AHEAD_DAYS = 3  # a quote's earliest window: its day and this many days after it


@dataclass(frozen=True, slots=True)
class _Ask:
    site: Site
    depot: Depot
    product_code: str
    litres: int


async def _fleet_managed(session: AsyncSession, depot_id: uuid.UUID) -> bool:
    """A depot without any tanker is not planned here (its deliveries are not ours to promise): never refused.

    On PostgreSQL asked on a connection of its own: a query in the session would begin its transaction, and the
    order path's one statement would then join it instead of running on its own (with its lock timeout)."""
    query = select(exists().where(Tanker.depot_id == depot_id))
    if session.get_bind().dialect.name == "postgresql" and isinstance(session.bind, AsyncEngine):
        async with session.bind.connect() as connection:
            return bool(await connection.scalar(query))
    return bool(await session.scalar(query))


def _job(ask: _Ask) -> routing.Job:
    site = ask.site
    allowed = tuple(range(1, site.max_vehicle_class + 1)) if site.max_vehicle_class else None
    return routing.Job(
        id=CANDIDATE,
        lat=site.lat,
        lon=site.lon,
        product=ask.product_code,
        litres=ask.litres,
        allowed_vehicle_classes=allowed,
    )


def _hhmm(at: datetime, day: date, tz_name: str) -> str:
    local = at.astimezone(zone(tz_name))
    return "24:00" if local.date() > day and local.time() == time(0) else local.strftime("%H:%M")


def _windows(depot: Depot, site: Site, day: date, minutes: int) -> list[tuple[datetime, datetime]]:
    """The windows offered: `minutes` long, from the earlier of the depot's opening and the site's receiving hours
    to the later of their closings (windows the site cannot receive in are shown as `site_closed`)."""
    spans = local_windows([HoursEntry(**h) for h in depot.opening_hours], day, zone(depot.timezone))
    spans += local_windows(msgspec.convert(site.receiving_hours, list[HoursEntry]), day, zone(site.timezone))
    if not spans:
        return []
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    out = []
    at = first
    while at + timedelta(minutes=minutes) <= last:
        out.append((at, at + timedelta(minutes=minutes)))
        at += timedelta(minutes=minutes)
    return out


def _judge(
    day: Day,
    ask: _Ask,
    windows: list[tuple[datetime, datetime]],
    *,
    now: datetime,
    rules: OrderRules,
    managed: bool,
) -> list[tuple[str | None, int | None]]:
    """For each window (reason it cannot be served, marginal cost): reason None when it can. The windows the fleet
    is asked about are judged in one pass (routing.insertion.TentativeDay.try_jobs)."""
    tz = zone(ask.site.timezone)
    hours = msgspec.convert(ask.site.receiving_hours, list[HoursEntry])
    out: list[tuple[str | None, int | None]] = []
    asked: list[int] = []
    for start, end in windows:
        if not within(hours, start, end, tz):
            out.append(("site_closed", None))
        elif start < now + timedelta(minutes=rules.lead_time_minutes):
            out.append(("cut_off", None))
        elif not managed:
            out.append((None, None))
        elif not day.context.problem.depots:
            out.append(("depot_closed", None))
        else:
            asked.append(len(out))
            out.append((None, None))
    jobs = [with_window(_job(ask), (max(0, day.seconds(windows[i][0])), day.seconds(windows[i][1]))) for i in asked]
    for i, outcome in zip(asked, day.tentative.try_jobs(jobs), strict=True):
        out[i] = (None, outcome.added_cost_minor) if isinstance(outcome, Placement) else (str(outcome), None)
    return out


async def _day_for(session: AsyncSession, ask: _Ask, day: date, *, default_tz: str) -> Day:
    return await load_day(
        session, depot_id=ask.depot.id, day=day, default_tz=default_tz, extra_point=(ask.site.lat, ask.site.lon)
    )


async def availability(
    session: AsyncSession,
    *,
    site_id: uuid.UUID,
    product_code: str,
    litres: int,
    day: date,
    viewer: Principal,
    now: datetime,
    rules: OrderRules,
    settings: PromiseSettings,
    default_tz: str,
) -> list[WindowOut]:
    """Every window of the day: whether the fleet can still serve the order there, why not, what it adds."""
    site = await get_site(session, site_id, viewer=viewer)
    product = await product_info(session, product_code)
    check_quantity(litres, rules=rules, tank_capacity_litres=site.tank_capacity_litres)
    check_delivery_date(day, today=now.astimezone(zone(site.timezone)).date(), rules=rules)
    info, _ = await serving_depot(session, lat=site.lat, lon=site.lon, product_code=product.code)
    depot = await session.get(Depot, info.id)
    assert depot is not None
    ask = _Ask(site=site, depot=depot, product_code=product.code, litres=litres)
    managed = await _fleet_managed(session, depot.id)
    return await _windows_of(
        session, ask, day, now=now, rules=rules, settings=settings, default_tz=default_tz, managed=managed
    )


async def _windows_of(
    session: AsyncSession,
    ask: _Ask,
    day: date,
    *,
    now: datetime,
    rules: OrderRules,
    settings: PromiseSettings,
    default_tz: str,
    managed: bool,
) -> list[WindowOut]:
    tentative = await _day_for(session, ask, day, default_tz=default_tz)
    windows = _windows(ask.depot, ask.site, day, settings.window_minutes)
    judged = _judge(tentative, ask, windows, now=now, rules=rules, managed=managed)
    out = []
    for (start, end), (reason, cost) in zip(windows, judged, strict=True):
        out.append(
            WindowOut(
                window_start=_hhmm(start, day, ask.site.timezone),
                window_end=_hhmm(end, day, ask.site.timezone),
                window_start_at=start,
                window_end_at=end,
                feasible=reason is None,
                reason=reason,
                marginal_cost_minor=cost,
            )
        )
    return out


class FleetPromise:
    """orders.promise_port's implementation (registered by api/app.py)."""

    def __init__(self, *, settings: PromiseSettings, rules: OrderRules, default_tz: str) -> None:
        self.settings = settings
        self.rules = rules
        self.default_tz = default_tz

    @property
    def refuses(self) -> bool:
        return self.settings.mode == "refuse"

    async def _ask(
        self, session: AsyncSession, site_id: uuid.UUID, depot_id: uuid.UUID, code: str, litres: int
    ) -> _Ask:
        site = await session.get(Site, site_id)
        depot = await session.get(Depot, depot_id)
        assert site is not None and depot is not None  # checked by the order's rules before
        return _Ask(site=site, depot=depot, product_code=code, litres=litres)

    async def place(self, session: AsyncSession, request: promise_port.PlaceRequest) -> str | None:
        if self.settings.mode == "off" or not await _fleet_managed(session, request.depot_id):
            return None
        await serialise(session, request.depot_id, request.delivery_date)
        ask = await self._ask(session, request.site_id, request.depot_id, request.product_code, request.litres)
        day = await _day_for(session, ask, request.delivery_date, default_tz=self.default_tz)
        if not day.context.problem.depots:
            return "depot_closed"
        window = (max(0, day.seconds(request.window_start)), day.seconds(request.window_end))
        outcome = day.tentative.try_job(with_window(_job(ask), window))
        return None if isinstance(outcome, Placement) else str(outcome)

    async def answer(self, session: AsyncSession, request: promise_port.QuoteRequest) -> os_.PromiseAnswer:
        """The quote's earliest window; when the quote's day has none, whether the fleet is full that day and, if
        so, a pickup slot at the serving depot as well."""
        if not await _fleet_managed(session, request.depot_id):
            return os_.PromiseAnswer(earliest_window=None)
        earliest, quote_day = await self._earliest(session, request)
        if earliest is not None and earliest.delivery_date == request.delivery_date:
            return os_.PromiseAnswer(earliest_window=earliest)
        if not proposals.fleet_full(quote_day):
            return os_.PromiseAnswer(earliest_window=earliest)
        pickup = await proposals.pickup_alternative(
            session,
            depot_id=request.depot_id,
            product_code=request.product_code,
            first_day=request.delivery_date,
            now=request.now,
            rules=self.rules,
            days=LOOK_AHEAD_DAYS,
        )
        return os_.PromiseAnswer(earliest_window=earliest, fleet_full=True, pickup_alternative=pickup)

    async def _earliest(
        self, session: AsyncSession, request: promise_port.QuoteRequest
    ) -> tuple[os_.EarliestWindow | None, list[WindowOut]]:
        """The first feasible window from the quote's day on (the fleet managed, checked by the caller), and the
        windows of the quote's day (what `answer` judges the fleet full by)."""
        ask = await self._ask(session, request.site_id, request.depot_id, request.product_code, request.litres)
        quote_day: list[WindowOut] = []
        for offset in range(LOOK_AHEAD_DAYS + 1):
            day = request.delivery_date + timedelta(days=offset)
            windows = await _windows_of(
                session,
                ask,
                day,
                now=request.now,
                rules=self.rules,
                settings=self.settings,
                default_tz=self.default_tz,
                managed=True,
            )
            if offset == 0:
                quote_day = windows
            first = next((w for w in windows if w.feasible), None)
            if first is not None:
                promise = timedelta(hours=self.settings.promise_hours)
                return (
                    os_.EarliestWindow(
                        delivery_date=day,
                        window_start=first.window_start,
                        window_end=first.window_end,
                        window_start_at=first.window_start_at,
                        window_end_at=first.window_end_at,
                        within_promise=first.window_start_at <= request.now + promise,
                        promise_hours=self.settings.promise_hours,
                        marginal_cost_minor=first.marginal_cost_minor,
                    ),
                    quote_day,
                )
        return None, quote_day
