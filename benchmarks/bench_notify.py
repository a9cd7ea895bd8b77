"""`make bench-notify`: the day's price to 20,000 customers, each with its own net price, by SMS.

1. (re)creates the PostgreSQL database `diesel_bench_notify` on 127.0.0.1:5432 (or a SQLite file with `--sqlite`),
   migrates it and seeds `--customers` accounts, each with one user (SMS on, in-app off), one site and one last
   order at the depot; every fourth has a contract discount and the accounts spread over the tier bands, so the
   net prices differ;
2. starts the local stand-in of Tencent Cloud SMS (tests/notify_fakes.py: it checks every request's TC3 signature
   and body) and a real Celery worker (`diesel worker`) pointed at it;
3. publishes a new list price (as `PUT /prices` does: one `prices_published` event) and runs the outbox pass as
   the worker's beat would (every second here) until every message has reached the fake provider;
4. reports the time to the last message, the outbox's throughput (messages handed to the provider per second, from
   the first to the last), and checks nothing was lost or doubled: one accepted request per customer at the
   provider, none refused, every notification `sent`. Writes benchmarks/results/notify.md.

Target (issue 26): >= 500 messages/s on this machine with the worker. `--customers 2000` for a quick run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET_PER_S = 500.0
PHONE_BASE = 8613900000000


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--database", default="diesel_bench_notify", help="PostgreSQL database (dropped first)")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (one per core: threads share a GIL)")
    parser.add_argument("--concurrency", type=int, default=2, help="threads per worker process")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--no-save", action="store_true", help="print only; write nothing under benchmarks/results")
    return parser.parse_args()


def prepare_environment(args: argparse.Namespace, data_dir: Path) -> str:
    """Before anything reads the settings: the database, the data folder (the embedded broker without Redis)."""
    os.environ["DIESEL_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("SECRET_KEY", "bench-notify-" + uuid.uuid4().hex + uuid.uuid4().hex)
    if args.sqlite:
        url = f"sqlite:///{data_dir / 'bench.db'}"
    else:
        from benchmarks.api.world import recreate_database

        recreate_database(ADMIN_URL, args.database)
        url = f"postgresql://postgres@127.0.0.1:5432/{args.database}"
    os.environ["DATABASE_URL"] = url
    return url


async def seed(url: str, customers: int) -> tuple[uuid.UUID, date]:
    """Accounts, users, settings, sites and last orders, written in bulk; returns the depot and tomorrow."""
    from sqlalchemy import insert

    from core.db import create_engine, session_factory, unit_of_work
    from core.ids import new_id
    from core.models import User
    from core.settings import async_database_url
    from notify.models import NotificationPreference
    from notify.templates import KINDS
    from orders.models import ContractPrice, CustomerAccount, Depot, Order, Price, Product, Site, depot_products

    now = datetime.now(UTC)
    today = now.date()
    depot_id = new_id()
    engine = create_engine(async_database_url(url), null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            session.add(Product(code="diesel-0", name="Diesel 0#", name_zh="0号柴油", density_kg_m3=835.0))
            session.add(
                Depot(
                    id=depot_id,
                    code="bench",
                    name="Bench Depot",
                    lat=31.3,
                    lon=121.5,
                    timezone="Asia/Shanghai",
                    opening_hours=[],
                    loading_bays=4,
                )
            )
            await session.flush()
            await session.execute(insert(depot_products), [{"depot_id": depot_id, "product_code": "diesel-0"}])
            session.add(
                Price(
                    depot_id=depot_id,
                    product_code="diesel-0",
                    valid_from=today,
                    price_per_litre_minor=780,
                    currency="CNY",
                )
            )
        for start in range(0, customers, 2000):
            accounts, users, prefs, sites, orders, contracts = [], [], [], [], [], []
            for n in range(start, min(start + 2000, customers)):
                customer, user, site = new_id(), new_id(), new_id()
                accounts.append(
                    {"id": customer, "name": f"基准物流 {n:05d}", "currency": "CNY", "created_at": now}
                    | {"tier": n % 5, "tier_day": today, "is_active": True}
                )
                users.append(
                    {"id": user, "username": f"bench-{n:05d}", "password_hash": "-", "role": "customer"}
                    | {"customer_id": customer, "is_active": True, "created_at": now}
                )
                prefs.append(
                    {"user_id": user, "sms": f"+{PHONE_BASE + n}", "web": False, "events": list(KINDS)}
                    | {"timezone": "Asia/Shanghai", "language": "zh-CN" if n % 3 else "en", "updated_at": now}
                )
                sites.append(
                    {"id": site, "customer_id": customer, "name": f"Yard {n}", "address": "-", "lat": 31.3}
                    | {"lon": 121.5, "timezone": "Asia/Shanghai", "tank_capacity_litres": 30_000}
                    | {"receiving_hours": [], "created_at": now}
                )
                window = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=1)
                orders.append(
                    {"id": new_id(), "reference": f"DO-B-{n:07d}", "customer_id": customer, "site_id": site}
                    | {"depot_id": depot_id, "product_code": "diesel-0", "quantity_litres": 5000 + 100 * (n % 50)}
                    | {"delivery_date": today, "timezone": "Asia/Shanghai", "window_start": window}
                    | {"window_end": window + timedelta(hours=3), "price_per_litre_minor": 780, "gross_minor": 0}
                    | {"tier": 0, "discount_bps": 0, "discount_minor": 0, "amount_minor": 0, "currency": "CNY"}
                    | {"status": "delivered", "created_at": now, "updated_at": now, "version": 1}
                )
                if n % 4 == 0:
                    contracts.append(
                        {"id": new_id(), "customer_id": customer, "product_code": "diesel-0", "depot_id": None}
                        | {"valid_from": today, "discount_per_litre_minor": 5 + n % 20, "created_at": now}
                    )
            async with unit_of_work(session_factory(engine)) as session:
                await session.execute(insert(CustomerAccount), accounts)
                await session.execute(insert(User), users)
                await session.execute(insert(NotificationPreference), prefs)
                await session.execute(insert(Site), sites)
                await session.execute(insert(Order), orders)
                if contracts:
                    await session.execute(insert(ContractPrice), contracts)
    finally:
        await engine.dispose()
    return depot_id, today + timedelta(days=1)


async def publish_price(url: str, depot_id: uuid.UUID, day: date) -> None:
    """As `PUT /prices` does (catalogue.set_prices records the `prices_published` event)."""
    from core.db import create_engine, session_factory, unit_of_work
    from core.settings import async_database_url
    from orders import schemas as s
    from orders.catalogue import set_prices

    engine = create_engine(async_database_url(url), null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            item = s.PriceIn(depot_id=depot_id, product_code="diesel-0", valid_from=day, price_per_litre_minor=795)
            await set_prices(session, prices=[item], currency="CNY", actor=None, now=datetime.now(UTC))
    finally:
        await engine.dispose()


def start_worker(concurrency: int) -> subprocess.Popen[bytes]:
    log = open(Path(os.environ["DIESEL_DATA_DIR"]) / "worker.log", "ab")  # noqa: SIM115 (kept open for the child)
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker", "--concurrency", str(concurrency), "--loglevel", "WARNING"],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    import signal

    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


async def count_by_status(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from core.db import create_engine, session_factory
    from core.settings import async_database_url
    from notify.models import Notification

    engine = create_engine(async_database_url(url), null_pool=True)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(select(Notification.status, func.count()).group_by(Notification.status))
            return {status: int(n) for status, n in rows.all()}
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace, url: str) -> dict[str, object]:
    from notify.config import load_notify_settings
    from notify.tasks import outbox_pass
    from tests.notify_fakes import ProviderServer, provider_env

    started = time.perf_counter()
    depot_id, tomorrow = await seed(url, args.customers)
    print(f"seeded {args.customers:,} customers in {time.perf_counter() - started:.1f} s", flush=True)
    with ProviderServer() as provider:
        os.environ.update(provider_env(None, provider))
        settings = load_notify_settings()
        workers = [start_worker(args.concurrency) for _ in range(args.workers)]
        try:
            await asyncio.sleep(3)  # the worker connects to the broker
            t0 = time.perf_counter()
            await publish_price(url, depot_id, tomorrow)
            first_pass: float | None = None
            created = 0
            while len(provider.state.sms) < args.customers and time.perf_counter() - t0 < args.timeout:
                result = await outbox_pass(settings=settings)
                created += result.created
                if first_pass is None and result.created:
                    first_pass = time.perf_counter() - t0
                    print(f"outbox: {created:,} notifications made and queued in {first_pass:.1f} s", flush=True)
                await asyncio.sleep(1.0)
            # Anything more would be a double: wait a moment for stragglers, then count.
            elapsed = time.perf_counter() - t0
            await asyncio.sleep(3)
        finally:
            for worker in workers:
                stop(worker)
        accepted = list(provider.state.sms)
        refused = dict(provider.state.refused)
        first_sms = provider.state.first_sms_at or t0
        last_at = provider.state.last_sms_at or time.perf_counter()
    statuses = await count_by_status(url)
    contexts = [m.session_context for m in accepted]
    sending_s = max(1e-9, last_at - first_sms)
    return {
        "customers": args.customers,
        "database": "SQLite" if args.sqlite else "PostgreSQL",
        "workers": f"{args.workers} processes x {args.concurrency} threads",
        "load average (1 min) at the end": os.getloadavg()[0],
        "fan-out s": first_pass or 0.0,
        "to last message s": last_at - t0 if accepted else elapsed,
        "sending s": sending_s,
        "messages/s (sending)": len(accepted) / sending_s,
        "messages/s (overall)": len(accepted) / max(1e-9, last_at - t0),
        "accepted": len(accepted),
        "distinct": len(set(contexts)),
        "distinct prices": len({tuple(m.params[2:]) for m in accepted}),
        "refused": refused,
        "statuses": statuses,
    }


def report(result: dict[str, object], *, save: bool = True) -> bool:
    customers = int(result["customers"])  # type: ignore[call-overload]
    lost_or_doubled = result["accepted"] != customers or result["distinct"] != customers
    met = not lost_or_doubled and float(result["messages/s (sending)"]) >= TARGET_PER_S  # type: ignore[arg-type]
    lines = [
        "# bench-notify: the day's price by SMS",
        "",
        f"{customers:,} customers ({result['database']}, workers: {result['workers']}), each with its own "
        "net price, to the local Tencent Cloud SMS stand-in (signature and body checked on every request).",
        "",
        "| measure | value |",
        "| --- | --- |",
    ]
    for key, value in result.items():
        shown = f"{value:,.1f}" if isinstance(value, float) else str(value)
        lines.append(f"| {key} | {shown} |")
    verdict = "met" if met else "MISSED"
    lines += ["", f"Target >= {TARGET_PER_S:.0f} messages/s, nothing lost or doubled: **{verdict}**", ""]
    text = "\n".join(lines)
    print(text)
    if not save:
        return met
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if customers >= 20_000 else f"-{customers}"
    (RESULTS / f"notify{suffix}.md").write_text(text)
    return met


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped benchmark still stops its worker
    args = parse()
    with tempfile.TemporaryDirectory(prefix="bench-notify-") as tmp:
        url = prepare_environment(args, Path(tmp))
        from api.migrate import upgrade
        from core.settings import async_database_url

        upgrade(async_database_url(url))
        result = asyncio.run(run(args, url))
    if not args.sqlite:
        from benchmarks.api.world import drop_database

        drop_database(ADMIN_URL, args.database)
    sys.exit(0 if report(result, save=not args.no_save) else 1)


if __name__ == "__main__":
    main()
