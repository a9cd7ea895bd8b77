"""`make bench-promise`: the delivery promise on a day filling up, over HTTP against the served app on PostgreSQL.

1. (re)creates the database (default `diesel_bench_promise`) on 127.0.0.1:5432, migrates it and seeds one depot
   (Pudong), `--tankers` tankers with their drivers and one site per order to come (benchmarks/promise/world.py);
2. starts `diesel serve --workers 2` with PROMISE_MODE=refuse;
3. for each of `--orders` orders, one after the other: `GET /api/v1/availability` for its site, grade and litres,
   then `POST /api/v1/orders` in a feasible window (one inside the window the customer wanted when there is one,
   else any feasible one; when none is feasible, the wanted window, which the promise must refuse: 409);
   meanwhile (`--rebuild thread`, the default) a thread of this process runs the beat task's body
   (promise.rebuild.rebuild_days: each drifted day solved for `--rebuild-seconds`, stored when it beats insertion)
   again `--rebuild-interval` seconds after each run ends, as `diesel worker --beat` would on its schedule;
4. stops the server and the rebuild thread, builds the depot's tentative plan of the day in this process
   (promise.day.load_day: the stored plan, the orders taken since inserted, as the server had it), runs the
   rebuild once more (the beat's next run after the last order) and builds the tentative plan again, checks it
   with routing.check, and solves the same day with routing.solve for `--solve-seconds` twice: from nothing, and
   started from the tentative plan;
5. prints the table and writes benchmarks/results/promise.md and promise.csv.

Run with `make bench-promise` or `.venv/bin/python -m benchmarks.bench_promise --help` (e.g. `--orders 200
--tankers 12 --solve-seconds 10` for a quick run).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import redis
from rich.console import Console

import routing
from benchmarks.api import cpu
from benchmarks.api.report import save_single, show_summary
from benchmarks.api.server import HOST, PG, environment, free_port, header, start_server, stop_server
from benchmarks.api.world import drop_database, recreate_database
from benchmarks.promise.world import World, seed

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_AVAILABILITY_MS, TARGET_PLACEMENT_MS = 100, 150
TARGET_TENTATIVE = 0.05  # the tentative plan within 5 % of a fresh solve
console = Console(width=200)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench_promise", description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=1000, help="orders placed one by one")
    p.add_argument("--tankers", type=int, default=60, help="tankers of the depot, each with its driver")
    p.add_argument("--solve-seconds", type=float, default=60, help="time limit of each routing.solve at the end")
    p.add_argument("--seed", type=int, default=1, help="of the generated world and of the windows chosen")
    p.add_argument("--database", default="diesel_bench_promise", help="dropped and recreated on every run")
    p.add_argument("--redis-db", type=int, default=11, help="Redis database of the server (flushed)")
    p.add_argument("--keep", action="store_true", help="keep the database afterwards (dropped otherwise)")
    p.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/promise.*")
    p.add_argument("--rebuild", choices=("thread", "off"), default="thread", help="the background rebuild")
    p.add_argument("--rebuild-seconds", type=float, default=20, help="PROMISE_REBUILD_SECONDS of each day's solve")
    p.add_argument("--rebuild-interval", type=float, default=5, help="pause between rebuild runs (s)")
    p.add_argument("--rebuild-changes", type=int, default=10, help="PROMISE_REBUILD_CHANGES")
    return p.parse_args(argv)


def _pick(windows: list[dict[str, Any]], wanted: tuple[str, str], rng: random.Random) -> tuple[str, str] | None:
    feasible = [w for w in windows if w["feasible"]]
    inside = [w for w in feasible if wanted[0] <= w["window_start"] and w["window_end"] <= wanted[1]]
    chosen = rng.choice(inside or feasible) if feasible else None
    return (chosen["window_start"], chosen["window_end"]) if chosen else None


def place_orders(args: argparse.Namespace, port: int, world: World) -> dict[str, Any]:
    rng = random.Random(args.seed)
    availability: list[float] = []
    placement: list[float] = []
    outcomes: dict[str, int] = {}
    outside = 0
    with httpx.Client(base_url=f"http://{HOST}:{port}/api/v1", timeout=60) as http:
        for n, ask in enumerate(world.asks):
            headers = {"Authorization": f"Bearer {ask.token}"}
            query: dict[str, str | int] = {
                "site_id": ask.site_id,
                "product_code": ask.product_code,
                "quantity_litres": ask.litres,
                "date": world.day.isoformat(),
            }
            t0 = time.perf_counter()
            answer = http.get("/availability", headers=headers, params=query)
            availability.append(time.perf_counter() - t0)
            if answer.status_code != 200:
                raise RuntimeError(f"GET /availability answered {answer.status_code}: {answer.text[:500]}")
            window = _pick(answer.json(), ask.wanted, rng)
            if window is not None and not (ask.wanted[0] <= window[0] and window[1] <= ask.wanted[1]):
                outside += 1
            start, end = window or ask.wanted
            body = {
                "site_id": ask.site_id,
                "product_code": ask.product_code,
                "quantity_litres": ask.litres,
                "delivery_date": world.day.isoformat(),
                "window_start": start,
                "window_end": end,
            }
            t0 = time.perf_counter()
            placed = http.post("/orders", headers={**headers, "Idempotency-Key": str(uuid.uuid4())}, json=body)
            placement.append(time.perf_counter() - t0)
            code = str(placed.status_code)
            if placed.status_code >= 400:
                code += " " + str(placed.json().get("code"))
            key = f"{'feasible' if window else 'none feasible'} → {code}"
            outcomes[key] = outcomes.get(key, 0) + 1
            if (n + 1) % 100 == 0:
                console.print(
                    f"  {n + 1} orders: availability p50 {1000 * np.median(availability[-100:]):.0f} ms, "
                    f"placement p50 {1000 * np.median(placement[-100:]):.0f} ms (last 100)"
                )
    return {"availability": availability, "placement": placement, "outcomes": outcomes, "outside": outside}


async def tentative_day(url: str, world: World) -> routing.insertion.TentativeDay:
    from core.db import create_engine, session_factory
    from core.settings import async_database_url
    from promise.day import forget, load_day

    forget()
    engine = create_engine(async_database_url(url), null_pool=True)
    try:
        async with session_factory(engine)() as session:
            depot_lat_lon = (0.0, 0.0)
            day = await load_day(
                session, depot_id=world.depot_id, day=world.day, default_tz="Asia/Shanghai", extra_point=depot_lat_lon
            )
            return day.tentative
    finally:
        await engine.dispose()


class Rebuilder(threading.Thread):
    """The beat task's body (promise.rebuild.rebuild_days) run again and again in a thread of this process while
    the orders arrive: each run, then a pause of `interval` seconds."""

    def __init__(self, url: str, settings: Any, *, interval: float) -> None:
        super().__init__(name="promise-rebuild", daemon=True)
        self.url, self.settings, self.interval = url, settings, interval
        self.stop = threading.Event()
        self.runs: list[tuple[float, float, list[Any]]] = []  # (started after, took, outcomes)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._loop())
        except BaseException as error:  # reported by the main thread
            self.error = error

    async def once(self) -> list[Any]:
        from core.db import create_engine, session_factory
        from core.settings import async_database_url
        from promise.rebuild import rebuild_days

        engine = create_engine(async_database_url(self.url), null_pool=True)
        try:
            return await rebuild_days(session_factory(engine), self.settings)
        finally:
            await engine.dispose()

    async def _loop(self) -> None:
        t0 = time.monotonic()
        while not self.stop.is_set():
            started = time.monotonic()
            outcomes = await self.once()
            self.runs.append((started - t0, time.monotonic() - started, outcomes))
            stored = [o for o in outcomes if o.status == "stored"]
            for o in stored:
                console.print(
                    f"  rebuild at {started - t0:.0f} s: stored {o.solved_cost_minor:,} (insertion "
                    f"{o.insertion_cost_minor:,}) in {time.monotonic() - started:.0f} s"
                )
            self.stop.wait(self.interval)


def ms(values: list[float], q: float) -> float:
    return float(1000 * np.percentile(values, q))


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    tmp = Path(tempfile.mkdtemp(prefix="diesel-bench-promise-"))
    redis_url = f"redis://{HOST}:6379/{args.redis_db}"
    env = environment(tmp, redis_url, drop=("CELERY_", "DATABASE_", "OSRM_"), extra={"PROMISE_MODE": "refuse"})
    from core.settings import load_settings

    settings = load_settings()
    url = f"{PG}/{args.database}"
    redis.Redis.from_url(redis_url).flushdb()
    console.print(f"[bold]database[/] {url}: recreate, migrate, seed {args.tankers} tankers, {args.orders} sites …")
    recreate_database(f"{PG}/postgres", args.database)
    try:
        t0 = time.monotonic()
        world = asyncio.run(
            seed(url, settings, now=datetime.now(UTC), orders=args.orders, tankers=args.tankers, seed=args.seed)
        )
        console.print(f"  seeded in {time.monotonic() - t0:.0f} s; the day is {world.day}")
        port = free_port()
        server = start_server(url, port, env, tmp / "server.log")
        rebuild_settings = replace(
            settings,
            promise=replace(
                settings.promise, rebuild_seconds=args.rebuild_seconds, rebuild_changes=args.rebuild_changes
            ),
        )
        rebuilder = Rebuilder(url, rebuild_settings, interval=args.rebuild_interval)
        try:
            before = cpu.snapshot(server.pid, args.database)
            t0 = time.monotonic()
            if args.rebuild == "thread":
                rebuilder.start()
            run = place_orders(args, port, world)
            run["wall"] = time.monotonic() - t0
            run["use"] = cpu.usage(before, cpu.snapshot(server.pid, args.database))
        finally:
            rebuilder.stop.set()
            stop_server(server)
        if rebuilder.is_alive():
            rebuilder.join()
        if rebuilder.error is not None:
            raise rebuilder.error
        console.print("[bold]tentative plan[/] built in this process, then routing.solve twice …")
        t0 = time.perf_counter()
        tentative = asyncio.run(tentative_day(url, world))
        build_s = time.perf_counter() - t0
        run["at_last_order"] = tentative.solution()
        if args.rebuild == "thread":  # the beat's next run, after the last order
            t0 = time.monotonic()
            last = asyncio.run(rebuilder.once())
            rebuilder.runs.append((run["wall"], time.monotonic() - t0, last))
            tentative = asyncio.run(tentative_day(url, world))
        run["rebuilds"] = rebuilder.runs
        problem = tentative.problem
        plan = tentative.solution()
        violations = routing.check(problem, plan)
        params = routing.SolveParams(time_limit_s=args.solve_seconds)
        cold = routing.solve(problem, params=params, seed=0)
        warm = routing.solve(problem, params=params, seed=0, start_from=plan)
    finally:
        if not args.keep:
            drop_database(f"{PG}/postgres", args.database)
    rows, checks = build_rows(args, problem, run, plan, violations, cold, warm, build_s)
    facts = header() | {
        "machine load": f"CPU other {run['use'].get('other', 0):.0f} % of one core during the orders "
        f"(server {run['use'].get('server', 0):.0f} %, PostgreSQL {run['use'].get('postgres', 0):.0f} %, "
        f"load generator {run['use'].get('loadgen', 0):.0f} %)",
        "day": f"{len(world.asks)} orders asked for one depot (Pudong), {world.tankers} tankers "
        f"({world.fleet_litres:,} L per round), PROMISE_MODE=refuse, `diesel serve --workers 2`, PostgreSQL",
        "run": f"--orders {args.orders} --tankers {args.tankers} --solve-seconds {args.solve_seconds:g} "
        f"--seed {args.seed} --rebuild {args.rebuild} --rebuild-seconds {args.rebuild_seconds:g} "
        f"--rebuild-interval {args.rebuild_interval:g} --rebuild-changes {args.rebuild_changes}; "
        f"orders placed in {run['wall']:.0f} s",
    }
    show_summary(console, "The delivery promise on a day filling up", rows, facts, checks, left="metric")
    if not args.no_save:
        note = (
            "Latencies are the client's, over HTTP on the same machine, one request at a time (each order asks "
            "`GET /availability` then `POST /orders`). The tentative plan is the one the promise keeps: the plan "
            "the background rebuild stored last (promise.rebuild_days, run here in a thread of the benchmark "
            "process while the orders arrive, as the worker's beat would), the orders taken since inserted; "
            "`routing.solve` runs afterwards in the benchmark process with the server "
            "stopped, with a wall-clock limit on a shared 2-core machine: compare with the load noted above. "
            "Reproduce with `make bench-promise`; see benchmarks/README.md."
        )
        save_single(
            RESULTS,
            "promise",
            title="Promise benchmark: availability and placement on a day filling up",
            facts=facts,
            rows=rows,
            checks=checks,
            note=note,
            stamp=("date", "commit", "machine", "machine load"),
        )
        console.print(f"written {RESULTS / 'promise.md'} and promise.csv")


def build_rows(
    args: argparse.Namespace,
    problem: routing.Problem,
    run: dict[str, Any],
    plan: routing.Solution,
    violations: list[Any],
    cold: Any,
    warm: Any,
    build_s: float,
) -> tuple[list[dict[str, str]], list[str]]:
    rows: list[dict[str, str]] = []

    def add(metric: str, value: str, target: str = "", verdict: str = "") -> None:
        rows.append({"metric": metric, "value": value, "target": target, "verdict": verdict})

    checks: list[str] = []
    for name, key, target in (
        ("GET /availability", "availability", TARGET_AVAILABILITY_MS),
        ("POST /orders", "placement", TARGET_PLACEMENT_MS),
    ):
        values = run[key]
        p99 = ms(values, 99)
        add(f"{name} p50", f"{ms(values, 50):.0f} ms")
        add(f"{name} p95", f"{ms(values, 95):.0f} ms")
        verdict = "met" if p99 <= target else "MISSED"
        add(f"{name} p99", f"{p99:.0f} ms", f"≤ {target} ms", verdict)
        add(f"{name} max", f"{ms(values, 100):.0f} ms")
        checks.append(f"{name} p99 {p99:.0f} ms, target ≤ {target} ms: {verdict}")
    for outcome, count in sorted(run["outcomes"].items()):
        add(f"orders: {outcome}", str(count))
    add("orders placed outside the window the customer wanted (none feasible inside)", str(run["outside"]))
    add("tentative plan built from the database in one go (this process)", f"{build_s:.1f} s")
    runs = run["rebuilds"]
    if runs:
        outcomes = [o for _, _, found in runs for o in found]
        stored = [o for o in outcomes if o.status == "stored"]
        add(
            "background rebuild: runs, days solved, plans stored; longest run",
            f"{len(runs)}, {sum(o.status in ('stored', 'kept') for o in outcomes)}, {len(stored)}; "
            f"{max(took for _, took, _ in runs):.0f} s",
        )
    else:
        add("background rebuild", "off")
    served = len(plan.served_job_ids())
    add("tentative plan: orders served / unassigned", f"{served} / {len(plan.unassigned)}")
    add(
        "tentative plan: checker violations (routing.check)",
        str(len(violations)),
        "0",
        "met" if not violations else "MISSED",
    )
    penalties = {job.id: job.penalty_minor for job in problem.jobs}

    def routing_cost(solution: routing.Solution) -> int:
        return solution.cost_minor - sum(penalties.get(u.job_id, 0) for u in solution.unassigned)

    at_last = run["at_last_order"]
    add(
        "tentative plan at the last order (before the beat's next run): cost (routing cost), unassigned",
        f"{at_last.cost_minor:,} fen ({routing_cost(at_last):,}), {len(at_last.unassigned)}",
    )
    add("tentative plan cost (routing cost, without penalties)", f"{plan.cost_minor:,} fen ({routing_cost(plan):,})")
    for label, result in (("fresh solve", cold), ("solve started from the tentative plan", warm)):
        solution, stats = result.solution, result.stats
        add(
            f"{label} ({args.solve_seconds:g} s): cost (routing cost), unassigned; winner, solutions, CPU",
            f"{solution.cost_minor:,} fen ({routing_cost(solution):,}), {len(solution.unassigned)}; "
            f"{stats.source}, {stats.solutions}, {stats.cpu_s:.0f} s",
        )
    # Judged on the routing cost (distance and fixed costs): a plan that leaves an order out saves its route but
    # pays a 10,000,000-fen penalty, which would make any comparison of whole costs meaningless. The orders left
    # out are shown beside it.
    fresh, warm_cost = routing_cost(cold.solution), routing_cost(warm.solution)
    left = f"(unassigned: tentative {len(plan.unassigned)}, fresh {len(cold.solution.unassigned)}"
    left += f", from the tentative {len(warm.solution.unassigned)})"
    at_last_ratio = routing_cost(at_last) / fresh - 1 if fresh else float("nan")
    add("tentative at the last order vs fresh solve, routing cost", f"{100 * at_last_ratio:+.1f} %")
    ratio = routing_cost(plan) / fresh - 1 if fresh else float("nan")
    verdict = "met" if ratio <= TARGET_TENTATIVE else "MISSED"
    add(
        "tentative vs fresh solve, routing cost",
        f"{100 * ratio:+.1f} % {left}",
        f"≤ +{100 * TARGET_TENTATIVE:.0f} %",
        verdict,
    )
    solve = f"a fresh {args.solve_seconds:g}-s solve"
    checks.append(f"tentative plan's routing cost {100 * ratio:+.1f} % vs {solve} {left}: {verdict}")
    warm_ratio = warm_cost / fresh - 1 if fresh else float("nan")
    verdict = "met" if warm_cost <= fresh else "MISSED"
    add("solve from the tentative plan vs cold, routing cost", f"{100 * warm_ratio:+.1f} % {left}", "≤ 0 %", verdict)
    checks.append(
        f"final plan started from the tentative plan: routing cost {100 * warm_ratio:+.1f} % vs cold: {verdict}"
    )

    # The planner's own objective (orders left out first, then cost): a plan that serves every order beats one that
    # leaves some out, whatever their routing costs.
    def objective(solution: routing.Solution) -> tuple[int, int]:
        return len(solution.unassigned), routing_cost(solution)

    for label, mine in (("tentative plan", plan), ("solve from the tentative plan", warm.solution)):
        ahead = objective(mine) <= objective(cold.solution)
        add(
            f"{label} vs fresh solve by the planner's objective (orders left out, then routing cost)",
            "{} left out, {:,} fen vs {} left out, {:,} fen".format(*objective(mine), *objective(cold.solution)),
            "no worse",
            "met" if ahead else "MISSED",
        )
    return rows, checks


if __name__ == "__main__":
    main()
