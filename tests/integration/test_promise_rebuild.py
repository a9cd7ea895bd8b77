"""The promise's tentative plan rebuilt in the background (promise.rebuild, the beat task `promise.rebuild_days`).

The known day of test_plan_from_tentative (three tankers, twenty orders taken one by one, in an order that makes
insertion open a tanker too many): the rebuild stores a plan cheaper than the one insertion grew, the checker
accepts it, and the next request's kept day starts from it (the stored routes, plus the orders taken since, minus
those cancelled). A run with nothing new stores nothing; a day another run is solving is left alone.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import update

import routing
from core.celery_app import celery_app
from core.db import create_engine, session_factory, unit_of_work
from promise import day as promise_day
from promise.day import load_day
from promise.models import TentativePlan
from promise.rebuild import rebuild_day
from tests.factories import World, ok
from tests.integration.test_plan_from_tentative import DAY, _known_day

pytestmark = pytest.mark.integration

# Bounded by solutions, not time: the same plan on every run and machine.
PARAMS = routing.SolveParams(time_limit_s=120, solution_limit=500, workers=1)


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
    engine = create_engine(settings.db.url, null_pool=True)
    factory = session_factory(engine)
    try:
        promise_day.forget()
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
    finally:
        promise_day.forget()
        await engine.dispose()


async def test_a_day_another_run_is_solving_is_left_alone_until_its_claim_expires(
    world: World, app: Any, clock: Any
) -> None:
    depot = await _known_day(world, lat=23.0, lon=109.0, orders=4)
    settings = app.state.settings
    depot_id, day = uuid.UUID(depot["id"]), date.fromisoformat(DAY)
    engine = create_engine(settings.db.url, null_pool=True)
    factory = session_factory(engine)
    try:
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
    finally:
        promise_day.forget()
        await engine.dispose()


def test_beat_runs_the_rebuild_and_the_worker_knows_it() -> None:
    schedule = celery_app.conf.beat_schedule["promise-rebuild"]
    assert schedule["task"] == "promise.rebuild_days"
    assert "promise.tasks" in celery_app.conf.include
    import promise.tasks  # noqa: F401  (what the worker imports through `include`)

    assert "promise.rebuild_days" in celery_app.tasks
