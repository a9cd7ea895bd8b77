"""`make bench-office`: the account managers' analytics on PostgreSQL over two years of history.

1. (re)creates the database `diesel_bench_office` on 127.0.0.1:5432 (user postgres; `--database` to choose another),
   migrates it and seeds, with COPY, `--customers` accounts (each with a site and an account manager of its band's
   level) and `--orders` orders over the last two years, with what they leave behind: a charge, a plan stop and a
   delivery per delivered order (some late), hold and failure events, quotes, overdue invoices, daily prices, visits.
   Order counts per customer are skewed (log-normal) and a fifth of the customers stop ordering in the last half year,
   so every band and the dormant radar have work to do;
2. runs the nightly job (the monthly sales rollup, then the ladder) once, timed;
3. measures, through the app in-process (ASGI, no network), the p50/p95 of: a manager's dashboard, a manager's
   dormant list and the sales desk's report (sales by manager per month over the last 12 months); plus, for the
   record, the dormant list of every customer (admin) and sales by customer per day over the last 31 days;
4. prints the table and writes benchmarks/results/office.md and office.csv.

Targets (issue 25): 2,000 customers and 1,000,000 orders; the dashboard, the dormant list and a sales report each
p95 <= 300 ms. Run with `make bench-office` or `.venv/bin/python -m benchmarks.bench_office --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import math
import os
import random
import statistics
import subprocess
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from benchmarks.api.world import postgres_facts, recreate_database

RESULTS = Path(__file__).resolve().parent / "results"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TZ = ZoneInfo("Asia/Shanghai")
TARGET_MS = 300.0
DAYS = 730
PRODUCTS = (("diesel-0", "0号柴油", 835.0), ("diesel-m10", "-10号柴油", 830.0))
LEVELS = (("station_employee", 0), ("station", 20_000), ("area", 50_000), ("city", 100_000), ("region", 500_000))
CUSTOMERS_PER_MANAGER = 50


@dataclass
class World:
    now: datetime
    admin_id: uuid.UUID
    managers: list[uuid.UUID]
    customers: int
    orders: int
    charges: int


def level_of(kg: int) -> str:
    return [name for name, lower in LEVELS if kg >= lower][-1]


def seed(url: str, *, customers: int, orders: int, seed_: int) -> World:
    from core.auth import hash_password

    rng = random.Random(seed_)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=DAYS)
    admin_id = uuid.uuid4()
    depots = [uuid.uuid4() for _ in range(5)]
    tankers = {d: uuid.uuid4() for d in depots}
    ids = [uuid.uuid4() for _ in range(customers)]
    sites = {c: uuid.uuid4() for c in ids}
    home = {c: rng.choice(depots) for c in ids}
    weights = [rng.lognormvariate(0, 1.3) for _ in ids]
    scale = orders / sum(weights)
    counts = [max(1, round(w * scale)) for w in weights]
    counts[-1] = max(1, counts[-1] + orders - sum(counts))
    # A fifth stop ordering somewhere in the last half year (the radar's work); the others order until now.
    stop_at = {c: now - timedelta(days=rng.uniform(20, 180)) if rng.random() < 0.2 else now for c in ids}

    order_rows, charge_rows, entry_rows, stop_rows, delivery_rows, event_rows = [], [], [], [], [], []
    plans: dict[tuple[uuid.UUID, date], tuple[uuid.UUID, uuid.UUID]] = {}
    yearly_kg: dict[uuid.UUID, int] = defaultdict(int)
    balances: dict[uuid.UUID, int] = defaultdict(int)
    n = 0
    for customer, count in zip(ids, counts, strict=True):
        span = (stop_at[customer] - start).total_seconds()
        for _ in range(count):
            n += 1
            placed = start + timedelta(seconds=rng.uniform(0, span))
            day = (placed + timedelta(days=1)).astimezone(TZ).date()
            window_end = datetime(day.year, day.month, day.day, rng.choice((10, 12, 14, 16, 18)), tzinfo=TZ)
            window_end = window_end.astimezone(UTC)
            product, name, density = PRODUCTS[0] if rng.random() < 0.85 else PRODUCTS[1]
            depot = home[customer] if rng.random() < 0.9 else rng.choice(depots)
            litres = rng.randrange(2_000, 20_000, 100)
            price = 780 + rng.randrange(0, 80)
            gross = litres * price
            roll = rng.random()
            status = "delivered" if roll < 0.95 else "cancelled" if roll < 0.99 else "failed"
            if window_end > now and status == "delivered":
                status = "confirmed"
            order_id = uuid.uuid4()
            order_rows.append(
                (
                    order_id, f"DO-B{n:010d}", customer, sites[customer], depot, product, litres, day, "Asia/Shanghai",
                    window_end - timedelta(hours=2), window_end, price, gross, 0, 0, 0, 0, gross, "CNY", status,
                    placed, placed, 1,
                )
            )  # fmt: skip
            if rng.random() < 0.02:
                event_rows.append((uuid.uuid4(), "order", order_id, customer, "order_on_hold", placed))
            if status == "failed":
                event_rows.append((uuid.uuid4(), "order", order_id, customer, "order_failed", window_end))
            if status != "delivered":
                continue
            arrived = window_end - timedelta(minutes=rng.gauss(60, 45))
            delivered = arrived + timedelta(minutes=25)
            net_litres = litres - rng.randrange(0, 60)
            net_kg = round(net_litres * density / 1000)
            amount = net_litres * price
            balances[customer] += amount
            entry = uuid.uuid4()
            entry_rows.append((entry, customer, delivered, "charge", amount, balances[customer], "CNY", order_id, now))
            charge_rows.append(
                (
                    uuid.uuid4(), customer, entry, delivered, order_id, f"DO-B{n:010d}", f"R-{n:010d}", depot, product,
                    name, litres, 21.0, net_litres, net_kg, price, amount, 0, amount, 1300, "CNY",
                )
            )  # fmt: skip
            if delivered >= now - timedelta(days=365):
                yearly_kg[customer] += net_kg
            plan, trip = plans.setdefault((depot, day), (uuid.uuid4(), uuid.uuid4()))
            stop = uuid.uuid4()
            stop_rows.append(
                (stop, trip, plan, order_id, 1, litres, "[]", window_end - timedelta(hours=1),
                 window_end - timedelta(hours=1), window_end, "delivered", arrived, delivered, False)
            )  # fmt: skip
            delivery_rows.append((uuid.uuid4(), stop, order_id, litres, 21.0, "0.99500", net_litres, "reason", "bench",
                                  delivered))  # fmt: skip

    # Each level has a manager per CUSTOMERS_PER_MANAGER customers of its band (at least one), and customers go to
    # the managers of their band's level in turn, as the ladder spreads them (the fewest customers first).
    in_level = Counter(level_of(yearly_kg[c]) for c in ids)
    by_level = {
        name: [uuid.uuid4() for _ in range(max(1, math.ceil(in_level[name] / CUSTOMERS_PER_MANAGER)))]
        for name, _ in LEVELS
    }
    manager_of = {}
    turn: dict[str, int] = defaultdict(int)
    for customer in ids:
        level = level_of(yearly_kg[customer])
        manager_of[customer] = by_level[level][turn[level] % len(by_level[level])]
        turn[level] += 1

    password = hash_password("bench-password-1")
    with psycopg.connect(url) as conn, conn.cursor() as cur:

        def copy(table: str, columns: str, rows: list[tuple[object, ...]]) -> None:
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as out:
                for row in rows:
                    out.write_row(row)

        copy("products", "code, name, density_kg_m3", [(c, n, d) for c, n, d in PRODUCTS])
        copy(
            "depots",
            "id, code, name, lat, lon, timezone, opening_hours, loading_bays, load_fixed_min, pump_rate_l_per_min",
            [(d, f"bench-{i}", f"Depot {i}", 31 + i / 10, 121 + i / 10, "Asia/Shanghai", "[]", 4, 15, 1800)
             for i, d in enumerate(depots)],
        )  # fmt: skip
        copy("depot_products", "depot_id, product_code", [(d, p[0]) for d in depots for p in PRODUCTS])
        prices = []
        for depot in depots:
            for code, _, _ in PRODUCTS:
                price = 800
                for offset in range(DAYS + 2):
                    price = max(700, min(900, price + rng.choice((-5, 0, 0, 5))))
                    day = (start + timedelta(days=offset)).date()
                    prices.append((uuid.uuid4(), depot, code, day, price, "CNY", now))
        copy("prices", "id, depot_id, product_code, valid_from, price_per_litre_minor, currency, updated_at", prices)
        users = [(admin_id, "bench-admin", password, "admin", True, False, None, now)]
        users += [
            (m, f"manager-{level}-{i}", password, "dispatcher", True, True, level, now)
            for level, people in by_level.items()
            for i, m in enumerate(people)
        ]
        copy("users", "id, username, password_hash, role, is_active, manager, manager_level, created_at", users)
        copy(
            "customer_accounts",
            "id, name, tax_id, currency, is_active, created_at, tier, manager_id",
            [(c, f"基准物流 Bench {i:05d}", f"9131{i:014d}", "CNY", True, start, 0, manager_of[c])
             for i, c in enumerate(ids)],
        )  # fmt: skip
        copy(
            "sites",
            "id, customer_id, name, address, lat, lon, timezone, tank_capacity_litres, receiving_hours, created_at",
            [(sites[c], c, "Yard", "1 Road", 31.2, 121.5, "Asia/Shanghai", 30000, "[]", start) for c in ids],
        )
        copy(
            "credit_accounts",
            "customer_id, currency, kind, credit_limit_minor, billing_period, payment_terms_days, open_orders_minor, "
            "balance_minor, updated_at",
            [(c, "CNY", "credit", 10**12, "monthly", 30, 0, balances[c], now) for c in ids],
        )
        copy(
            "orders",
            "id, reference, customer_id, site_id, depot_id, product_code, quantity_litres, delivery_date, timezone, "
            "window_start, window_end, price_per_litre_minor, gross_minor, tier, discount_bps, "
            "discount_per_litre_minor, discount_minor, amount_minor, currency, status, created_at, updated_at, version",
            order_rows,
        )
        copy(
            "ledger_entries",
            "id, customer_id, at, kind, amount_minor, balance_minor, currency, order_id, created_at",
            entry_rows,
        )
        copy(
            "charges",
            "id, customer_id, ledger_entry_id, at, order_id, reference, document_number, depot_id, product_code, "
            "product_name, observed_litres, temperature_c, net_litres, net_kg, unit_price_minor, gross_minor, "
            "discount_minor, amount_minor, tax_rate_bps, currency",
            charge_rows,
        )
        copy(
            "tankers",
            "id, plate, depot_id, compartments_litres, vehicle_class, cost_per_km_minor, fixed_cost_minor, "
            "shift_start, shift_end, has_meter, available, created_at",
            [(t, f"沪B{i:05d}", d, "[20000]", 1, 500, 0, "06:00", "20:00", True, True, now)
             for i, (d, t) in enumerate(tankers.items())],
        )  # fmt: skip
        copy(
            "plans",
            "id, date, depot_id, scope, status, cost_minor, distance_m, driving_s, duration_s, problem_json, "
            "solution_json, order_versions, outdated, created_at, version",
            [(p, day, d, str(p), "draft", 0, 0, 0, 0, "{}", "{}", "{}", False, now, 1)
             for (d, day), (p, _) in plans.items()],
        )  # fmt: skip
        copy(
            "plan_trips",
            "id, plan_id, date, tanker_id, depot_id, sequence, load_start, depart, return_at, distance_m, loads, "
            "status",
            [(t, p, day, tankers[d], d, 1, now, now, now, 0, "[]", "done") for (d, day), (p, t) in plans.items()],
        )
        copy(
            "plan_stops",
            "id, trip_id, plan_id, order_id, sequence, litres, compartments, arrival, service_start, departure, "
            "status, arrived_at, finished_at, pinned",
            stop_rows,
        )
        copy(
            "deliveries",
            "id, stop_id, order_id, delivered_litres_observed, temperature_c, vcf, net_litres, proof, "
            "no_receipt_reason, delivered_at",
            delivery_rows,
        )
        copy(
            "events",
            "id, subject_type, subject_id, customer_id, type, at",
            event_rows,
        )
        quotes = [
            (uuid.uuid4(), c, sites[c], home[c], "diesel-0", 5000, 800, stop_at[c] + timedelta(days=rng.uniform(1, 15)))
            for c in ids
            if stop_at[c] < now and rng.random() < 0.5
        ]
        copy(
            "quote_log",
            "id, customer_id, site_id, depot_id, product_code, quantity_litres, price_per_litre_minor, at",
            [q for q in quotes if q[-1] < now],
        )
        invoices = [
            (uuid.uuid4(), f"INV-B-{i:06d}", "INV-B", c, (now - timedelta(days=90)).date(), (now - timedelta(days=61))
             .date(), (now - timedelta(days=60)).date(), (now - timedelta(days=30)).date(), "issued", "Bench", 100, 13,
             113, 0, 0, "CNY", now)
            for i, c in enumerate(ids)
            if rng.random() < 0.1
        ]  # fmt: skip
        copy(
            "invoices",
            "id, number, series, customer_id, period_start, period_end, issue_date, due_date, status, buyer_name, "
            "net_minor, tax_minor, total_minor, paid_minor, credited_minor, currency, issued_at",
            invoices,
        )
        visits = []
        visited = set()
        for customer in ids:
            for _ in range(rng.choice((0, 0, 1, 2, 4))):
                at = now - timedelta(days=rng.uniform(1, 360))
                day = at.astimezone(TZ).date()
                if (customer, day) in visited:
                    continue  # one visit per manager, site and day
                visited.add((customer, day))
                row = (uuid.uuid4(), manager_of[customer], sites[customer], customer, day, at, None, "x" * 64)
                visits.append((*row, None, None, at))
        copy(
            "visits",
            "id, manager_id, site_id, customer_id, day, at, note, token_hash, dormant_since, last_order_at, created_at",
            visits,
        )
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    managers = [m for people in by_level.values() for m in people]
    return World(now, admin_id, managers, customers, len(order_rows), len(charge_rows))


@dataclass
class Row:
    part: str
    requests: int
    p50_ms: float
    p95_ms: float
    target: str
    met: bool | None

    def cells(self) -> dict[str, str]:
        verdict = "-" if self.met is None else "met" if self.met else "MISSED"
        return {
            "part": self.part,
            "requests": str(self.requests),
            "p50 ms": f"{self.p50_ms:.1f}",
            "p95 ms": f"{self.p95_ms:.1f}",
            "target": self.target,
            "verdict": verdict,
        }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


async def measure(url: str, world: World, *, requests: int) -> tuple[list[Row], dict[str, float]]:
    from litestar.testing import AsyncTestClient

    from api.app import create_app
    from api.auth import issue_token
    from core.db import create_engine, session_factory, unit_of_work
    from core.settings import async_database_url, load_settings
    from insight import rollup
    from insight.ladder import run_ladder

    base = load_settings()
    settings = replace(base, db=replace(base.db, url=async_database_url(url)))
    nightly: dict[str, float] = {}
    engine = create_engine(settings.db.url, null_pool=True)
    try:
        started = time.perf_counter()
        async with unit_of_work(session_factory(engine)) as session:
            await rollup.refresh(session, now=world.now, tz=TZ)
        nightly["rollup_s"] = time.perf_counter() - started
        started = time.perf_counter()
        async with unit_of_work(session_factory(engine)) as session:
            await run_ladder(session, now=world.now)
        nightly["ladder_s"] = time.perf_counter() - started
    finally:
        await engine.dispose()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")

    app = create_app(settings=settings)
    today = world.now.astimezone(TZ).date()
    rows = []
    async with AsyncTestClient(app=app, base_url="http://bench.local") as client:

        class Admin:
            id, username, role, customer_id = world.admin_id, "bench-admin", "admin", None

        # An engine of its own: the app's pool belongs to the test client's event loop.
        engine = create_engine(settings.db.url, null_pool=True)
        try:
            async with unit_of_work(session_factory(engine)) as session:
                token = await issue_token(session, app.state.jwt_auth, Admin(), timedelta(hours=2))
        finally:
            await engine.dispose()
        headers = {"Authorization": f"Bearer {token}"}

        async def timed(part: str, paths: list[str], *, target: bool) -> None:
            await client.get(paths[0], headers=headers)  # warm-up
            times = []
            for path in paths:
                started = time.perf_counter()
                response = await client.get(path, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
            p95 = percentile(times, 0.95)
            rows.append(
                Row(
                    part,
                    len(times),
                    statistics.median(times),
                    p95,
                    f"p95 <= {TARGET_MS:.0f} ms" if target else "-",
                    p95 <= TARGET_MS if target else None,
                )
            )

        managers = [world.managers[i % len(world.managers)] for i in range(requests)]
        api = "/api/v1/analytics"
        await timed("manager's dashboard", [f"{api}/managers/{m}/dashboard" for m in managers], target=True)
        await timed(
            "manager's dormant list", [f"{api}/customers?manager_id={m}&dormant=true&limit=500" for m in managers],
            target=True,
        )  # fmt: skip
        year = f"from={today - timedelta(days=364)}&to={today}"
        await timed("sales by manager per month, 12 months", [f"{api}/sales?group_by=manager&period=month&{year}"]
                    * requests, target=True)  # fmt: skip
        month = f"from={today - timedelta(days=30)}&to={today}"
        await timed("sales by customer per day, 31 days", [f"{api}/sales?group_by=customer&period=day&{month}"]
                    * max(5, requests // 4), target=False)  # fmt: skip
        await timed("every customer's dormant list (admin)", [f"{api}/customers?dormant=true&limit=500"]
                    * max(5, requests // 4), target=False)  # fmt: skip
    return rows, nightly


def commit_of() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def report(rows: list[Row], *, world: World, nightly: dict[str, float], seed_s: float, url: str, save: bool) -> None:
    cells = [r.cells() for r in rows]
    columns = list(cells[0])
    widths = {c: max(len(c), *(len(r[c]) for r in cells)) for c in columns}
    lines = [
        "| " + " | ".join(c.ljust(widths[c]) for c in columns) + " |",
        "| " + " | ".join("-" * widths[c] for c in columns) + " |",
        *("| " + " | ".join(r[c].ljust(widths[c]) for c in columns) + " |" for r in cells),
    ]
    facts = (
        f"{world.customers:,} customers, {world.orders:,} orders, {world.charges:,} charges over {DAYS} days; "
        f"{len(world.managers)} managers. Seeded in {seed_s:.0f} s; nightly rollup {nightly['rollup_s']:.1f} s, "
        f"ladder {nightly['ladder_s']:.1f} s. PostgreSQL {postgres_facts(url)}; "
        f"load average {os.getloadavg()[0]:.2f}; commit {commit_of()}."
    )
    print("\n".join(lines))
    print(facts)
    if not save:
        return
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    (RESULTS / "office.md").write_text(f"# bench-office ({stamp})\n\n{facts}\n\n" + "\n".join(lines) + "\n")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["date", "customers", "orders", *columns])
    writer.writeheader()
    for row in cells:
        writer.writerow({"date": stamp, "customers": world.customers, "orders": world.orders, **row})
    with open(RESULTS / "office.csv", "a", encoding="utf-8") as out:
        out.write(buffer.getvalue() if out.tell() == 0 else buffer.getvalue().split("\n", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=60, help="requests per measured part")
    parser.add_argument("--database", default="diesel_bench_office")
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument("--no-save", action="store_true", help="print only; keep benchmarks/results as they are")
    args = parser.parse_args()
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{args.database}"
    os.environ.setdefault("DIESEL_DATA_DIR", tempfile.mkdtemp(prefix="bench-office-"))
    os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 40)
    from api.migrate import upgrade

    recreate_database(ADMIN_URL, args.database)
    upgrade(url)
    started = time.perf_counter()
    world = seed(url, customers=args.customers, orders=args.orders, seed_=args.seed)
    seed_s = time.perf_counter() - started
    rows, nightly = asyncio.run(measure(url, world, requests=args.requests))
    report(rows, world=world, nightly=nightly, seed_s=seed_s, url=url, save=not args.no_save)


if __name__ == "__main__":
    main()
