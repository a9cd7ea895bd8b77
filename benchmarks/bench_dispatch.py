"""`make bench-dispatch`: a generated realistic day planned through the API and the Celery worker.

1. (re)creates the database `diesel_bench_dispatch` on 127.0.0.1:5432 (user postgres), migrates it and seeds a day
   for tomorrow through the domain services (benchmarks/dispatch/day.py): 1,000 confirmed orders over 3 depots,
   4 grades, 60 tankers with 4-6 compartments and 60 licensed drivers paired with them;
2. starts `diesel serve --workers 2` and `diesel worker --concurrency 1` (Redis DB 12) as subprocesses;
3. POSTs /api/v1/plans {date, time_limit_s: 60} as a dispatcher and polls GET /api/v1/plan-jobs/{id} every 0.2 s
   (and the job's row, for the worker's heartbeats) while sampling the worker's memory and CPU; reads the plan;
4. stops the server and the worker, then runs the same problem through `routing.solve` in this process (same
   limit) and times the worker's other phases in-process (build, store rolled back);
5. prints the table and writes benchmarks/results/dispatch.md and dispatch.csv.

Run with `make bench-dispatch` or `.venv/bin/python -m benchmarks.bench_dispatch --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from rich.console import Console

import routing
from benchmarks.api import cpu
from benchmarks.api.report import save_single, show_summary
from benchmarks.api.server import HOST, PG, environment, free_port, header, start_server, start_worker, stop_server
from benchmarks.api.world import drop_database, postgres_facts, recreate_database
from benchmarks.dispatch import procs, reference
from benchmarks.dispatch.day import Seeded, seed
from routing.problem import preference_misses

REDIS_URL = f"redis://{HOST}:6379/12"
RESULTS = Path(__file__).resolve().parent / "results"
TARGET_OVERHEAD, TARGET_RSS_MIB = 0.10, 2048
POLL_S = 0.2
console = Console(width=200)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench_dispatch", description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=1000, help="confirmed orders of the day (one per site)")
    p.add_argument("--tankers", type=int, default=60, help="tankers, each with its driver")
    p.add_argument("--time-limit", type=int, default=60, help="time_limit_s of POST /plans (and of the reference)")
    p.add_argument("--reference-runs", type=int, default=2, help="in-process routing.solve runs of the same problem")
    p.add_argument("--seed", type=int, default=1, help="of the generated day")
    p.add_argument("--database", default="diesel_bench_dispatch", help="dropped and recreated on every run")
    p.add_argument("--keep", action="store_true", help="keep the database afterwards (dropped otherwise)")
    p.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/dispatch.*")
    return p.parse_args(argv)


@dataclass
class Service:
    """What one planning job looked like from the client and in its row; times in seconds after the POST."""

    job_id: str = ""
    post_s: float = 0.0  # the POST's own latency
    running_s: float | None = None  # first poll that saw `running`
    first_cost_s: float | None = None  # first poll that saw a best_cost
    first_cost: int | None = None
    final_cost: int | None = None  # the finished job's best_cost
    done_s: float | None = None  # first poll that saw the job finished
    status: str = ""
    error: str | None = None
    plan_id: str | None = None
    polls: int = 0
    poll_errors: int = 0
    costs: list[tuple[float, int]] = field(default_factory=list)  # (s, best_cost) as seen by the client
    # From the job's row (server clock, same machine), seconds after the POST:
    created_s: float = 0.0
    started_s: float | None = None
    solve_start_s: float | None = None  # first heartbeat minus the elapsed time it reports
    last_beat_s: float | None = None  # last heartbeat during the solve (the solve ended within ~1 s after it)
    finished_s: float | None = None
    get_plan_s: float = 0.0
    plan: dict[str, Any] = field(default_factory=dict)
    memory: procs.Peak = field(default_factory=procs.Peak)
    worker_cpu_s: float = 0.0
    use: dict[str, float] = field(default_factory=dict)  # percent of one core per group over the job
    task_s: float | None = None  # Celery's "succeeded in" for the task


def plan_job(args: argparse.Namespace, url: str, port: int, day: Seeded, server_pid: int, worker_pid: int) -> Service:
    run = Service()
    headers = {"Authorization": f"Bearer {day.token}"}
    limit = args.time_limit
    with (
        httpx.Client(base_url=f"http://{HOST}:{port}/api/v1", headers=headers, timeout=30) as http,
        psycopg.connect(url, autocommit=True) as db,
        procs.TreeSampler(worker_pid) as sampler,
    ):
        cpu0, before = procs.tree_cpu_s(worker_pid), cpu.snapshot(server_pid, args.database)
        wall0, t0 = time.time(), time.monotonic()
        answer = http.post("/plans", json={"date": day.day.isoformat(), "time_limit_s": limit})
        run.post_s = time.monotonic() - t0
        if answer.status_code != 202:
            raise RuntimeError(f"POST /plans answered {answer.status_code}: {answer.text[:500]}")
        run.job_id = answer.json()["job_id"]
        deadline = t0 + limit * 2 + 120
        tick = t0
        while True:
            tick += POLL_S
            time.sleep(max(0.0, tick - time.monotonic()))
            now = time.monotonic() - t0
            try:
                job = http.get(f"/plan-jobs/{run.job_id}").json()
            except httpx.HTTPError:
                run.poll_errors += 1
                continue
            run.polls += 1
            if job["status"] == "running" and run.running_s is None:
                run.running_s = now
            cost = job["best_cost"]
            if job["status"] == "running" and cost is not None and (not run.costs or run.costs[-1][1] != cost):
                run.costs.append((now, cost))
            if cost is not None and run.first_cost_s is None:
                run.first_cost_s, run.first_cost = now, cost
            run.final_cost = cost
            row = db.execute(
                "SELECT started_at, heartbeat_at, progress, status FROM plan_jobs WHERE id = %s", (run.job_id,)
            ).fetchone()
            assert row is not None
            started, beat, progress, status = row
            if status == "running" and started is not None and beat is not None and beat > started:
                beat_s = beat.timestamp() - wall0
                if run.solve_start_s is None and progress < 0.99:
                    run.solve_start_s = beat_s - progress * limit
                run.last_beat_s = beat_s
            if job["status"] in ("succeeded", "failed", "cancelled"):
                run.done_s, run.status, run.error, run.plan_id = now, job["status"], job["error"], job["plan_id"]
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the job did not finish in {deadline - t0:.0f} s: {job}")
        after = cpu.snapshot(server_pid, args.database)
        run.worker_cpu_s = procs.tree_cpu_s(worker_pid) - cpu0
        run.use = cpu.usage(before, after)
        run.use["worker"] = 100 * run.worker_cpu_s / (after["wall"] - before["wall"])
        run.use["other"] = max(0.0, run.use["other"] - run.use["worker"])
        created, started, last_beat, finished = db.execute(
            "SELECT created_at, started_at, heartbeat_at, finished_at FROM plan_jobs WHERE id = %s", (run.job_id,)
        ).fetchone()  # type: ignore[misc]
        run.created_s = created.timestamp() - wall0
        run.started_s = started.timestamp() - wall0 if started else None
        run.finished_s = finished.timestamp() - wall0 if finished else None
        if last_beat is not None and run.started_s is not None and last_beat.timestamp() - wall0 > run.started_s:
            run.last_beat_s = last_beat.timestamp() - wall0
        if run.plan_id:
            t1 = time.monotonic()
            answer = http.get(f"/plans/{run.plan_id}")
            run.get_plan_s = time.monotonic() - t1
            answer.raise_for_status()
            run.plan = answer.json()
    run.memory = sampler.peak
    return run


def task_seconds(log: Path, job_id: str) -> float | None:
    """The worker's own account of the task: Celery logs `Task dispatch.plan_day[…] succeeded in 61.2s`."""
    for line in log.read_text(errors="replace").splitlines():
        if "dispatch.plan_day" in line and (m := re.search(r"succeeded in ([0-9.]+)s", line)):
            return float(m.group(1))
    return None


def stored(url: str, plan_id: str) -> dict[str, Any]:
    """The plan as the worker stored it, checked again by the independent checker."""
    with psycopg.connect(url) as conn:
        cost, problem_json, solution_json, stops, unassigned = conn.execute(
            "SELECT cost_minor, problem_json, solution_json, "
            "(SELECT count(*) FROM plan_stops WHERE plan_id = p.id), "
            "(SELECT count(*) FROM plan_unassigned WHERE plan_id = p.id) FROM plans p WHERE id = %s",
            (plan_id,),
        ).fetchone()  # type: ignore[misc]
    problem, solution = routing.decode_problem(problem_json), routing.decode_solution(solution_json)
    return {
        "cost": cost,
        "problem_json": problem_json,
        "problem": problem,
        "solution": solution,
        "violations": routing.check(problem, solution),
        "stop_rows": stops,
        "unassigned_rows": unassigned,
    }


def summary(problem: routing.Problem, solution: routing.Solution) -> dict[str, Any]:
    penalties = {j.id: j.penalty_minor for j in problem.jobs}
    penalty = sum(penalties[u.job_id] for u in solution.unassigned)
    served_by = {s.job_id: r.tanker_id for r in solution.routes for t in r.trips for s in t.stops}
    misses = preference_misses(problem, served_by)
    return {
        "cost": solution.cost_minor,
        "penalty": penalty,
        "routing cost": solution.cost_minor - penalty,
        "served": len(solution.served_job_ids()),
        "unassigned": len(solution.unassigned),
        "km": solution.distance_m / 1000,
        "trips": sum(len(r.trips) for r in solution.routes),
        "tankers used": sum(1 for r in solution.routes if r.trips),
        "preference misses": misses,
        "objective": solution.cost_minor + problem.options.preference_cost_minor * misses,
    }


def fmt(value: float | None, unit: str = "s", digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}{' ' + unit if unit else ''}"


def build_rows(
    args: argparse.Namespace, run: Service, plan: dict[str, Any], ref: dict[str, Any]
) -> tuple[list[dict[str, str]], list[str]]:
    """The comparison table (service | routing alone per run | target | verdict) and the verdict lines."""
    runs: list[reference.Reference] = ref["runs"]
    names = [
        "service (API + worker)",
        *[f"routing alone{f' #{i + 1}' if len(runs) > 1 else ''}" for i in range(len(runs))],
    ]
    rows: list[dict[str, str]] = []

    def add(metric: str, service: str, alone: list[str] | str = "", target: str = "", verdict: str = "") -> None:
        cells = alone if isinstance(alone, list) else [alone] * len(runs)
        rows.append(
            {"metric": metric, names[0]: service, **dict(zip(names[1:], cells, strict=True))}
            | {
                "target": target,
                "verdict": verdict,
            }
        )

    limit = args.time_limit
    solve_lo = solve_hi = None
    if run.solve_start_s is not None and run.last_beat_s is not None:
        solve_lo = run.last_beat_s - run.solve_start_s
        solve_hi = min(solve_lo + tasks_progress_every(), (run.finished_s or 1e9) - run.solve_start_s)
    solve_mid = (solve_lo + solve_hi) / 2 if solve_lo is not None and solve_hi is not None else None
    stats = [r.result.stats for r in runs]
    add("POST /plans answered (202)", fmt(run.post_s * 1000, "ms", 0))
    add("POST → job started by the worker (queue)", fmt(run.started_s))
    add(
        "build the problem (worker: started → solve; alone: build_day timed)",
        fmt(run.solve_start_s - run.started_s if run.solve_start_s and run.started_s else None, "s", 2),
        fmt(ref["build_s"], "s", 2),
    )
    add(
        "POST → first feasible draft (first best_cost seen; alone: solver's first solution)",
        fmt(run.first_cost_s),
        [fmt(s.first_solution_s, "s", 2) for s in stats],
    )
    add(
        "solver wall time (worker: from heartbeats, ±0.5 s; alone: around routing.solve)",
        f"{fmt(solve_mid)} ({solve_lo:.1f}-{solve_hi:.1f})" if solve_mid else "-",
        [fmt(r.wall_s) for r in runs],
        f"limit {limit} s",
    )
    add(
        "store the draft plan (worker: at most finished − last heartbeat; alone: store_plan, rolled back)",
        "≤ " + fmt(run.finished_s - run.last_beat_s, "s", 2) if run.finished_s and run.last_beat_s else "-",
        fmt(ref["store_s"], "s", 2),
    )
    add("worker task (Celery's 'succeeded in')", fmt(run.task_s))
    add("POST → final plan (succeeded seen, poll every 0.2 s)", fmt(run.done_s), [fmt(r.wall_s) for r in runs])
    add("GET /plans/{id} (the final plan)", fmt(run.get_plan_s * 1000, "ms", 0))
    verdicts = []
    if solve_mid and run.done_s:
        overhead = (run.done_s - solve_mid) / solve_mid
        spread = (solve_hi - solve_lo) / 2 / solve_mid if solve_hi and solve_lo else 0
        best_ref = min(r.wall_s for r in runs)
        verdict = "met" if overhead <= TARGET_OVERHEAD else "MISSED"
        add(
            "overhead outside the solver = (POST → final − solver wall) / solver wall",
            f"{100 * overhead:.1f} % (±{100 * spread:.1f})",
            f"vs alone: {100 * (run.done_s - best_ref) / best_ref:.1f} %",
            f"≤ {100 * TARGET_OVERHEAD:.0f} %",
            verdict,
        )
        verdicts.append(
            f"overhead outside the solver: {100 * overhead:.1f} % of the solver's wall time (±{100 * spread:.1f}), "
            f"target ≤ {100 * TARGET_OVERHEAD:.0f} %: {verdict}"
        )
    mem_ok = run.memory.rss_mib <= TARGET_RSS_MIB
    add(
        "peak RSS of the process tree (sum of VmRSS, every 0.5 s; before the solve)",
        f"{run.memory.rss_mib:,.0f} MiB ({run.memory.first_rss_mib:,.0f})",
        [f"{r.memory.rss_mib:,.0f} MiB ({r.memory.first_rss_mib:,.0f})" for r in runs],
        f"≤ {TARGET_RSS_MIB} MiB",
        "met" if mem_ok else "MISSED",
    )
    add(
        "peak PSS of the process tree (shared pages counted once)",
        fmt(run.memory.pss_mib, "MiB", 0),
        [fmt(r.memory.pss_mib, "MiB", 0) for r in runs],
    )
    add("processes in the tree at most", str(run.memory.processes), [str(r.memory.processes) for r in runs])
    verdicts.append(
        f"peak memory of the worker's tree: {run.memory.rss_mib:,.0f} MiB RSS ({run.memory.pss_mib:,.0f} MiB PSS), "
        f"target ≤ {TARGET_RSS_MIB} MiB: {'met' if mem_ok else 'MISSED'}"
    )
    add(
        "CPU time (worker tree during the job; alone: this process + children)",
        fmt(run.worker_cpu_s),
        [fmt(r.cpu_s) for r in runs],
    )
    add("search solutions found", "-", [str(s.solutions) for s in stats])
    add("which plan won (Stats.source)", "-", [s.source for s in stats])
    add(
        "best cost while solving: first → last (changes; worker: GET /plan-jobs while running; alone: on_progress)",
        f"{run.costs[0][1]:,} → {run.costs[-1][1]:,} ({len(run.costs) - 1})" if run.costs else "-",
        [f"{r.progress[0][1]:,} → {r.progress[-1][1]:,} ({len(r.progress) - 1})" if r.progress else "-" for r in runs],
    )
    add("best_cost of the finished job (= the stored plan's cost)", fmt(run.final_cost, "fen", 0))
    svc = summary(plan["problem"], plan["solution"])
    alone = [summary(plan["problem"], r.result.solution) for r in runs]
    for key, unit, digits in (
        ("cost", "fen", 0),
        ("penalty", "fen", 0),
        ("routing cost", "fen", 0),
        ("served", "", 0),
        ("unassigned", "", 0),
        ("km", "km", 0),
        ("trips", "", 0),
        ("tankers used", "", 0),
        ("preference misses", "", 0),
        ("objective", "fen", 0),
    ):
        label = {
            "cost": "plan cost (Solution.cost_minor, penalties included)",
            "penalty": "of which penalties of unassigned orders",
            "routing cost": "routing cost (distance × cost/km + fixed costs)",
            "served": "orders served",
            "preference misses": "orders not on their preferred driver's tanker",
            "objective": "planner's objective (cost + preference_cost × misses)",
        }.get(key, key)
        add(label, fmt(svc[key], unit, digits), [fmt(a[key], unit, digits) for a in alone])
    add(
        "checker violations (routing.check)",
        str(len(plan["violations"])),
        [str(len(r.result.violations)) for r in runs],
        "0",
        "met" if not plan["violations"] else "MISSED",
    )
    best = min(alone, key=lambda a: a["cost"])
    ratio = svc["cost"] / best["cost"] if best["cost"] else float("nan")
    verdicts.append(
        f"plan cost through the service {svc['cost']:,} fen ({svc['unassigned']} unassigned) vs routing alone "
        f"{', '.join(f'{a["cost"]:,}' for a in alone)} fen "
        f"({', '.join(str(a['unassigned']) for a in alone)} unassigned): "
        f"service / best alone = {ratio:.4f}"
    )
    return rows, verdicts


def tasks_progress_every() -> float:
    from dispatch.tasks import PROGRESS_EVERY_S

    return PROGRESS_EVERY_S


def report(rows: list[dict[str, str]], facts: dict[str, str], checks: list[str], save: bool) -> None:
    title = "POST /api/v1/plans of a generated day: the service next to the routing library alone"
    show_summary(console, title, rows, facts, checks, left="metric")
    if not save:
        return
    note = (
        "Times are seconds after the client sent `POST /plans`, seen by polling `GET /plan-jobs/{id}` every "
        f"{POLL_S} s, or read from the job's row (started, heartbeats, finished; same machine clock). The worker "
        "writes a heartbeat with the elapsed solve time every second, which dates the solver's start exactly and "
        "its end to within a second. *Routing alone* is the stored plan's problem through `routing.solve` in the "
        "benchmark process afterwards, with the same limit, while the server and worker are stopped. With a "
        "wall-clock limit on a shared machine the search's result depends on the CPU it got: compare CPU time "
        "and the machine's load before reading a cost difference as a loss. Reproduce with `make bench-dispatch`; "
        "see benchmarks/README.md."
    )
    title = "Dispatch benchmark: a day planned through the API and the worker"
    stamp = ("date", "commit", "machine load")
    save_single(RESULTS, "dispatch", title=title, facts=facts, rows=rows, checks=checks, note=note, stamp=stamp)
    console.print(f"written {RESULTS / 'dispatch.md'} and dispatch.csv")


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    started = time.monotonic()
    load_before = procs.loadavg()
    tmp = Path(tempfile.mkdtemp(prefix="diesel-bench-dispatch-"))
    # this process mints the dispatcher's token with the same SECRET_KEY
    env = environment(tmp, REDIS_URL, drop=("CELERY_", "DATABASE_", "OSRM_"))
    for name in [k for k in os.environ if k.startswith("OSRM_")]:
        del os.environ[name]  # geodesic distances for the worker and the reference alike
    from core.settings import load_settings

    settings = load_settings()
    url = f"{PG}/{args.database}"
    redis.Redis.from_url(REDIS_URL).flushdb()
    console.print(f"[bold]database[/] {url}: recreate, migrate, seed {args.orders} orders, {args.tankers} tankers …")
    recreate_database(f"{PG}/postgres", args.database)
    consistent = False
    try:
        day = asyncio.run(
            seed(url, settings, now=datetime.now(UTC), orders=args.orders, tankers=args.tankers, seed=args.seed)
        )
        console.print(
            f"  {day.orders} confirmed orders ({day.held} held), {day.litres:,} L for {day.day}, {day.sites} sites of "
            f"{day.customers} customers, {day.tankers} tankers ({day.compartments} compartments, "
            f"{day.fleet_litres:,} L per round), seeded in {day.seconds:.0f} s"
        )
        port = free_port()
        console.print(
            f"[bold]server[/] diesel serve --workers 2 on {HOST}:{port}, "
            f"[bold]worker[/] diesel worker --concurrency 1 (logs in {tmp})"
        )
        server = start_server(url, port, env, tmp / "server.log")
        worker = None
        try:
            worker = start_worker(url, env, tmp / "worker.log", "--concurrency", "1")
            time.sleep(1)
            console.print(f"[bold]POST /plans[/] time_limit_s={args.time_limit}, polling every {POLL_S} s …")
            run = plan_job(args, url, port, day, server.pid, worker.pid)
        finally:
            if worker is not None:
                stop_server(worker)
            stop_server(server)
        run.task_s = task_seconds(tmp / "worker.log", run.job_id)
        if run.status != "succeeded" or not run.plan_id:
            raise RuntimeError(
                f"the planning job ended {run.status}: {run.error}\n{(tmp / 'worker.log').read_text()[-3000:]}"
            )
        plan = stored(url, run.plan_id)
        console.print(
            f"  succeeded after {run.done_s:.1f} s; [bold]routing alone[/]: {args.reference_runs} × routing.solve …"
        )
        load_mid = procs.loadavg()
        busy0, wall0 = procs.machine_busy_s(), time.monotonic()
        ref = reference.run_all(
            url,
            plan["problem_json"],
            day=day.day,
            limit_s=args.time_limit,
            default_tz=settings.default_timezone,
            runs=args.reference_runs,
        )
        ref_busy = 100 * (procs.machine_busy_s() - busy0) / (time.monotonic() - wall0)
        ref_cpu = sum(r.cpu_s for r in ref["runs"]) / (time.monotonic() - wall0) * 100
        rows, checks = build_rows(args, run, plan, ref)
        api_orders = run.plan.get("totals", {}).get("orders")
        served = len(plan["solution"].served_job_ids())
        consistent = (
            plan["cost"] == plan["solution"].cost_minor
            and plan["stop_rows"] >= served
            and plan["unassigned_rows"] == len(plan["solution"].unassigned)
            and api_orders == served
            and ref["same_problem"]
        )
        checks.append(
            f"stored plan: {plan['stop_rows']} stop rows, {plan['unassigned_rows']} unassigned rows, GET /plans totals "
            f"{api_orders} orders and {run.plan.get('totals', {}).get('cost_minor')} fen, the rebuilt problem is "
            f"{'identical' if ref['same_problem'] else 'DIFFERENT'}: " + ("consistent" if consistent else "MISMATCH")
        )
        use = run.use
        facts = {
            **header(),
            "machine load": f"loadavg {load_before} before, {load_mid} after the service run, "
            f"{procs.loadavg()} at the end",
            "CPU during the service run (% of one core)": (
                f"worker tree {use['worker']:.0f}, server {use['server']:.0f}, PostgreSQL {use['postgres']:.0f}, "
                f"this client {use['loadgen']:.0f}, other {use['other']:.0f}, machine {use['busy']:.0f} of "
                f"{100 * (os.cpu_count() or 1)}"
            ),
            "CPU during routing alone (% of one core)": f"solver {ref_cpu:.0f}, machine {ref_busy:.0f} "
            f"(other {max(0.0, ref_busy - ref_cpu):.0f}) of {100 * (os.cpu_count() or 1)}",
            "day": f"{day.day}: {day.orders} confirmed orders ({day.litres:,} L, 4 grades) at {day.sites} sites of "
            f"{day.customers} customers around 3 depots; {day.tankers} tankers ({day.compartments} compartments, "
            f"{day.fleet_litres:,} L per round, up to 3 trips), each paired with a licensed driver; "
            f"generated by benchmarks/dispatch/day.py (seed {args.seed}), seeded in {day.seconds:.0f} s",
            "PostgreSQL": postgres_facts(url),
            "service": "`diesel serve --workers 2`, `diesel worker --concurrency 1` (threads pool; the solver forks "
            "2 search processes), Redis DB 12, geodesic distances",
            "whole run": f"{time.monotonic() - started:.0f} s",
        }
        report(rows, facts, checks, save=not args.no_save)
    finally:
        redis.Redis.from_url(REDIS_URL).flushdb()
        if not args.keep:
            drop_database(f"{PG}/postgres", args.database)
    if not consistent:
        sys.exit(1)


if __name__ == "__main__":
    main()
