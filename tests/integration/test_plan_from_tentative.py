"""Planning a day from the delivery promise's tentative plan (`POST /plans` with `start_from: "tentative"`).

A known day: a depot of its own (in Hunan, far from the other tests' depots) with three tankers and twenty orders.
The tentative plan laid on the planner's problem is a plan the independent checker accepts; the search started
from it is checked too and is no worse than a fresh solve with the same budget (bounded by a solution count, so
both runs are repeatable).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

import routing
from core.db import create_engine, session_factory, unit_of_work
from dispatch import warm
from dispatch.builder import build_day
from dispatch.roads import matrix_provider
from promise.start import TentativeRoutes
from tests.factories import World, new_fleet, ok, wait_for_job

pytestmark = pytest.mark.integration

DAY = "2030-01-15"
WINDOWS = [("08:00", "12:00"), ("09:00", "17:00"), ("12:00", "16:00"), ("06:00", "20:00")]


async def _known_day(world: World, *, lat: float, lon: float, orders: int = 20) -> dict[str, Any]:
    depot = await world.new_depot(bays=3, lat=lat, lon=lon, code=f"kd-{uuid.uuid4().hex[:6]}")
    await new_fleet(world, depot, tankers=3)
    for index in range(orders):
        # A fixed spread of sites around the depot (up to ~25 km), of 2,000 to 6,000 L each.
        dlat, dlon = ((index * 37) % 21 - 10) / 45, ((index * 53) % 23 - 11) / 45
        customer = await world.new_customer(lat=lat + dlat, lon=lon + dlon)
        start, end = WINDOWS[index % len(WINDOWS)]
        order = ok(
            await customer.order(
                delivery_date=DAY,
                quantity_litres=2000 + 1000 * (index % 5),
                window_start=start,
                window_end=end,
                product_code="diesel-0",
            ),
            201,
        )
        assert order["depot_id"] == depot["id"]
    return depot


async def _planner_day(
    settings: Any, depot: dict[str, Any], *, tentative: bool = False
) -> tuple[routing.Problem, dict[str, list[list[str]]]]:
    """The planner's problem of the known day, and the promise's tentative routes of it when ``tentative``."""
    day, depot_id = date.fromisoformat(DAY), uuid.UUID(depot["id"])
    engine = create_engine(settings.db.url, null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            context = await build_day(
                session, day=day, depot_id=depot_id, time_limit_s=5, default_tz=settings.default_timezone
            )
            routes = {}
            if tentative:
                ask = TentativeRoutes(default_tz=settings.default_timezone)
                routes = await ask(session, day=day, depot_ids=[depot_id])
    finally:
        await engine.dispose()
    return context.problem, routes


def _score(solution: routing.Solution) -> tuple[int, int]:
    return len(solution.unassigned), solution.cost_minor


async def test_the_plan_started_from_the_tentative_plan_is_checked_and_no_worse_than_a_fresh_solve(app, world) -> None:
    depot = await _known_day(world, lat=27.0, lon=113.0)
    settings = app.state.settings
    planned, routes = await _planner_day(settings, depot, tentative=True)
    assert len(planned.jobs) == 20 and routes
    problem, start = warm.warm(planned, routes, matrix_provider(settings))
    assert start is not None
    assert routing.check(problem, start) == []
    assert not start.unassigned  # the tentative plan serves the whole day
    # The same budget for both: 2,000 solutions (about 5 s each here; the time limit never binds). With 300 the
    # warm search was still 4 % dearer: the tentative plan, grown by insertion, uses a tanker more.
    params = routing.SolveParams(time_limit_s=120, solution_limit=2000, workers=1)
    warmed = routing.solve(problem, params=params, start_from=start)
    fresh = routing.solve(problem, params=params)
    assert routing.check(problem, warmed.solution) == []
    assert warmed.is_feasible() and fresh.is_feasible()
    assert _score(warmed.solution) <= _score(start)  # the search keeps its start when it finds nothing better
    assert _score(warmed.solution) <= _score(fresh.solution), (_score(warmed.solution), _score(fresh.solution))


async def test_no_tentative_route_to_keep_gives_no_start(app, world) -> None:
    depot = await _known_day(world, lat=26.0, lon=112.0, orders=4)
    settings = app.state.settings
    planned, _ = await _planner_day(settings, depot)
    provider = matrix_provider(settings)
    assert warm.warm(planned, {}, provider)[1] is None
    # A tanker the day does not know and orders it does not have: nothing kept, no start.
    assert warm.warm(planned, {str(uuid.uuid4()): [[str(uuid.uuid4())]]}, provider)[1] is None


async def test_plans_take_a_start_and_refuse_an_unknown_one_with_a_stable_code(world, worker) -> None:
    depot = await _known_day(world, lat=25.0, lon=111.0, orders=6)
    body = {"date": DAY, "depot_id": depot["id"], "time_limit_s": 2}
    for bad in ("warm", "", 1, None):
        refused = await world.client.post(
            "/api/v1/plans", headers=world.h("dispatcher"), json={**body, "start_from": bad}
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["code"] == "validation_error" and "start_from" in refused.text
    worker.ensure_running()
    accepted = await world.client.post(
        "/api/v1/plans", headers=world.h("dispatcher"), json={**body, "start_from": "tentative"}
    )
    assert accepted.status_code == 202, accepted.text
    # The same day and depot asked to start otherwise while the job is active: refused, naming the job.
    other = await world.client.post("/api/v1/plans", headers=world.h("dispatcher"), json={**body, "start_from": "cold"})
    job = await wait_for_job(world, accepted.json()["job_id"], wait_s=120)
    if other.status_code != 202:  # the job may have finished already on a fast worker
        assert other.status_code == 409 and other.json()["code"] == "plan_job_active"
    assert job["status"] == "succeeded", job
    assert job["start_from"] == "tentative"
    plan = ok(await world.client.get(f"/api/v1/plans/{job['plan_id']}", headers=world.h("dispatcher")))
    assert warm.NOT_USED not in plan["notes"]  # the worker had the promise's tentative plan to start from
    assert not plan["unassigned"] and sum(len(t["stops"]) for r in plan["routes"] for t in r["trips"]) >= 6
    # Without the option a job starts cold (and is cancelled here: its plan is not what this test is about).
    cold = ok(await world.client.post("/api/v1/plans", headers=world.h("dispatcher"), json=body), 202)
    shown = ok(await world.client.get(f"/api/v1/plan-jobs/{cold['job_id']}", headers=world.h("dispatcher")))
    assert shown["start_from"] == "cold"
    await world.client.post(f"/api/v1/plan-jobs/{cold['job_id']}/cancel", headers=world.h("dispatcher"))
    await wait_for_job(world, cold["job_id"], wait_s=60)
