"""Planning jobs are capped: one queued or running job per day and depot (the same request joins it), and at
most PLAN_JOBS_MAX_ACTIVE at once over all days and depots.

The jobs here are never sent to a worker (`plan_day.delay` does nothing), so they stay queued for as long as
each test needs; every test cancels its jobs before it ends.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa

from tests.factories import ok

pytestmark = pytest.mark.integration

API = "/api/v1"


@pytest.fixture
def no_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    from dispatch.tasks import plan_day

    monkeypatch.setattr(plan_day, "delay", lambda *args, **kwargs: None)


def plan_body(day: str, depot: dict[str, Any], time_limit_s: int = 5) -> dict[str, Any]:
    return {"date": day, "depot_id": depot["id"], "time_limit_s": time_limit_s}


async def cancel(world, job_id: str) -> None:  # type: ignore[no-untyped-def]
    ok(await world.client.post(f"{API}/plan-jobs/{job_id}/cancel", headers=world.h("dispatcher")))


def query(database_url: str, sql: str, **params: Any) -> list[Any]:
    from core.settings import sync_database_url

    engine = sa.create_engine(sync_database_url(database_url))
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":  # uuids are stored as 32 hex digits there
                params = {k: v.replace("-", "") for k, v in params.items()}
            return [row[0] for row in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def jobs_of_depot(database_url: str, depot_id: str) -> list[str]:
    return query(database_url, "SELECT status FROM plan_jobs WHERE depot_id = :d", d=depot_id)


async def test_plan_requests_at_once_queue_one_job(world, racer, no_worker, database_url) -> None:
    depot = await world.new_depot()
    for day in ("2030-01-14", "2030-01-15", "2030-01-16"):  # three races: one lucky interleaving proves little
        body = plan_body(day, depot)
        answers = await asyncio.gather(
            *(racer.post(f"{API}/plans", headers=world.h("dispatcher"), json=body) for _ in range(6))
        )
        assert sorted(a.status_code for a in answers) == [200] * 5 + [202], [a.text for a in answers]
        job_ids = {a.json()["job_id"] for a in answers}
        assert len(job_ids) == 1  # the others joined the first
        await cancel(world, job_ids.pop())
    assert jobs_of_depot(database_url, depot["id"]) == ["cancelled"] * 3


async def test_a_repeated_plan_request_joins_its_job_and_another_time_limit_is_refused(world, no_worker) -> None:
    depot = await world.new_depot()
    staff = world.h("dispatcher")
    first = ok(await world.client.post(f"{API}/plans", headers=staff, json=plan_body("2030-01-14", depot)), 202)
    again = ok(await world.client.post(f"{API}/plans", headers=world.h("admin"), json=plan_body("2030-01-14", depot)))
    assert again == first  # a retry (or a second click) follows the same job

    longer = await world.client.post(f"{API}/plans", headers=staff, json=plan_body("2030-01-14", depot, 60))
    assert (longer.status_code, longer.json()["code"]) == (409, "plan_job_active")
    assert longer.json()["job_id"] == first["job_id"]

    # Another day, or the same day once the job is cancelled, gets a job of its own.
    other_day = ok(await world.client.post(f"{API}/plans", headers=staff, json=plan_body("2030-01-15", depot)), 202)
    assert other_day["job_id"] != first["job_id"]
    await cancel(world, first["job_id"])
    replanned = ok(await world.client.post(f"{API}/plans", headers=staff, json=plan_body("2030-01-14", depot, 60)), 202)
    assert replanned["job_id"] not in (first["job_id"], other_day["job_id"])
    for job in (other_day, replanned):
        await cancel(world, job["job_id"])


async def test_at_most_plan_jobs_max_active_wait_or_run_at_once(
    world, app, no_worker, monkeypatch, database_url
) -> None:
    # Other tests' jobs may still wait (no worker ran them): the cap here is two more than those.
    (waiting,) = query(
        database_url,
        "SELECT count(*) FROM plan_jobs WHERE status IN ('queued', 'running') AND NOT cancel_requested",
    )
    settings = app.state.settings
    monkeypatch.setattr(
        app.state, "settings", replace(settings, broker=replace(settings.broker, plan_jobs_max_active=waiting + 2))
    )
    depots = [await world.new_depot() for _ in range(3)]
    staff = world.h("dispatcher")
    accepted = [
        ok(await world.client.post(f"{API}/plans", headers=staff, json=plan_body("2030-01-16", d)), 202)
        for d in depots[:2]
    ]
    refused = await world.client.post(f"{API}/plans", headers=staff, json=plan_body("2030-01-16", depots[2]))
    assert (refused.status_code, refused.json()["code"]) == (429, "plan_queue_full")
    # Joining a waiting job adds none, so it is still answered.
    ok(await world.client.post(f"{API}/plans", headers=staff, json=plan_body("2030-01-16", depots[0])), 200)

    await cancel(world, accepted[0]["job_id"])
    third = ok(await world.client.post(f"{API}/plans", headers=staff, json=plan_body("2030-01-16", depots[2])), 202)
    for job in (accepted[1], third):
        await cancel(world, job["job_id"])
