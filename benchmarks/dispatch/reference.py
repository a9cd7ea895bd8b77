"""What the routing library alone does with the day the service planned, and the service's own phases in-process.

* `build`: `dispatch.builder.build_day` on the benchmark database, timed (the worker's first phase).
* `solve`: the stored plan's problem (`Plan.problem_json`, decoded) through `routing.solve` in this process with
  the same parameters as the worker (`SolveParams(time_limit_s=limit)`, seed 0, geodesic matrix), timed, with the
  memory of this process's tree sampled like the worker's and its CPU (this process and its waited-for children).
* `store`: `dispatch.planning.store_plan` of that result for a planning job made up for it, inside a transaction
  that is rolled back (the database is left as the service left it), timed.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

import routing
from benchmarks.dispatch.procs import Peak, TreeSampler
from core.db import create_engine, session_factory, unit_of_work
from core.settings import async_database_url
from dispatch.builder import DayContext, build_day
from dispatch.models import PlanJob
from dispatch.planning import store_plan


@dataclass
class Reference:
    result: routing.Result
    wall_s: float  # around routing.solve, as measured here
    cpu_s: float  # this process and its children, during the solve
    memory: Peak
    progress: list[tuple[float, int]]  # (elapsed s, best cost) as routing.solve reported them


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


async def build(url: str, *, day: date, limit_s: int, default_tz: str) -> tuple[DayContext, float]:
    engine = create_engine(async_database_url(url), null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            started = time.perf_counter()
            context = await build_day(session, day=day, depot_id=None, time_limit_s=limit_s, default_tz=default_tz)
            return context, time.perf_counter() - started
    finally:
        await engine.dispose()


def solve(problem: routing.Problem, *, limit_s: int) -> Reference:
    with TreeSampler(os.getpid()) as sampler:
        cpu0, wall0 = _cpu_s(), time.perf_counter()
        progress: list[tuple[float, int]] = []
        result = routing.solve(
            problem,
            params=routing.SolveParams(time_limit_s=float(limit_s)),
            on_progress=lambda p: progress.append((p.elapsed_s, p.best_cost_minor)),
        )
        wall, cpu = time.perf_counter() - wall0, _cpu_s() - cpu0
    return Reference(result=result, wall_s=wall, cpu_s=cpu, memory=sampler.peak, progress=progress)


async def store(url: str, *, context: DayContext, result: routing.Result, limit_s: int) -> float:
    """Seconds `store_plan` takes for this result; nothing is kept."""
    engine = create_engine(async_database_url(url), null_pool=True)
    try:
        async with session_factory(engine)() as session:
            now = datetime.now(UTC)
            job = PlanJob(date=context.day, time_limit_s=limit_s, status="running", created_at=now, started_at=now)
            session.add(job)
            await session.flush()
            started = time.perf_counter()
            plan = await store_plan(session, job_id=job.id, context=context, result=result, now=now)
            seconds = time.perf_counter() - started
            assert plan is not None
            await session.rollback()
            return seconds
    finally:
        await engine.dispose()


def run_all(url: str, problem_json: str, *, day: date, limit_s: int, default_tz: str, runs: int) -> dict[str, object]:
    """build once, solve `runs` times, store the first run's result (rolled back)."""
    context, build_s = asyncio.run(build(url, day=day, limit_s=limit_s, default_tz=default_tz))
    problem = routing.decode_problem(problem_json)
    same = routing.decode_problem(routing.encode_problem(context.problem)) == problem  # (int/float limit aside)
    solved = [solve(problem, limit_s=limit_s) for _ in range(runs)]
    store_s = asyncio.run(store(url, context=context, result=solved[0].result, limit_s=limit_s))
    return {"build_s": build_s, "store_s": store_s, "runs": solved, "same_problem": same}
