"""Planning on the worker: build the problem, close the session, solve, re-open, store the draft plan.

Tasks take ids, are idempotent (a duplicate delivery of a finished job does nothing), acknowledge late, and a
periodic reaper re-queues jobs whose worker died (no heartbeat) or whose message never reached the broker.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import traceback
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import routing
from core.celery_app import celery_app
from core.clock import SystemClock, stopped_within
from core.db import create_engine, session_factory, unit_of_work
from core.settings import get_settings
from dispatch import start_port, warm
from dispatch.builder import build_day
from dispatch.models import PlanJob
from dispatch.planning import fail_job, progress_update, start_job, store_plan
from dispatch.roads import matrix_provider as matrix_provider  # still imported from here by callers
from dispatch.states import JobStatus, move_job

log = logging.getLogger("diesel.dispatch")
PROGRESS_EVERY_S = 1.0
MAX_ATTEMPTS = 3


@celery_app.task(name="dispatch.plan_day", ignore_result=True, time_limit=1200, soft_time_limit=1100)
def plan_day(job_id: str) -> str:
    return asyncio.run(_plan_day(uuid.UUID(job_id)))


async def _plan_day(job_id: uuid.UUID) -> str:
    settings = get_settings()
    clock = SystemClock()
    engine = create_engine(settings.db.url, null_pool=True)
    factory = session_factory(engine)
    try:
        async with unit_of_work(factory) as session:
            job = await start_job(session, job_id, now=clock.now())
            if job is None:
                return "skipped"
            day, depot_id, limit, start_from = job.date, job.depot_id, job.time_limit_s, job.start_from
        try:
            routes: start_port.Routes = {}
            async with unit_of_work(factory) as session:
                context = await build_day(
                    session, day=day, depot_id=depot_id, time_limit_s=limit, default_tz=settings.default_timezone
                )
                if start_from == "tentative":
                    depots = [depot_id] if depot_id else [uuid.UUID(d.id) for d in context.problem.depots]
                    routes = await start_port.tentative_routes(session, day=day, depot_ids=depots)
            # No session is open while the solver runs.
            provider = matrix_provider(settings)
            problem, start = context.problem, None
            if start_from == "tentative":
                problem, start = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: warm.warm(context.problem, routes, provider)
                )
                if start is None:
                    context.notes.append(warm.NOT_USED)
            result = await _solve_watching(factory, job_id, problem, limit, provider, start_from=start)
            async with unit_of_work(factory) as session:
                plan = await store_plan(session, job_id=job_id, context=context, result=result, now=clock.now())
            return "cancelled" if plan is None else str(plan.id)
        except Exception as error:
            log.exception("planning job %s failed", job_id)
            async with unit_of_work(factory) as session:
                await fail_job(session, job_id, error=_readable(error), now=clock.now())
            return "failed"
    finally:
        await engine.dispose()


def _readable(error: Exception) -> str:
    if isinstance(error, routing.ProblemError):
        return "The day cannot be planned: " + "; ".join(error.errors[:10])
    return f"Planning failed: {type(error).__name__}: {error}"[:500] + "\n" + traceback.format_exc(limit=3)[-1000:]


async def _solve_watching(
    factory: async_sessionmaker[AsyncSession],
    job_id: uuid.UUID,
    problem: routing.Problem,
    limit_s: int,
    provider: routing.MatrixProvider | None = None,
    *,
    start_from: routing.Solution | None = None,
) -> routing.Result:
    """Solve on a thread while this loop writes progress and watches for a cancel request (from `start_from`
    when given: the tentative plan laid on this problem)."""
    loop = asyncio.get_running_loop()
    cancel = threading.Event()
    latest: dict[str, float | int | None] = {"cost": None, "elapsed": 0.0}
    started = time.monotonic()

    def on_progress(progress: routing.Progress) -> None:
        latest["cost"], latest["elapsed"] = progress.best_cost_minor, progress.elapsed_s

    async def watch() -> None:
        pause = 0.3  # the first plan usually comes within a fraction of a second: show it soon
        while not await stopped_within(solved, pause):
            pause = PROGRESS_EVERY_S
            elapsed = time.monotonic() - started
            cost = latest["cost"]
            async with unit_of_work(factory) as session:
                await session.execute(
                    progress_update(
                        job_id,
                        progress=min(0.99, elapsed / max(1, limit_s)),
                        best_cost=int(cost) if cost is not None else None,
                        now=SystemClock().now(),
                    )
                )
                wanted = await session.scalar(select(PlanJob.cancel_requested).where(PlanJob.id == job_id))
            if wanted:
                cancel.set()
                return

    solved = asyncio.Event()
    watcher = asyncio.create_task(watch())
    try:
        return await loop.run_in_executor(
            None,
            lambda: routing.solve(
                problem,
                params=routing.SolveParams(time_limit_s=float(limit_s)),
                on_progress=on_progress,
                cancel=cancel,
                matrix_provider=provider,
                start_from=start_from,
            ),
        )
    finally:
        # Told to stop and awaited, never cancelled: a cancel landing in its unit of work made SQLAlchemy
        # terminate the aiosqlite connection while a second cancel (asyncio.run's, when the task's other work
        # ended first) left that connection's close waiting for ever, and with it the worker's only thread.
        solved.set()
        await asyncio.wait([watcher])  # not gather: that would cancel it if this task were cancelled
        if not watcher.cancelled() and watcher.exception() is not None:  # best effort: the answer still counts
            log.warning("progress of planning job %s stopped: %r", job_id, watcher.exception())


@celery_app.task(name="dispatch.reap_stale_jobs", ignore_result=True, time_limit=120, soft_time_limit=100)
def reap_stale_jobs() -> int:
    return asyncio.run(reap())


async def reap(*, stale_s: int | None = None, database_url: str | None = None) -> int:
    """Jobs whose worker died (no heartbeat) are re-queued, then failed after MAX_ATTEMPTS; jobs still queued
    long after their request (the broker was down) are sent again. The job table is the durable outbox."""
    settings = get_settings()
    now = SystemClock().now()
    stale_before = now - timedelta(seconds=settings.broker.plan_job_stale_s if stale_s is None else stale_s)
    engine = create_engine(database_url or settings.db.url, null_pool=True)
    resend: list[str] = []
    try:
        async with unit_of_work(session_factory(engine)) as session:
            running = (
                await session.scalars(
                    select(PlanJob)
                    .where(PlanJob.status == JobStatus.RUNNING, PlanJob.heartbeat_at < stale_before)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for job in running:
                if job.attempts >= MAX_ATTEMPTS:
                    move_job(job, JobStatus.FAILED)
                    job.finished_at = now
                    job.error = f"The planning worker stopped {job.attempts} times without finishing; giving up."
                else:
                    move_job(job, JobStatus.QUEUED)
                    resend.append(str(job.id))
            queued = (
                await session.scalars(
                    select(PlanJob.id).where(PlanJob.status == JobStatus.QUEUED, PlanJob.created_at < stale_before)
                )
            ).all()
            resend += [str(i) for i in queued if str(i) not in resend]
    finally:
        await engine.dispose()
    for job_id in resend:
        plan_day.delay(job_id)
    return len(resend)
