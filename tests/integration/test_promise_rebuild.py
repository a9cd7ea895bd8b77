"""The promise's tentative plan rebuilt in the background (promise.rebuild, the beat task `promise.rebuild_days`).

The known day of test_plan_from_tentative (three tankers, twenty orders taken one by one, in an order that makes
insertion open a tanker too many): the rebuild stores a plan cheaper than the one insertion grew, the checker
accepts it, and the next request's kept day starts from it (the stored routes, plus the orders taken since, minus
those cancelled). A run with nothing new stores nothing; a day another run is solving is left alone.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import routing
from core.celery_app import celery_app
from core.db import create_engine, session_factory, unit_of_work
from promise import day as promise_day
from promise.day import load_day
from promise.models import TentativePlan
from promise.rebuild import SOLVED, rebuild_day, rebuild_days
from tests.factories import World, new_fleet, ok
from tests.integration.test_plan_from_tentative import DAY, _known_day

pytestmark = pytest.mark.integration

# Bounded by solutions, not time: the same plan on every run and machine.
PARAMS = routing.SolveParams(time_limit_s=120, solution_limit=500, workers=1)


@contextlib.asynccontextmanager
async def _sessions(settings: Any) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions of the test's own engine, with no kept day of another test before or after."""
    engine = create_engine(settings.db.url, null_pool=True)
    promise_day.forget()
    try:
        yield session_factory(engine)
    finally:
        promise_day.forget()
        await engine.dispose()


async def _kept(factory: Any, depot: dict[str, Any]) -> promise_day.Day:
    async with factory() as session:
        return await load_day(
            session,
            depot_id=uuid.UUID(depot["id"]),
            day=date.fromisoformat(DAY),
            default_tz="Asia/Shanghai",
            extra_point=(depot["lat"], depot["lon"]),
        )


def _without(routes: dict[str, list[list[str]]], order_id: str) -> dict[str, list[list[str]]]:
    trimmed = {t: [[j for j in trip if j != order_id] for trip in trips] for t, trips in routes.items()}
    return {t: [trip for trip in trips if trip] for t, trips in trimmed.items() if any(trips)}


async def test_the_rebuild_stores_a_cheaper_checked_plan_and_the_kept_day_starts_from_it(
    world: World, app: Any, clock: Any
) -> None:
    depot = await _known_day(world, lat=24.0, lon=110.0)
    settings = replace(app.state.settings, promise=replace(app.state.settings.promise, rebuild_changes=3))
    depot_id, day = uuid.UUID(depot["id"]), date.fromisoformat(DAY)
    async with _sessions(settings) as factory:
        before = await _kept(factory, depot)  # the day grown by insertion, oldest order first
        insertion = before.tentative.solution()
        assert not insertion.unassigned

        outcome = await rebuild_day(factory, settings, depot_id=depot_id, day=day, clock=clock, params=PARAMS)
        assert outcome.status == "stored", outcome
        assert outcome.insertion_cost_minor == insertion.cost_minor
        async with factory() as session:
            row = await session.get(TentativePlan, (depot_id, day))
        assert row is not None and row.solved_at is not None and row.solving_until is None
        assert row.cost_minor is not None and row.cost_minor < insertion.cost_minor
        assert row.unassigned == 0 and len(row.order_ids) == 20

        # The next request (this thread's kept day) starts from the stored routes: the same plan, the same cost,
        # and the checker accepts it.
        after = await _kept(factory, depot)
        assert after.tentative.routes_by_job() == row.routes
        plan = after.tentative.solution()
        assert plan.cost_minor == row.cost_minor and not plan.unassigned
        assert routing.check(after.tentative.problem, plan) == []

        # Run again with nothing new: no solve, nothing stored.
        again = await rebuild_day(factory, settings, depot_id=depot_id, day=day, clock=clock, params=PARAMS)
        assert again.status == "unchanged"
        async with factory() as session:
            same = await session.get(TentativePlan, (depot_id, day))
        assert same is not None and same.solved_at == row.solved_at and same.attempted_at == row.attempted_at

        # An order taken after the solve is inserted into the stored routes; one cancelled leaves them.
        late = await world.new_customer(lat=24.05, lon=110.05)
        new = ok(
            await late.order(
                delivery_date=DAY,
                quantity_litres=3000,
                window_start="06:00",
                window_end="20:00",
                product_code="diesel-0",
            ),
            201,
        )
        gone = row.order_ids[0]
        ok(await world.client.post(f"/api/v1/orders/{gone}/cancel", headers=world.h("admin"), json={"reason": "x"}))
        grown = await _kept(factory, depot)
        routes = grown.tentative.routes_by_job()
        served = {j for trips in routes.values() for trip in trips for j in trip}
        assert new["id"] in served and gone not in served
        assert _without(routes, new["id"]) == _without(row.routes, gone)
        assert routing.check(grown.tentative.problem, grown.tentative.solution()) == []

        # Two changes, under the threshold of three: still nothing to do.
        assert (
            await rebuild_day(factory, settings, depot_id=depot_id, day=day, clock=clock, params=PARAMS)
        ).status == ("unchanged")


async def test_a_day_another_run_is_solving_is_left_alone_until_its_claim_expires(
    world: World, app: Any, clock: Any
) -> None:
    depot = await _known_day(world, lat=23.0, lon=109.0, orders=4)
    settings = app.state.settings
    depot_id, day = uuid.UUID(depot["id"]), date.fromisoformat(DAY)
    async with _sessions(settings) as factory:
        async with unit_of_work(factory) as session:
            session.add(
                TentativePlan(
                    depot_id=depot_id,
                    day=day,
                    order_ids=[],
                    attempted_at=clock.now(),
                    routes={},
                    solving_until=clock.now() + timedelta(minutes=5),
                )
            )
        busy = await rebuild_day(factory, settings, depot_id=depot_id, day=day, clock=clock, params=PARAMS)
        assert busy.status == "busy"
        async with unit_of_work(factory) as session:  # that run died: its claim runs out
            await session.execute(
                update(TentativePlan)
                .where(TentativePlan.depot_id == depot_id)
                .values(solving_until=clock.now() - timedelta(seconds=1))
            )
        done = await rebuild_day(factory, settings, depot_id=depot_id, day=day, clock=clock, params=PARAMS)
        assert done.status in ("stored", "kept")
        async with factory() as session:
            row = await session.get(TentativePlan, (depot_id, day))
        assert row is not None and row.solving_until is None and len(row.order_ids) == 4


def test_beat_runs_the_rebuild_and_the_worker_knows_it() -> None:
    schedule = celery_app.conf.beat_schedule["promise-rebuild"]
    assert schedule["task"] == "promise.rebuild_days"
    assert "promise.tasks" in celery_app.conf.include
    import promise.tasks  # noqa: F401  (what the worker imports through `include`)

    assert "promise.rebuild_days" in celery_app.tasks


@pytest.mark.usefixtures("fleet_promise")
async def test_a_stored_plan_never_takes_the_place_of_an_order_already_taken(
    world: World, app: Any, clock: Any
) -> None:
    """One trip a day (the rack loads 06:00-07:00). The first order (6,000 L) rides the big tanker; a second, at a
    site only the small tanker (one 6,000-L compartment, class 2) may reach, rides the small one. A plan stored
    from before the second order put the first on the small tanker: laid as it is, the second has no place left,
    so the kept day stays as it was (and is not built again at the next request)."""
    from tests.integration.test_promise import DAY as ONE_TRIP_DAY
    from tests.integration.test_promise import _small_day

    depot, _ = await _small_day(world, 114.7)
    small = (await new_fleet(world, depot, tankers=1, compartments=[6000], vehicle_class=2, fixed_cost_minor=90_000))[0]
    depot_id, day = uuid.UUID(depot["id"]), date.fromisoformat(ONE_TRIP_DAY)
    async with _sessions(app.state.settings) as factory:

        async def kept() -> promise_day.Day:
            async with factory() as session:
                return await load_day(
                    session, depot_id=depot_id, day=day, default_tz="Asia/Shanghai", extra_point=(28.5, 114.7)
                )

        first_routes = (await kept()).tentative.routes_by_job()
        assert small["id"] not in first_routes and len(first_routes) == 1
        [(big_id, [[first_id]])] = first_routes.items()
        narrow = await world.new_customer(lat=28.52, lon=114.72, max_vehicle_class=2)
        second = ok(
            await narrow.order(
                delivery_date=ONE_TRIP_DAY, quantity_litres=3000, window_start="08:00", window_end="12:00"
            ),
            201,
        )
        async with unit_of_work(factory) as session:
            session.add(
                TentativePlan(
                    depot_id=depot_id,
                    day=day,
                    order_ids=[first_id],
                    attempted_at=clock.now(),
                    routes={small["id"]: [[first_id]]},
                    solved_at=clock.now(),
                    cost_minor=0,
                )
            )
        after = await kept()
        assert after.tentative.routes_by_job() == {big_id: [[first_id]], small["id"]: [[second["id"]]]}
        assert not after.tentative.refused
        kept_day = promise_day._days[(depot_id, day, threading.get_ident())]
        assert kept_day.stored_at == clock.now()


async def test_a_run_solves_one_drifted_day_and_leaves_the_next_to_the_next_run(
    world: World, app: Any, clock: Any
) -> None:
    # Two more drifted days (besides whatever other tests of this world left): a run holds its worker thread for
    # one solve only, so planning jobs and invoice runs queued behind it wait for one solve at most; the next run
    # takes the next drifted day, never the one just solved again.
    for lat, lon in ((35.0, 100.0), (40.0, 95.0)):  # far from every other depot: each serves its own sites
        await _known_day(world, lat=lat, lon=lon)
    settings = replace(app.state.settings, promise=replace(app.state.settings.promise, mode="flag", rebuild_changes=3))
    async with _sessions(settings) as factory:
        solved: list[tuple[uuid.UUID, date]] = []
        for _ in range(2):
            outcomes = await rebuild_days(factory, settings, clock=clock, params=PARAMS)
            done = [(o.depot_id, o.day) for o in outcomes if o.status in SOLVED]
            assert len(done) == 1 and outcomes[-1].status in SOLVED  # it stops at the first day it solves
            solved += done
        assert solved[0] != solved[1]
        off = replace(settings, promise=replace(settings.promise, mode="off"))
        assert await rebuild_days(factory, off, clock=clock, params=PARAMS) == []
