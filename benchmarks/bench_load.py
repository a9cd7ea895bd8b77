"""`make bench-load`: mixed traffic at steady offered rates, then a soak at half the peak, with a Celery worker.

1. (re)creates the database `diesel_bench_load` on 127.0.0.1:5432 (user postgres), migrates and seeds it
   (benchmarks/tracking/world.py): customers with a site, confirmed orders, drivers with a trip under way in
   today's published plan, booked pickup codes, and webhooks of a share of the customers pointing at a receiver
   in this process;
2. starts `diesel serve --workers 2` and `diesel worker --beat` (PostgreSQL, Redis DB 14);
3. sends the mix of benchmarks/load/mix.py (order creation with idempotency keys and some retries, order and
   tracking reads, position batches, rack verifies) open-loop at each offered rate, then soaks at half the peak
   achieved rate for `--soak-minutes`, sampling the server's and the worker's resident memory every 10 s;
4. stops both, checks that every acknowledged order and position is in the database exactly once, prints the
   tables and writes benchmarks/results/load.md and load.csv.

Run with `make bench-load` or `.venv/bin/python -m benchmarks.bench_load --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import redis
import uvloop
from rich.console import Console

from benchmarks.api.load import FAILED, Client, Sample, open_loop
from benchmarks.api.server import HOST, PG, environment, free_port, header, start_server, start_worker, stop_server
from benchmarks.api.world import drop_database, postgres_facts, recreate_database
from benchmarks.load.mix import DEFAULT_MIX, Mix, parse_mix
from benchmarks.load.receiver import Receiver
from benchmarks.load.rss import tree_rss_mib
from benchmarks.tracking import report
from benchmarks.tracking.world import World, build, counts, webhook_counts

REDIS_URL = f"redis://{HOST}:6379/14"
RESULTS = Path(__file__).resolve().parent / "results"
console = Console(width=220)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench_load", description=__doc__.split("\n\n")[0])
    p.add_argument("--rates", default="50,100,200", help="offered requests per second, comma-separated")
    p.add_argument("--seconds", type=float, default=20, help="length of each rate step")
    p.add_argument("--warmup", type=float, default=5, help="warm-up at the first rate (not reported)")
    p.add_argument("--soak-minutes", type=float, default=10, help="length of the soak (0: no soak)")
    p.add_argument("--soak-rate", type=float, default=0, help="offered rate of the soak (default: half the peak)")
    p.add_argument("--segment", type=float, default=60, help="the soak is reported per segment of this many s")
    p.add_argument("--rss-every", type=float, default=10, help="resident memory sampled every this many s")
    p.add_argument("--rss-growth-mib", type=float, default=64, help="allowed RSS growth over the soak, per group")
    p.add_argument("--mix", default=DEFAULT_MIX, help="operation weights (percent of requests)")
    p.add_argument("--retry-share", type=float, default=0.05, help="share of creates that retry an earlier key")
    p.add_argument("--batch", type=int, default=50, help="positions per batch")
    p.add_argument("--customers", type=int, default=500)
    p.add_argument("--orders", type=int, default=300, help="confirmed orders to read, besides those on trips")
    p.add_argument("--drivers", type=int, default=40, help="drivers on the road (3 stops each)")
    p.add_argument("--bookings", type=int, default=400, help="pickup codes verified at the rack")
    p.add_argument("--webhook-share", type=float, default=0.1, help="share of customers with a webhook")
    p.add_argument("--connections", type=int, default=256, help="most connections the load generator opens")
    p.add_argument("--queue-timeout", type=float, default=2.0, help="drop a request not sent within this (s)")
    p.add_argument("--database", default="diesel_bench_load", help="dropped and recreated on every run")
    p.add_argument("--keep-database", action="store_true", help="keep the database afterwards (for inspection)")
    p.add_argument("--redis-url", default=REDIS_URL, help="Redis database of the run (flushed before and after)")
    p.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/load.*")
    p.add_argument(
        "--promise-mode",
        choices=("off", "flag", "refuse"),
        default="off",
        help="PROMISE_MODE of the server: off measures the order path without the delivery promise's check "
        "(its own cost is not part of this mix)",
    )
    return p.parse_args(argv)


@dataclass
class Step:
    name: str
    offered: float
    parts: dict[str, Sample]  # "all" and one per operation
    use: dict[str, float]
    rss: tuple[float, float] = (0.0, 0.0)  # server, worker MiB at the end of the step

    @property
    def achieved(self) -> float:
        s = self.parts["all"]
        return s.ok / s.seconds if s.seconds else 0.0

    def rows(self, *, with_rss: bool = False) -> list[dict[str, str]]:
        rows = []
        for op, s in self.parts.items():
            row = {
                "step": self.name,
                "offered/s": f"{self.offered:.0f}",
                "operation": op,
                "requests": str(len(s.statuses)),
                "ok/s": f"{s.ok / s.seconds:.1f}" if s.seconds else "-",
                **report.latency(s),
                "errors": str(s.errors),
                "dropped": str(s.dropped),
            }
            cells = report.cpu_cells(self.use, self.achieved, worker=True)
            row |= cells if op == "all" else dict.fromkeys(cells, "")
            if with_rss:
                row |= {"server RSS MiB": f"{self.rss[0]:.0f}", "worker RSS MiB": f"{self.rss[1]:.0f}"}
                row |= {} if op == "all" else {"server RSS MiB": "", "worker RSS MiB": ""}
            rows.append(row)
        return rows


@dataclass
class Run:
    warmup: list[Step] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    soak: list[Step] = field(default_factory=list)
    soak_rate: float = 0.0
    rss: list[tuple[float, float, float]] = field(default_factory=list)  # (s into the soak, server, worker)
    receiver: Receiver = field(default_factory=Receiver)

    def every(self) -> list[Step]:
        return self.warmup + self.steps + self.soak


async def drive(
    args: argparse.Namespace, port: int, hook_port: int, world: World, server_pid: int, worker_pid: int
) -> Run:
    client = Client(HOST, port, max_connections=args.connections)
    run = Run()
    await run.receiver.start(HOST, hook_port)
    mix = Mix(port, world, weights=parse_mix(args.mix), batch=args.batch, retry_share=args.retry_share)

    async def step(name: str, rate: float, seconds: float) -> Step:
        first = len(mix.labels)
        before = report.snapshot(server_pid, args.database, worker_pid)
        load = open_loop(client, mix.make, rate=rate, seconds=seconds, queue_timeout=args.queue_timeout)
        sample = await asyncio.wait_for(load, seconds + 120)
        use = report.usage(before, report.snapshot(server_pid, args.database, worker_pid))
        rss = (tree_rss_mib(server_pid), tree_rss_mib(worker_pid))
        return Step(name, rate, mix.split(sample, mix.labels[first:]), use, rss)

    rates = [float(r) for r in args.rates.split(",")]
    console.print(f"  warm-up at {rates[0]:.0f}/s …")
    run.warmup.append(await step("warm-up", rates[0], args.warmup))
    for rate in rates:
        console.print(f"  {rate:.0f}/s for {args.seconds:.0f} s …")
        run.steps.append(await step(f"{rate:.0f}/s", rate, args.seconds))
        await asyncio.sleep(1)
    peak = max(s.achieved for s in run.steps)
    run.soak_rate = args.soak_rate or round(peak / 2)
    if args.soak_minutes > 0:
        console.print(f"  soak at {run.soak_rate:.0f}/s for {args.soak_minutes:g} min (peak {peak:.0f}/s) …")
        started = time.monotonic()

        async def sample_rss() -> None:
            while True:
                run.rss.append((time.monotonic() - started, tree_rss_mib(server_pid), tree_rss_mib(worker_pid)))
                await asyncio.sleep(args.rss_every)

        sampler = asyncio.get_running_loop().create_task(sample_rss())
        total, index = args.soak_minutes * 60, 0
        while (left := total - (time.monotonic() - started)) > 1:
            index += 1
            length = min(args.segment, left)
            run.soak.append(await step(f"soak {index}", run.soak_rate, length))
            s = run.soak[-1].parts["all"]
            console.print(
                f"    {index}: {s.ok / s.seconds:.0f}/s p99 {report.ms(s, 0.99)} ms, {s.errors} errors, "
                f"RSS server {run.soak[-1].rss[0]:.0f} MiB, worker {run.soak[-1].rss[1]:.0f} MiB"
            )
        sampler.cancel()
        run.rss.append((time.monotonic() - started, tree_rss_mib(server_pid), tree_rss_mib(worker_pid)))
    await asyncio.sleep(8)  # let the worker's outbox pass send the last webhooks
    await run.receiver.stop()
    client.close()
    if client.error_samples:
        console.print("[yellow]first errors:[/]", *client.error_samples, sep="\n  ")
    return run


def merged(steps: list[Step], name: str, rate: float) -> Step:
    """One Step over several (the whole soak): outcomes pooled per operation, CPU averaged over time."""
    parts: dict[str, Sample] = {}
    seconds = sum(s.parts["all"].seconds for s in steps)
    for s in steps:
        for op, sample in s.parts.items():
            into = parts.setdefault(op, Sample([], [], seconds))
            into.statuses += sample.statuses
            into.latencies += sample.latencies
    use = {k: sum(s.use[k] * s.parts["all"].seconds for s in steps) / seconds for k in steps[0].use}
    return Step(name, rate, parts, use, steps[-1].rss)


def acknowledged(run: Run, batch: int) -> dict[str, int]:
    creates = [p for s in run.every() for op, p in s.parts.items() if op in ("create", "create retry")]
    positions = [s.parts["positions"] for s in run.every() if "positions" in s.parts]
    return {
        "created": sum(p.created for p in creates),
        "replayed": sum(p.statuses.count(200) for p in creates),
        "create_unknown": sum(p.statuses.count(FAILED) for p in creates),
        "positions": sum(p.ok for p in positions) * batch,
        "positions_unknown": sum(p.statuses.count(FAILED) for p in positions) * batch,
    }


def rss_summary(run: Run, bound: float) -> tuple[list[dict[str, str]], bool]:
    rows, ok = [], True
    for index, group in ((1, "server (uvicorn + 2 workers)"), (2, "worker (celery + beat)")):
        series = [sample[index] for sample in run.rss]
        if not series:
            continue
        half = [sample for sample in run.rss if sample[0] >= run.rss[-1][0] / 2]
        slope = (half[-1][index] - half[0][index]) / max(1e-9, (half[-1][0] - half[0][0]) / 60) if len(half) > 1 else 0
        growth = series[-1] - series[0]
        ok &= growth <= bound
        rows.append(
            {
                "process tree": group,
                "samples": str(len(series)),
                "first MiB": f"{series[0]:.0f}",
                "last MiB": f"{series[-1]:.0f}",
                "max MiB": f"{max(series):.0f}",
                "growth MiB": f"{growth:+.0f}",
                "second-half slope MiB/min": f"{slope:+.2f}",
                "bound": f"growth ≤ {bound:g} MiB",
                "verdict": "met" if growth <= bound else "MISSED",
            }
        )
    return rows, ok


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    parse_mix(args.mix)
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="diesel-bench-load-"))
    # this process mints tokens and signs codes with the server's keys; the webhook receiver is on 127.0.0.1
    drop = ("CELERY_", "DATABASE_", "SIGNING_KEYS")
    env = environment(
        tmp,
        args.redis_url,
        drop=drop,
        extra={"WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32", "PROMISE_MODE": args.promise_mode},
        purge=True,
    )
    from core.settings import load_settings

    redis.Redis.from_url(args.redis_url).flushdb()
    url = f"{PG}/{args.database}"
    hook_port = free_port()
    console.print(f"[bold]database[/] {url}: recreate, migrate, seed …")
    recreate_database(f"{PG}/postgres", args.database)
    world = asyncio.run(
        build(
            url,
            load_settings(),
            now=datetime.now(UTC),
            customers=args.customers,
            bookings=args.bookings,
            drivers=args.drivers,
            orders=args.orders,
            webhook_url=f"http://{HOST}:{hook_port}/hook",
            webhook_share=args.webhook_share,
        )
    )
    seeded = counts(url)
    console.print(
        f"  {len(world.accounts)} customers, {len(world.orders)} orders to read, {len(world.seats)} drivers, "
        f"{len(world.codes)} pickup codes, {world.webhooks} webhooks"
    )
    port = free_port()
    console.print(f"[bold]server[/] diesel serve --workers 2 on {HOST}:{port}, [bold]worker[/] diesel worker --beat")
    server = start_server(url, port, env, tmp / "server.log")
    worker = None
    try:
        worker = start_worker(url, env, tmp / "worker.log", "--beat")
        run = uvloop.run(drive(args, port, hook_port, world, server.pid, worker.pid))
    finally:
        stop_server(server)
        if worker is not None:
            stop_server(worker)
    after, hooks = counts(url), webhook_counts(url)
    ack = acknowledged(run, args.batch)
    orders_ok = after["orders"] == seeded["orders"] + ack["created"] and after["duplicate_keys"] == 0
    positions_ok = after["positions"] - seeded["positions"] == ack["positions"]
    soak = merged(run.soak, "soak (all segments)", run.soak_rate) if run.soak else None
    rss_rows, rss_ok = rss_summary(run, args.rss_growth_mib)
    soak_clean = soak is not None and soak.parts["all"].errors == 0 and soak.parts["all"].dropped == 0
    peak = max(s.achieved for s in run.steps)
    checks = [
        f"peak achieved {peak:.0f} requests/s (of {', '.join(f'{s.offered:.0f}' for s in run.steps)}/s offered); "
        f"soak at {run.soak_rate:.0f}/s",
        f"orders: {after['orders'] - seeded['orders']} new rows for {ack['created']} answers 201 ({ack['replayed']} "
        f"retries answered 200 with the first order, {ack['create_unknown']} connection errors), "
        f"{after['duplicate_keys']} orders behind two idempotency keys: " + ("consistent" if orders_ok else "MISMATCH"),
        f"positions: {after['positions'] - seeded['positions']:,} rows for {ack['positions']:,} acknowledged "
        f"({ack['positions_unknown']} in connection errors): " + ("consistent" if positions_ok else "MISMATCH"),
        f"webhooks: deliveries {dict(sorted(hooks.items()))}, {len(run.receiver.deliveries)} distinct deliveries "
        f"received ({run.receiver.requests} requests) by the local receiver",
    ]
    if soak is not None:
        s = soak.parts["all"]
        checks += [
            f"soak: {len(s.statuses)} requests over {s.seconds / 60:.1f} min, {s.errors} errors, {s.dropped} dropped: "
            + ("no errors" if soak_clean else "ERRORS"),
            "soak memory: " + ("bounded" if rss_ok else "GREW beyond the bound") + f" (≤ {args.rss_growth_mib:g} MiB)",
        ]
    facts = {
        **header(),
        "PostgreSQL": postgres_facts(url),
        "services": "`diesel serve --workers 2` (uvicorn) and `diesel worker --beat` (Celery, 2 threads), "
        f"PostgreSQL, Redis {args.redis_url} (broker, latest positions); PROMISE_MODE={args.promise_mode}",
        "mix": f"{args.mix} (percent of requests); {args.retry_share:.0%} of creates retry a key sent ≥ 10 s "
        f"earlier; batches of {args.batch} positions",
        "world": f"{len(world.accounts)} customers, {len(world.orders)} readable orders "
        f"({sum(o.on_trip for o in world.orders)} on {len(world.seats)} trips under way), {len(world.codes)} pickup "
        f"codes, {world.webhooks} customers with a webhook (all events) to a receiver in the load generator",
        "load generator": "benchmarks/api/load.py open loop (latency from the scheduled send time)",
        "whole run": f"{time.monotonic() - started:.0f} s",
    }
    step_rows = [row for s in run.steps for row in s.rows()]
    soak_rows = [row for s in run.soak for row in s.rows(with_rss=True) if row["operation"] == "all"]
    soak_ops = soak.rows() if soak is not None else []
    rss_series = [{"s": f"{t:.0f}", "server MiB": f"{a:.0f}", "worker MiB": f"{b:.0f}"} for t, a, b in run.rss]
    report.show(console, "Mixed load per offered rate (2 server workers, 1 Celery worker)", step_rows)
    report.show(console, f"Soak at {run.soak_rate:.0f}/s, per segment", soak_rows)
    report.show(console, "Soak, per operation", soak_ops)
    report.show(console, "Soak memory (RSS of the process trees)", rss_rows)
    for line in checks:
        console.print(line)
    if not args.no_save:
        report.save(
            RESULTS,
            "load",
            title="Load and soak: mixed traffic with a Celery worker",
            facts=facts,
            tables=[
                ("Per offered rate", step_rows),
                (f"Soak at {run.soak_rate:.0f}/s, per segment", soak_rows),
                ("Soak, per operation", soak_ops),
                ("Soak memory", rss_rows),
                ("Soak memory samples", rss_series),
            ],
            checks=checks,
            notes=[
                "Open loop: requests are scheduled at the offered rate whatever the answers; latency is measured "
                "from the scheduled send time; a request that found no free connection within the queue timeout is "
                "*dropped* (never sent) and counts as infinitely late. `errors` are non-2xx answers or connection "
                "errors. CPU is in percent of one core for the uvicorn processes, the Celery worker, PostgreSQL "
                "(background processes and the benchmark database's backends), the load generator (with the "
                "webhook receiver) and everything else on the shared machine (`other`); `ms/req` is CPU time per "
                "successful request of the mix. Reproduce with `make bench-load`; see benchmarks/README.md.",
            ],
        )
        console.print(f"written {RESULTS / 'load.md'} and load.csv")
    if not args.keep_database:
        drop_database(f"{PG}/postgres", args.database)
    redis.Redis.from_url(args.redis_url).flushdb()
    if not (orders_ok and positions_ok and (soak is None or (soak_clean and rss_ok))):
        sys.exit(1)


if __name__ == "__main__":
    main()
