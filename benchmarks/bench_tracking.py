"""`make bench-tracking`: pickup-code verification, the rack over HTTP, redeem throughput, position ingestion.

1. (re)creates the database `diesel_bench_tracking` on 127.0.0.1:5432 (user postgres), migrates and seeds it
   (benchmarks/tracking/world.py): customers, bench depots with booked pickups and their codes, drivers with a
   trip under way in today's published plan;
2. (a) verifies a valid pickup code in-process (`tracking.codes.verify`) many times: p50/p99;
3. starts `diesel serve --workers 2` (PostgreSQL, Redis DB 13), then (b) POSTs /api/v1/rack/verify at a constant
   offered rate (open loop) and closed-loop for the ceiling, (c) redeems every booked code once
   (POST /api/v1/rack/redeem, closed loop) and replays some of them, (d) lets every driver post batches of
   positions (POST /api/v1/driver/positions), one batch at a time each, all drivers at once;
4. checks the database (one ticket per 201, no code spent twice, one position row per accepted position), stops
   the server, prints the table and writes benchmarks/results/tracking.md and tracking.csv.

Run with `make bench-tracking` or `.venv/bin/python -m benchmarks.bench_tracking --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis
import uvloop
from rich.console import Console

from benchmarks.api.load import Client, Sample, closed_loop, open_loop
from benchmarks.api.server import HOST, PG, environment, free_port, header, start_server, stop_server
from benchmarks.api.world import drop_database, postgres_facts, recreate_database
from benchmarks.tracking import report
from benchmarks.tracking.loops import drain, per_user
from benchmarks.tracking.requests import positions_maker, redeem_request, verify_requests
from benchmarks.tracking.world import Code, World, build, counts

REDIS_URL = f"redis://{HOST}:6379/13"
RESULTS = Path(__file__).resolve().parent / "results"
TARGET_VERIFY_P99_MS = 1.0
TARGET_HTTP_P99_MS, TARGET_HTTP_RATE = 20.0, 200
TARGET_POSITIONS = 5000
console = Console(width=220)


@dataclass
class Step:
    name: str
    offered: str
    sample: Sample
    use: dict[str, float] = field(default_factory=dict)
    items: int = 1  # positions per request
    target: str = ""
    met: bool | None = None
    cpu_per_op_ms: float | None = None  # in-process rows: this process's CPU per call

    def row(self) -> dict[str, str]:
        s = self.sample
        rate = s.ok / s.seconds if s.seconds else 0.0
        cells = report.cpu_cells(self.use, rate)
        if self.cpu_per_op_ms is not None:
            cells["server CPU ms/req"] = f"{self.cpu_per_op_ms:.3f} (in-process)"
        return {
            "step": self.name,
            "offered": self.offered,
            "requests": str(len(s.statuses)),
            "achieved/s": f"{rate:,.0f}",
            "items/s": f"{rate * self.items:,.0f}" if self.items > 1 else "",
            **report.latency(s),
            "errors": str(s.errors),
            "dropped": str(s.dropped),
            **cells,
            "target": self.target,
            "verdict": "" if self.met is None else ("met" if self.met else "MISSED"),
        }


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench_tracking", description=__doc__.split("\n\n")[0])
    p.add_argument("--verifies", type=int, default=20_000, help="in-process verifications (a)")
    p.add_argument("--verify-rate", type=float, default=TARGET_HTTP_RATE, help="offered POST /rack/verify per s (b)")
    p.add_argument("--verify-seconds", type=float, default=20, help="length of the open-loop verify step (b)")
    p.add_argument("--max-seconds", type=float, default=8, help="length of the closed-loop verify ceiling row (b)")
    p.add_argument("--bookings", type=int, default=1500, help="booked pickups, each redeemed once (c)")
    p.add_argument("--depots", type=int, default=1, help="bench depots the bookings are spread over (≤ 2,200 each)")
    p.add_argument("--replays", type=int, default=200, help="spent codes redeemed again, all must be refused (c)")
    p.add_argument("--concurrency", type=int, default=16, help="clients of the closed-loop rows (b, c)")
    p.add_argument("--drivers", type=int, default=8, help="drivers posting positions at once (d)")
    p.add_argument("--batch", type=int, default=50, help="positions per POST /driver/positions (d)")
    p.add_argument("--positions-seconds", type=float, default=15, help="length of the positions step (d)")
    p.add_argument("--customers", type=int, default=200, help="customer accounts (bookings and orders spread over)")
    p.add_argument("--warmup", type=float, default=3, help="closed-loop warm-up per endpoint (not reported)")
    p.add_argument("--connections", type=int, default=256, help="most connections the load generator opens")
    p.add_argument("--queue-timeout", type=float, default=2.0, help="drop a request not sent within this (s)")
    p.add_argument("--database", default="diesel_bench_tracking", help="dropped and recreated on every run")
    p.add_argument("--keep-database", action="store_true", help="keep the database afterwards (for inspection)")
    p.add_argument("--redis-url", default=REDIS_URL, help="Redis database of the run (flushed before and after)")
    p.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/tracking.*")
    return p.parse_args(argv)


# ---------------------------------------------------------------- (a) in-process


def verify_in_process(codes_: list[Code], n: int) -> Step:
    from core.settings import load_settings
    from tracking import codes
    from tracking.keystore import keyring_for

    keyring = keyring_for(load_settings().codes)
    picks = [codes_[i % len(codes_)] for i in range(n)]
    for c in picks[:1000]:  # warm-up
        codes.verify(c.token, public_keys=keyring, now=time.time(), depot_id=c.depot_id, plate=c.plate)
    latencies: list[float] = []
    on_cpu: list[float] = []  # the thread's CPU time per call: what the code costs, without the scheduler's waits
    authorised = 0
    clock, thread = time.perf_counter, time.thread_time
    cpu0, wall0 = time.process_time(), clock()
    for c in picks:
        started, started_cpu = clock(), thread()
        result = codes.verify(c.token, public_keys=keyring, now=time.time(), depot_id=c.depot_id, plate=c.plate)
        on_cpu.append(thread() - started_cpu)
        latencies.append(clock() - started)
        authorised += result.ok
    wall, cpu_s = clock() - wall0, time.process_time() - cpu0
    sample = Sample([200] * authorised + [422] * (n - authorised), latencies, wall)
    cpu_sample = Sample([], on_cpu, wall)
    p99_cpu = cpu_sample.percentile(0.99) * 1000
    return Step(
        "(a) verify in-process",
        "closed loop, 1 thread",
        sample,
        target=f"p99 ≤ {TARGET_VERIFY_P99_MS:g} ms (CPU-time p50 {cpu_sample.percentile(0.5) * 1000:.3f}, "
        f"p99 {p99_cpu:.3f} ms)",
        met=authorised == n and sample.percentile(0.99) * 1000 <= TARGET_VERIFY_P99_MS,
        cpu_per_op_ms=1000 * cpu_s / n,
    )


# ---------------------------------------------------------------- HTTP


def check_verify_answers(port: int, world: World) -> str:
    """A few verifications through httpx, reading the answers (the load generator only sees status codes)."""
    authorised = 0
    picks = random.Random(3).sample(world.codes, min(20, len(world.codes)))
    with httpx.Client(base_url=f"http://{HOST}:{port}", headers={"Authorization": f"Bearer {world.rack_token}"}) as h:
        for c in picks:
            answer = h.post(
                "/api/v1/rack/verify",
                json={"token": c.token, "depot_id": str(c.depot_id), "vehicle_plate": c.plate},
                timeout=10,
            ).json()
            authorised += answer.get("authorised") is True
        seat = world.seats[0]
        probe = h.post(
            "/api/v1/driver/positions",
            headers={"Authorization": f"Bearer {seat.token}"},
            json=[{"lat": seat.lat, "lon": seat.lon, "recorded_at": datetime.now(UTC).isoformat()}],
            timeout=10,
        )
    if authorised != len(picks) or probe.status_code != 200:
        raise RuntimeError(f"the world is not as seeded: {authorised}/{len(picks)} authorised, positions {probe.text}")
    return f"{authorised}/{len(picks)} sampled verify answers read `authorised: true`"


@dataclass
class Outcome:
    steps: list[Step]
    positions_accepted: int = 0  # positions in 200 answers, warm-up included
    redeemed: int = 0
    replay_refused: int = 0
    replays: int = 0


async def drive(args: argparse.Namespace, port: int, world: World, server_pid: int) -> Outcome:
    client = Client(HOST, port, max_connections=args.connections)
    rng = random.Random(1)
    outcome = Outcome(steps=[])

    async def measure(step: Step, load: Awaitable[Sample], bound: float) -> Step:
        console.print(f"  {step.name} …")
        before = report.snapshot(server_pid, args.database)
        step.sample = await asyncio.wait_for(load, bound)
        step.use = report.usage(before, report.snapshot(server_pid, args.database))
        outcome.steps.append(step)
        await asyncio.sleep(1)
        return step

    empty = Sample([], [], 0.0)
    verifies = verify_requests(port, world)

    def verify() -> bytes:
        return verifies[rng.randrange(len(verifies))]

    await closed_loop(client, verify, concurrency=args.concurrency, seconds=args.warmup)
    rate, seconds = args.verify_rate, args.verify_seconds
    load = open_loop(client, verify, rate=rate, seconds=seconds, queue_timeout=args.queue_timeout)
    step = Step(
        "(b) POST /rack/verify",
        f"{args.verify_rate:.0f}/s",
        empty,
        target=f"p99 ≤ {TARGET_HTTP_P99_MS:g} ms at {TARGET_HTTP_RATE}/s",
    )
    await measure(step, load, args.verify_seconds + 120)
    step.met = (
        step.sample.errors == 0
        and step.sample.percentile(0.99) * 1000 <= TARGET_HTTP_P99_MS
        and args.verify_rate >= TARGET_HTTP_RATE
    )
    load = closed_loop(client, verify, concurrency=args.concurrency, seconds=args.max_seconds)
    await measure(Step("(b) POST /rack/verify max", f"closed, {args.concurrency} clients", empty), load, 300)

    codes_ = list(world.codes)
    rng.shuffle(codes_)
    redeems = [redeem_request(port, world, c) for c in codes_]
    load = drain(client, redeems, concurrency=args.concurrency)
    step = await measure(
        Step("(c) POST /rack/redeem", f"closed, {args.concurrency} clients, each code once", empty), load, 600
    )
    outcome.redeemed = step.sample.created
    replays = redeems[: args.replays]
    load = drain(client, replays, concurrency=args.concurrency)
    step = await measure(Step("(c) redeem again (replay)", f"closed, {args.concurrency} clients", empty), load, 300)
    outcome.replays, outcome.replay_refused = len(replays), step.sample.statuses.count(409)
    step.target, step.met = "every replay refused (409)", outcome.replay_refused == len(replays)

    makers = [positions_maker(port, seat, args.batch) for seat in world.seats]
    warm = await per_user(client, makers, seconds=min(args.warmup, 2))
    outcome.positions_accepted += warm.ok * args.batch
    load = per_user(client, makers, seconds=args.positions_seconds)
    step = Step(
        f"(d) POST /driver/positions ×{args.batch}",
        f"closed, {len(makers)} drivers",
        empty,
        items=args.batch,
        target=f"≥ {TARGET_POSITIONS:,} positions/s",
    )
    await measure(step, load, args.positions_seconds + 120)
    outcome.positions_accepted += step.sample.ok * args.batch
    step.met = step.sample.errors == 0 and step.sample.ok * args.batch / step.sample.seconds >= TARGET_POSITIONS
    client.close()
    if client.error_samples:
        console.print("[yellow]first errors (replays are expected to be 409):[/]", *client.error_samples, sep="\n  ")
    return outcome


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="diesel-bench-tracking-"))
    # this process mints tokens and signs codes with the server's keys
    env = environment(tmp, args.redis_url, drop=("CELERY_", "DATABASE_", "SIGNING_KEYS"), purge=True)
    from core.settings import load_settings

    redis.Redis.from_url(args.redis_url).flushdb()
    url = f"{PG}/{args.database}"
    console.print(f"[bold]database[/] {url}: recreate, migrate, seed …")
    recreate_database(f"{PG}/postgres", args.database)
    world = asyncio.run(
        build(
            url,
            load_settings(),
            now=datetime.now(UTC),
            customers=args.customers,
            bookings=args.bookings,
            depots=args.depots,
            drivers=args.drivers,
        )
    )
    seeded = counts(url)
    console.print(f"  {len(world.codes)} pickup codes, {len(world.seats)} drivers on the road")
    console.print(f"[bold](a) verify in-process[/] × {args.verifies} …")
    steps = [verify_in_process(world.codes, args.verifies)]
    port = free_port()
    console.print(f"[bold]server[/] diesel serve --workers 2 on {HOST}:{port} (log: {tmp / 'server.log'}) …")
    server = start_server(url, port, env, tmp / "server.log")
    try:
        sampled = check_verify_answers(port, world)
        outcome = uvloop.run(drive(args, port, world, server.pid))
    finally:
        stop_server(server)
    steps += outcome.steps
    after = counts(url)
    positions = after["positions"] - seeded["positions"] - 1  # the probe in check_verify_answers
    checks = [f"{step.name}: {step.target}: {'met' if step.met else 'MISSED'}" for step in steps if step.target]
    redeem_ok = (
        after["tickets"] == outcome.redeemed == after["bookings_completed"]
        and after["codes_spent_twice"] == 0
        and outcome.replay_refused == outcome.replays
    )
    checks += [
        sampled,
        f"redeem: {outcome.redeemed} answers 201 for {len(world.codes)} codes, {after['tickets']} tickets, "
        f"{after['bookings_completed']} bookings completed, {after['codes_spent_twice']} codes with more than one "
        f"ticket, {outcome.replay_refused}/{outcome.replays} replays refused: "
        + ("each code spent exactly once" if redeem_ok else "MISMATCH"),
        f"positions: {positions:,} rows for {outcome.positions_accepted:,} positions acknowledged (200): "
        + ("consistent" if positions == outcome.positions_accepted else "MISMATCH"),
    ]
    facts = {
        **header(),
        "PostgreSQL": postgres_facts(url),
        "server": "`diesel serve --workers 2` (uvicorn), PostgreSQL, Redis (latest positions), default pool",
        "world": f"{args.customers} customers; {len(world.codes)} pickup bookings with codes at {args.depots} bench "
        f"depot(s); {len(world.seats)} drivers with an en-route trip of 3 stops in today's published plan",
        "load generator": "benchmarks/api/load.py (asyncio + uvloop + httptools, one process)",
        "whole run": f"{time.monotonic() - started:.0f} s",
    }
    rows = [step.row() for step in steps]
    report.show(console, "Tracking: codes, the rack, positions (2 server workers)", rows)
    for line in checks:
        console.print(line)
    if not args.no_save:
        report.save(
            RESULTS,
            "tracking",
            title="Tracking benchmark: codes, the rack, positions",
            facts=facts,
            tables=[("Steps", rows)],
            checks=checks,
            notes=[
                "(a) calls `tracking.codes.verify` in this process (decode, Ed25519 signature, validity, depot, "
                "plate); its `server CPU` cell is this process's CPU per call. (b)-(d) go through HTTP: open loop "
                "(latency from the scheduled send time; a request without a free connection within the queue "
                "timeout is *dropped*) or closed loop (latency from the send). `items/s` is positions per second. "
                "CPU is in percent of one core; `ms/req` is CPU time per successful request; `other` is everything "
                "else that ran on the (shared) machine meanwhile. Reproduce with `make bench-tracking`; see "
                "benchmarks/README.md.",
            ],
        )
        console.print(f"written {RESULTS / 'tracking.md'} and tracking.csv")
    if not args.keep_database:
        drop_database(f"{PG}/postgres", args.database)
    redis.Redis.from_url(args.redis_url).flushdb()
    if not (redeem_ok and positions == outcome.positions_accepted):
        sys.exit(1)


if __name__ == "__main__":
    main()
